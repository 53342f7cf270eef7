"""The documented test people of the mock provincial identity platform (省统一身份认证平台).

Every identifier is valid by govlink's own domain rules (GB 11643 resident ID numbers, GB 32100
unified social credit codes): they are built with the check-character functions of
:mod:`govlink.domain` and parsed with :class:`~govlink.domain.ResidentId` /
:class:`~govlink.domain.CreditCode`, so a hall that validates what it receives accepts them.
They are invented: birth dates and sequence numbers belong to no one.

==========  ======  ===========  ==========================================================
handle      level   kind         who
==========  ======  ===========  ==========================================================
zhang-l2    2       个人 person   张三, self-declared account (自注册)
li-l3       3       个人 person   李四, name + ID number checked against the population database
wang-l4     4       个人 person   王五, face check (实人认证)
zhao-l5     5       个人 person   赵六, digital certificate / counter check
corp-l3     3       法人 legal    东营示例科技有限公司, through its agent 李四
corp-l5     5       法人 legal    东营示范物流有限公司, through its agent 赵六 (e-licence)
==========  ======  ===========  ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from .._errors import ValidationError
from ..domain import (
    CreditCode,
    ResidentId,
    credit_code_check_character,
    mask_personal,
    organisation_code_check_character,
    resident_id_check_character,
)

__all__ = ["TEST_PEOPLE", "TestPeople", "TestPerson"]

TRUST_LEVELS: Final = {
    2: "自注册 self-declared",
    3: "实名核验 name and ID number checked",
    4: "实人认证 real person (face check)",
    5: "数字证书/柜台核验 certificate or counter check",
}


def _resident_id(region: str, birth: str, sequence: str) -> ResidentId:
    first17 = region + birth + sequence
    return ResidentId(first17 + resident_id_check_character(first17))


def _credit_code(region: str, body8: str) -> CreditCode:
    # 9 = registered by the market regulator, 1 = enterprise; then region and organisation code.
    first17 = "91" + region + body8 + organisation_code_check_character(body8)
    return CreditCode(first17 + credit_code_check_character(first17))


@dataclass(frozen=True, slots=True)
class TestPerson:
    """One test account of the provincial platform.

    ``handle``: what the sign-in page and the Python API call the account. ``user_id``: the
    platform's own user id (the ticket's ``sub``). ``id_number``: the natural person's, or for
    a legal person the agent's (经办人) resident ID number. ``trust_level``: 2–5
    (domain reference §7),
    carried as the ticket's ``acr``.
    """

    __test__ = False  # not a pytest test class, whatever its name says

    handle: str
    user_id: str
    kind: Literal["person", "legal"]
    name: str
    id_number: ResidentId
    trust_level: int
    credit_code: CreditCode | None = None
    org_name: str = ""

    @property
    def user_type(self) -> str:
        """The platform's user type: ``"1"`` 个人, ``"2"`` 法人."""
        return "1" if self.kind == "person" else "2"

    @property
    def label(self) -> str:
        """How the sign-in page shows the account."""
        who = self.org_name if self.kind == "legal" else self.name
        agent = f" (经办人 {self.name})" if self.kind == "legal" else ""
        return f"{who}{agent} · L{self.trust_level} {TRUST_LEVELS[self.trust_level]}"

    def ticket_claims(self) -> dict[str, Any]:
        """The identity claims a ticket carries (masked: a ticket travels through browsers)."""
        claims: dict[str, Any] = {
            "sub": self.user_id,
            "acr": str(self.trust_level),
            "user_type": self.user_type,
            "masked_id": self.id_number.masked,
            "name_masked": mask_personal(self.name, keep_start=1, keep_end=0),
        }
        if self.credit_code is not None:
            # A credit code is public registration data (国家企业信用信息公示系统).
            claims["credit_code"] = str.__str__(self.credit_code)
            claims["org_name"] = self.org_name
        return claims

    def user_info(self) -> dict[str, Any]:
        """What the ticket → user-info call returns to a registered hall (full identifiers:
        the hall is entitled to them and reaches the platform server to server)."""
        info: dict[str, Any] = {
            "user_id": self.user_id,
            "user_type": self.user_type,
            "name": self.name,
            "id_type": "身份证",
            "id_number": str.__str__(self.id_number),
            "trust_level": self.trust_level,
        }
        if self.credit_code is not None:
            info["credit_code"] = str.__str__(self.credit_code)
            info["org_name"] = self.org_name
            info["agent"] = {"name": self.name, "id_number": str.__str__(self.id_number)}
        return info

    def __repr__(self) -> str:
        return f"TestPerson({self.handle!r}, L{self.trust_level}, {self.id_number.masked})"


def _default_people() -> tuple[TestPerson, ...]:
    li = _resident_id("370502", "19850315", "021")
    zhao = _resident_id("370503", "19720808", "034")
    return (
        TestPerson("zhang-l2", "sd10000001", "person", "张三",
                   _resident_id("370502", "19900101", "001"), 2),
        TestPerson("li-l3", "sd10000002", "person", "李四", li, 3),
        TestPerson("wang-l4", "sd10000003", "person", "王五",
                   _resident_id("370522", "20010620", "042"), 4),
        TestPerson("zhao-l5", "sd10000004", "person", "赵六", zhao, 5),
        TestPerson("corp-l3", "sd20000001", "legal", "李四", li, 3,
                   _credit_code("370502", "MA3C4F5G"), "东营示例科技有限公司"),
        TestPerson("corp-l5", "sd20000002", "legal", "赵六", zhao, 5,
                   _credit_code("370503", "MA7D8E9K"), "东营示范物流有限公司"),
    )  # fmt: skip


class TestPeople(Mapping[str, TestPerson]):
    """The accounts a platform signs in, by handle (the order is the sign-in page's)."""

    __test__ = False

    def __init__(self, people: Iterable[TestPerson]) -> None:
        self._people: dict[str, TestPerson] = {}
        for person in people:
            if person.handle in self._people:
                raise ValidationError(
                    f"test person {person.handle!r} appears twice", field="people", rule="unique"
                )
            if person.trust_level not in TRUST_LEVELS:
                raise ValidationError(
                    f"trust level {person.trust_level} is not 2–5",
                    field=f"people.{person.handle}.trust_level",
                    rule="trust_level",
                )
            self._people[person.handle] = person

    def __getitem__(self, handle: str) -> TestPerson:
        return self._people[handle]

    def __iter__(self) -> Iterator[str]:
        return iter(self._people)

    def __len__(self) -> int:
        return len(self._people)

    def get_person(self, handle: str) -> TestPerson:
        """The account called ``handle``.

        Raises:
            ValidationError: rule ``known_person`` on field ``person``.
        """
        person = self._people.get(handle)
        if person is None:
            raise ValidationError(
                f"no test person {handle[:40]!r} (known: {', '.join(self._people)})",
                field="person",
                rule="known_person",
            )
        return person

    def __repr__(self) -> str:
        return f"TestPeople({list(self._people)})"


#: The default test accounts (see the module docstring's table).
TEST_PEOPLE: Final = TestPeople(_default_people())
