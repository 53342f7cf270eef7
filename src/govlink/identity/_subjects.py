"""Who signs in: natural persons (个人), legal persons (法人, via an agent) and staff (工作人员).

A subject turns into claims without ever putting an unmasked ID number in a token: persons carry
``masked_id`` (``3705**********123X``); a legal person's unified social credit code is public
registration data and is carried as is. ``sub`` is derived with a keyed hash so it is stable for
the same person across sign-ins and reveals nothing about the ID number.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from ..domain import CreditCode, ResidentId, mask_personal

__all__ = [
    "ACR_LEVELS",
    "LegalPersonSubject",
    "PersonSubject",
    "StaffSubject",
    "Subject",
    "subject_identifier",
]

#: Trust levels of the provincial platform (domain reference §7), as ``acr`` values.
ACR_LEVELS: Final = {
    "2": "self-declared",
    "3": "name and ID number checked against the population / legal-person database",
    "4": "real person, real name, real certificate (face check)",
    "5": "digital certificate or counter check",
}

SubjectType = Literal["person", "legal", "staff"]


def subject_identifier(secret: bytes, kind: str, value: str) -> str:
    """A stable, opaque ``sub``: keyed hash of the subject's natural identifier."""
    digest = hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).digest()[:20]
    return f"{kind[0]}-" + base64.b32encode(digest).decode().rstrip("=").lower()


@dataclass(frozen=True, slots=True)
class PersonSubject:
    """A natural person (自然人) identified by a resident ID number."""

    id_number: ResidentId
    name: str = field(default="", repr=False)
    kind: SubjectType = "person"

    def natural_id(self) -> str:
        """The ID number (what ``sub`` is derived from; never put in a token)."""
        return str.__str__(self.id_number)

    def claims(self) -> dict[str, Any]:
        """Token claims: subject type and the masked ID number (and masked name)."""
        data: dict[str, Any] = {"subject_type": "person", "masked_id": self.id_number.masked}
        if self.name:
            data["name_masked"] = mask_personal(self.name, keep_start=1, keep_end=0)
        return data

    def __repr__(self) -> str:
        return f"PersonSubject({self.id_number.masked})"


@dataclass(frozen=True, slots=True)
class LegalPersonSubject:
    """A legal person (法人) acting through an agent who is a natural person."""

    credit_code: CreditCode
    agent: PersonSubject
    name: str = ""
    kind: SubjectType = "legal"

    def natural_id(self) -> str:
        """The credit code (what ``sub`` is derived from)."""
        return str.__str__(self.credit_code)

    def claims(self) -> dict[str, Any]:
        """Token claims: subject type, credit code, the agent's masked ID number."""
        data: dict[str, Any] = {
            "subject_type": "legal",
            "credit_code": str.__str__(self.credit_code),
            "agent": {"masked_id": self.agent.id_number.masked},
        }
        if self.name:
            data["org_name"] = self.name
        return data


@dataclass(frozen=True, slots=True)
class StaffSubject:
    """A member of staff (工作人员) of a department at a hall, with roles."""

    staff_id: str
    department: str
    hall: str
    roles: tuple[str, ...] = ()
    kind: SubjectType = "staff"

    def natural_id(self) -> str:
        """The staff id (what ``sub`` is derived from)."""
        return self.staff_id

    def claims(self) -> dict[str, Any]:
        """Token claims: subject type, department, hall, roles."""
        return {
            "subject_type": "staff",
            "department": self.department,
            "hall": self.hall,
            "roles": list(self.roles),
        }


Subject = PersonSubject | LegalPersonSubject | StaffSubject
