"""Catalog items (事项目录 / 实施清单): the fields a provincial platform exchanges, the audit's
consistency rules, and a content hash for incremental sync.

Three layers of checking, from hard to soft:

1. **Structure** (pydantic, always): types, required fields, lengths, code alphabets, valid
   credit codes, a time limit "on the spot" having no amount. Failing input never becomes an
   :class:`Item`; :func:`parse_item` raises :class:`govlink.ValidationError`.
2. **Consistency errors** (:meth:`Item.findings`, severity ``error``): fields that contradict
   each other, so at least one of them is wrong and the provincial audit rejects the item.
   :func:`parse_item` raises :class:`govlink.ConsistencyError` for them unless ``check=False``.
3. **Consistency warnings** (severity ``warning``): data that is incomplete or does not follow a
   *probable* convention. Real catalogs are known to be dirty here (missing reasons, missing
   fee basis, local code schemes), so these never block parsing or sync; operators see them in
   reports and the demo. ``warnings_as_errors=True`` makes them block.

================================= ======== ================================================
rule                              severity why
================================= ======== ================================================
``on_the_spot_is_immediate_kind`` error    promised on the spot ⇔ case kind 即办件 (audit)
``promised_le_legal``             error    promised ≤ legal limit in the same unit (audit)
``depth4_no_visits``              error    online depth Ⅳ (全程网办) ⇒ no on-site visit (audit)
``cancel_after_effective``        error    a cancel date before the effective date
``visits_need_reason``            warning  visits > 0 ⇒ a reason (audit; often blank)
``fee_needs_basis``               warning  charged ⇒ fee basis (audit; often blank)
``depth4_online_form``            warning  depth Ⅳ but online is no handling form
``implementation_code_prefix``    warning  first 18 chars ≠ the department's credit code
``catalog_code_length``           warning  basic code not 12 characters [P]
``handling_item_code_prefix``     warning  not implementation code + suffix [U]
``legal_basis_missing``           warning  an administrative power with no legal basis
``cancelled_needs_date``          warning  state cancelled, no cancel date
``cancel_date_in_force``          warning  a cancel date on an item not cancelled
``region_unknown``                warning  region not in the registry (when one is given)
================================= ======== ================================================

Code tables (item types, case kinds, exercise levels, online depth) carry the default codes of
domain reference §4 in ``.code``; provinces renumber them, so adapters map codes, and the domain
values
are English names.

One cohesive concept, hence one module despite its length: the catalog item (事项) with its fields
and audit rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Final, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)
from pydantic import model_validator as _model_validator
from pydantic_core import PydanticCustomError

from .._errors import ConsistencyError
from ._identifiers import CreditCode
from ._regions import RegionCode, RegionRegistry
from ._validation import Finding, IsoDate, Severity, _strict_int_enum, parse_model

__all__ = [
    "CaseKind",
    "CatalogChange",
    "Department",
    "ExerciseLevel",
    "Fee",
    "HandlingForm",
    "Item",
    "ItemState",
    "ItemType",
    "Material",
    "MaterialForm",
    "OnlineDepth",
    "SpecialProcedure",
    "SpecialProcedureKind",
    "TimeLimit",
    "TimeUnit",
    "check_item",
    "classify_change",
    "parse_item",
]

_CODE_PATTERN: Final = r"^[0-9A-Z][0-9A-Z-]*$"


class ItemType(StrEnum):
    """Item type (事项类型) with the default codes 01–10 and 20 and letter abbreviations [P]."""

    LICENSING = "licensing"  # 01 行政许可 XK
    PUNISHMENT = "punishment"  # 02 行政处罚 CF
    COERCION = "coercion"  # 03 行政强制 QZ
    LEVY = "levy"  # 04 行政征收 ZS
    BENEFIT_PAYMENT = "benefit_payment"  # 05 行政给付 GF
    INSPECTION = "inspection"  # 06 行政检查 JC
    CONFIRMATION = "confirmation"  # 07 行政确认 QR
    REWARD = "reward"  # 08 行政奖励 JL
    ADJUDICATION = "adjudication"  # 09 行政裁决 CJ
    OTHER_POWER = "other_power"  # 10 其他行政权力 QT
    PUBLIC_SERVICE = "public_service"  # 20 公共服务 GG

    @property
    def code(self) -> str:
        """The two-digit default code (``"01"`` … ``"10"``, ``"20"``)."""
        return _ITEM_TYPE_TABLE[self][0]

    @property
    def label(self) -> str:
        """The Chinese name (行政许可 …)."""
        return _ITEM_TYPE_TABLE[self][1]

    @property
    def abbreviation(self) -> str:
        """Pinyin initials used in local codes (``XK`` 行政许可, ``CF`` 行政处罚 …) [P]."""
        return _ITEM_TYPE_TABLE[self][2]

    @property
    def is_administrative_power(self) -> bool:
        """Every type but public service is an administrative power (needs a legal basis)."""
        return self is not ItemType.PUBLIC_SERVICE

    @classmethod
    def from_code(cls, code: str) -> ItemType:
        """The type for a default code (``"01"`` → LICENSING).

        Raises:
            KeyError: unknown code (adapters turn this into their own wire error).
        """
        return _ITEM_TYPE_BY_CODE[code]


_ITEM_TYPE_TABLE: Final[dict[ItemType, tuple[str, str, str]]] = {
    ItemType.LICENSING: ("01", "行政许可", "XK"),
    ItemType.PUNISHMENT: ("02", "行政处罚", "CF"),
    ItemType.COERCION: ("03", "行政强制", "QZ"),
    ItemType.LEVY: ("04", "行政征收", "ZS"),
    ItemType.BENEFIT_PAYMENT: ("05", "行政给付", "GF"),
    ItemType.INSPECTION: ("06", "行政检查", "JC"),
    ItemType.CONFIRMATION: ("07", "行政确认", "QR"),
    ItemType.REWARD: ("08", "行政奖励", "JL"),
    ItemType.ADJUDICATION: ("09", "行政裁决", "CJ"),
    ItemType.OTHER_POWER: ("10", "其他行政权力", "QT"),
    ItemType.PUBLIC_SERVICE: ("20", "公共服务", "GG"),
}
_ITEM_TYPE_BY_CODE: Final = {v[0]: k for k, v in _ITEM_TYPE_TABLE.items()}


class ItemState(StrEnum):
    """Where an item stands in the catalog.

    Adjusted (调整) is deliberately *not* a state: an adjusted item is in force with a new
    version; :func:`classify_change` names that change :attr:`CatalogChange.ADJUSTED`.
    """

    IN_FORCE = "in_force"  # 在用
    SUSPENDED = "suspended"  # 暂停
    CANCELLED = "cancelled"  # 取消
    DELEGATED_DOWN = "delegated_down"  # 下放 (now exercised by a lower level)
    ACCEPTED_FROM_PROVINCE = "accepted_from_province"  # 承接 (exercised here, was provincial)

    @property
    def label(self) -> str:
        return {
            "in_force": "在用",
            "suspended": "暂停",
            "cancelled": "取消",
            "delegated_down": "下放",
            "accepted_from_province": "承接",
        }[self.value]

    @property
    def is_active(self) -> bool:
        """Whether applications are accepted here (in force or accepted from the province)."""
        return self in (ItemState.IN_FORCE, ItemState.ACCEPTED_FROM_PROVINCE)


class CatalogChange(StrEnum):
    """The kind of a catalog change, as reported upward (see :func:`classify_change`)."""

    ADDED = "added"  # 新增
    ADJUSTED = "adjusted"  # 调整
    SUSPENDED = "suspended"  # 暂停
    CANCELLED = "cancelled"  # 取消
    DELEGATED_DOWN = "delegated_down"  # 下放
    ACCEPTED_FROM_PROVINCE = "accepted_from_province"  # 承接
    RESTORED = "restored"  # back in force after suspension


class TimeUnit(StrEnum):
    """Unit of a time limit. §82 of the Licensing Law counts in working days."""

    WORKING_DAYS = "working_days"  # 工作日
    NATURAL_DAYS = "natural_days"  # 自然日
    ON_THE_SPOT = "on_the_spot"  # 即办 (same visit, no amount)


class CaseKind(StrEnum):
    """Case kind (办件类型), default codes 1 and 2 [P]."""

    IMMEDIATE = "immediate"  # 1 即办件: handled on the spot
    PROMISED = "promised"  # 2 承诺件: handled within a promised limit

    @property
    def code(self) -> str:
        return "1" if self is CaseKind.IMMEDIATE else "2"

    @property
    def label(self) -> str:
        return "即办件" if self is CaseKind.IMMEDIATE else "承诺件"


class ExerciseLevel(StrEnum):
    """Level at which an item is exercised (行使层级), default codes 1–6 [U numbering]."""

    NATIONAL = "national"  # 1 国家级
    PROVINCIAL = "provincial"  # 2 省级
    CITY = "city"  # 3 市级
    COUNTY = "county"  # 4 县级
    TOWNSHIP = "township"  # 5 镇（乡、街道）级
    VILLAGE = "village"  # 6 村（社区）级

    @property
    def code(self) -> str:
        return str(list(ExerciseLevel).index(self) + 1)


class HandlingForm(StrEnum):
    """How an applicant may hand in a case (办理形式)."""

    WINDOW = "window"  # 窗口办理
    ONLINE = "online"  # 网上办理
    POST = "post"  # 快递申请


class OnlineDepth(IntEnum):
    """Online handling depth (网上办理深度) Ⅰ–Ⅳ."""

    INFORMATION = 1  # Ⅰ 网上咨询、办事指南
    DOWNLOAD = 2  # Ⅱ 表格下载
    ONLINE_APPLICATION = 3  # Ⅲ 网上预审、申报
    FULLY_ONLINE = 4  # Ⅳ 全程网办

    @property
    def roman(self) -> str:
        return "ⅠⅡⅢⅣ"[self.value - 1]


class SpecialProcedureKind(StrEnum):
    """Special procedures (特别程序) whose time does not count (Licensing Law §45)."""

    HEARING = "hearing"  # 听证
    TENDER = "tender"  # 招标
    AUCTION = "auction"  # 拍卖
    INSPECTION = "inspection"  # 检验
    TESTING = "testing"  # 检测
    QUARANTINE = "quarantine"  # 检疫
    APPRAISAL = "appraisal"  # 鉴定
    EXPERT_REVIEW = "expert_review"  # 专家评审
    ON_SITE_SURVEY = "on_site_survey"  # 现场勘查 (local practice)
    OTHER = "other"  # 其他


class MaterialForm(StrEnum):
    """The form a required material takes (材料形式)."""

    PAPER = "paper"  # 纸质
    ELECTRONIC = "electronic"  # 电子
    PAPER_OR_ELECTRONIC = "paper_or_electronic"  # 纸质或电子


# --- models ---------------------------------------------------------------------------------

_MODEL_CONFIG: Final = ConfigDict(
    frozen=True,
    extra="forbid",
    str_strip_whitespace=True,
    hide_input_in_errors=True,
    use_attribute_docstrings=True,
)

# Strict: text fields take text only (pydantic's lax mode would decode bytes into them).
_Name = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
_Text = Annotated[str, Field(strict=True, min_length=1, max_length=4000)]


class _Model(BaseModel):
    model_config = _MODEL_CONFIG


class TimeLimit(_Model):
    """A time limit (时限): an amount and a unit, or "on the spot" (即办) with no amount."""

    amount: Annotated[StrictInt, Field(ge=0, le=3650)] = 0
    """Number of days (0 for on the spot)."""
    unit: TimeUnit
    """Working days, natural days or on the spot."""

    @_model_validator(mode="after")
    def _amount_fits_unit(self) -> Self:
        if self.unit is TimeUnit.ON_THE_SPOT and self.amount != 0:
            raise PydanticCustomError("on_the_spot_amount", "an on-the-spot limit has no amount")
        if self.unit is not TimeUnit.ON_THE_SPOT and self.amount == 0:
            raise PydanticCustomError(
                "zero_days", "a limit in days must be at least 1 (use unit on_the_spot for 即办)"
            )
        return self

    @classmethod
    def working_days(cls, amount: int) -> TimeLimit:
        """``amount`` working days (工作日).

        Raises:
            ValidationError: ``amount`` is not an int 1–3650 (field ``amount``, rules
                ``zero_days``, ``range``, ``type``).
        """
        return parse_model(cls, {"amount": amount, "unit": TimeUnit.WORKING_DAYS})

    @classmethod
    def natural_days(cls, amount: int) -> TimeLimit:
        """``amount`` natural days (自然日).

        Raises:
            ValidationError: as :meth:`working_days`.
        """
        return parse_model(cls, {"amount": amount, "unit": TimeUnit.NATURAL_DAYS})

    @classmethod
    def on_the_spot(cls) -> TimeLimit:
        """Handled on the spot (即办)."""
        return cls(unit=TimeUnit.ON_THE_SPOT)

    @property
    def is_on_the_spot(self) -> bool:
        return self.unit is TimeUnit.ON_THE_SPOT

    def __str__(self) -> str:
        if self.is_on_the_spot:
            return "on the spot (即办)"
        unit = "working" if self.unit is TimeUnit.WORKING_DAYS else "natural"
        return f"{self.amount} {unit} day{'s' if self.amount != 1 else ''}"


class Department(_Model):
    """A department (部门): the implementing body of an item, or the body it entrusts."""

    credit_code: CreditCode
    """Unified social credit code (统一社会信用代码)."""
    name: _Name
    """Full Chinese name, e.g. 东营市市场监督管理局."""


class Fee(_Model):
    """Whether the item is charged for (是否收费), and on what basis."""

    charged: StrictBool = False
    basis: _Text | None = None
    """Fee basis (收费依据): the document that sets the fee."""
    standard: _Text | None = None
    """Fee standard (收费标准), free text as published."""


class SpecialProcedure(_Model):
    """A special procedure (特别程序) the item may need; its time does not count."""

    kind: SpecialProcedureKind
    name: _Name | None = None
    """Local name when ``kind`` is ``other`` or more specific than the kind."""
    limit: TimeLimit | None = None
    """The limit on the special procedure itself, when one is set."""


class Material(_Model):
    """One application material (申请材料)."""

    name: _Name
    required: StrictBool = True
    """Whether the material is mandatory (必要性)."""
    form: MaterialForm = MaterialForm.PAPER_OR_ELECTRONIC
    copies: Annotated[StrictInt, Field(ge=0, le=100)] = 1
    """Number of paper copies (纸质份数)."""
    source: _Name | None = None
    """Where the applicant gets it (来源渠道), e.g. 申请人自备 or the issuing department."""
    note: _Text | None = None


class Item(_Model):
    """One catalog item (事项) as exchanged with the provincial platform.

    Build it with :func:`parse_item` (govlink errors, consistency checked); the constructor and
    ``model_validate`` check structure only. Instances are immutable and hashable by content
    (:meth:`content_hash`).
    """

    catalog_code: Annotated[
        str, Field(strict=True, min_length=1, max_length=36, pattern=_CODE_PATTERN)
    ]
    """Basic code (基本编码), usually 12 characters [P]."""
    implementation_code: Annotated[
        str, Field(strict=True, min_length=1, max_length=36, pattern=_CODE_PATTERN)
    ]
    """Implementation code (实施编码): usually the implementing body's credit code + 13 [P]."""
    handling_item_code: (
        Annotated[str, Field(strict=True, min_length=1, max_length=64, pattern=_CODE_PATTERN)]
        | None
    ) = None
    """Handling item code (业务办理项编码): implementation code + a suffix [U]."""
    name: _Name
    """Item name (事项名称)."""
    item_type: ItemType
    """Item type (事项类型)."""
    department: Department
    """Implementing department (实施主体)."""
    entrusted_department: Department | None = None
    """Entrusted department (受委托部门), when the power is exercised by entrustment."""
    region_code: RegionCode
    """Region (行政区划) of the implementing body, 6 digits."""
    exercise_levels: Annotated[tuple[ExerciseLevel, ...], Field(min_length=1)]
    """Exercise levels (行使层级), multi-valued; stored sorted, without duplicates."""
    legal_limit: TimeLimit | None = None
    """Legal time limit (法定时限); none when the law sets none."""
    promised_limit: TimeLimit
    """Promised time limit (承诺时限)."""
    case_kind: CaseKind
    """Case kind (办件类型): 即办件 or 承诺件."""
    on_site_visits: Annotated[StrictInt, Field(ge=0, le=20)] = 0
    """On-site visits required (到办事现场次数)."""
    visits_reason: _Text | None = None
    """Why the applicant must come (必须现场办理原因); required when visits > 0."""
    handling_forms: Annotated[tuple[HandlingForm, ...], Field(min_length=1)]
    """Handling forms (办理形式); stored sorted, without duplicates."""
    online_depth: Annotated[OnlineDepth, BeforeValidator(_strict_int_enum)]
    """Online handling depth (网上办理深度) Ⅰ–Ⅳ."""
    unified_login: StrictBool = False
    """Whether the online channel uses unified identity authentication (统一身份认证)."""
    fee: Fee = Field(default_factory=Fee)
    """Charging (是否收费) and its basis."""
    special_procedures: tuple[SpecialProcedure, ...] = ()
    """Special procedures (特别程序) the item may need."""
    accept_conditions: _Text | None = None
    """Accept conditions (受理条件)."""
    materials: tuple[Material, ...] = ()
    """Application materials (申请材料), in the order shown to applicants."""
    legal_basis: _Text | None = None
    """Legal basis (设定依据)."""
    state: ItemState = ItemState.IN_FORCE
    """Catalog state (事项状态)."""
    version: Annotated[StrictInt, Field(ge=1)] = 1
    """Version (版本号), increased with every adjustment."""
    effective_date: IsoDate | None = None
    """Effective date (生效日期)."""
    cancel_date: IsoDate | None = None
    """Cancel date (取消日期)."""

    @field_validator("exercise_levels", "handling_forms", mode="after")
    @classmethod
    def _no_duplicates(cls, values: tuple[Any, ...]) -> tuple[Any, ...]:
        # Multi-valued fields are sets on the wire: stored sorted so the content hash does not
        # depend on the order a platform happened to list them in.
        if len(set(values)) != len(values):
            raise PydanticCustomError("duplicate", "a value is listed twice")
        return tuple(sorted(values, key=lambda v: v.value))

    @property
    def key(self) -> str:
        """The item's identity across versions: its implementation code."""
        return self.implementation_code

    @property
    def limit_reduction(self) -> float | None:
        """How much shorter the promised limit is than the legal one (0.5 = 50% shorter).

        On the spot against a limit in days counts as 1.0; ``None`` when there is no legal
        limit or the units differ.
        """
        legal, promised = self.legal_limit, self.promised_limit
        if legal is None or legal.is_on_the_spot:
            return None
        if promised.is_on_the_spot:
            return 1.0
        if promised.unit is not legal.unit:
            return None
        return 1.0 - promised.amount / legal.amount

    def findings(self, *, regions: RegionRegistry | None = None) -> list[Finding]:
        """Every consistency finding (errors first, then warnings; stable order).

        ``regions``: also check the region against this registry (rule ``region_unknown``).
        """
        found = list(_consistency(self, regions))
        return sorted(found, key=lambda f: (f.severity is not Severity.ERROR, f.rule, f.field))

    def wire_dict(self) -> dict[str, Any]:
        """The item as JSON-ready data (enums by value, dates ISO, ``None`` fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)

    def canonical_json(self) -> bytes:
        """Canonical JSON of :meth:`wire_dict`: sorted keys, no whitespace, UTF-8."""
        return json.dumps(
            self.wire_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    def content_hash(self) -> str:
        """SHA-256 (hex) over :meth:`canonical_json`: equal for equal content, in any process.

        Every field is wire-relevant and hashed; ``None`` fields are left out so that adding an
        optional field to a later govlink does not change the hash of items that lack it.
        Multi-valued set fields are sorted; materials keep their order (it is shown to people).
        """
        return hashlib.sha256(self.canonical_json()).hexdigest()


# --- consistency ----------------------------------------------------------------------------


def _err(rule: str, field: str, message: str) -> Finding:
    return Finding(Severity.ERROR, rule, field, message)


def _warn(rule: str, field: str, message: str) -> Finding:
    return Finding(Severity.WARNING, rule, field, message)


def _consistency(item: Item, regions: RegionRegistry | None) -> Iterable[Finding]:
    promised, legal = item.promised_limit, item.legal_limit
    if promised.is_on_the_spot != (item.case_kind is CaseKind.IMMEDIATE):
        yield _err(
            "on_the_spot_is_immediate_kind",
            "case_kind",
            f"promised limit is {promised} but case kind is {item.case_kind.label}; "
            "on the spot and 即办件 go together",
        )
    if legal is not None:
        if legal.is_on_the_spot and not promised.is_on_the_spot:
            yield _err(
                "promised_le_legal",
                "promised_limit",
                f"legal limit is on the spot, promised is {promised}",
            )
        elif (
            not promised.is_on_the_spot
            and promised.unit is legal.unit
            and promised.amount > legal.amount
        ):
            yield _err(
                "promised_le_legal",
                "promised_limit",
                f"promised {promised} exceeds legal {legal}",
            )
    if item.online_depth is OnlineDepth.FULLY_ONLINE:
        if item.on_site_visits != 0:
            yield _err(
                "depth4_no_visits",
                "on_site_visits",
                f"depth Ⅳ (fully online) but {item.on_site_visits} on-site visit(s)",
            )
        if HandlingForm.ONLINE not in item.handling_forms:
            yield _warn(
                "depth4_online_form", "handling_forms", "depth Ⅳ but online is no handling form"
            )
    if (
        item.effective_date is not None
        and item.cancel_date is not None
        and item.cancel_date < item.effective_date
    ):
        yield _err(
            "cancel_after_effective",
            "cancel_date",
            f"cancel date {item.cancel_date} is before effective date {item.effective_date}",
        )
    if item.on_site_visits > 0 and not item.visits_reason:
        yield _warn(
            "visits_need_reason",
            "visits_reason",
            f"{item.on_site_visits} on-site visit(s) without a reason",
        )
    if item.fee.charged and not item.fee.basis:
        yield _warn("fee_needs_basis", "fee.basis", "charged without a fee basis")
    prefix = item.implementation_code[:18]
    if prefix != str(item.department.credit_code):
        yield _warn(
            "implementation_code_prefix",
            "implementation_code",
            "the first 18 characters are not the implementing department's credit code",
        )
    if len(item.catalog_code) != 12:
        yield _warn(
            "catalog_code_length",
            "catalog_code",
            f"basic code has {len(item.catalog_code)} characters, usually 12",
        )
    if item.handling_item_code is not None and not (
        item.handling_item_code.startswith(item.implementation_code)
        and len(item.handling_item_code) > len(item.implementation_code)
    ):
        yield _warn(
            "handling_item_code_prefix",
            "handling_item_code",
            "handling item code is not the implementation code plus a suffix",
        )
    if item.item_type.is_administrative_power and not item.legal_basis:
        yield _warn(
            "legal_basis_missing",
            "legal_basis",
            f"{item.item_type.label} is an administrative power but has no legal basis",
        )
    if item.state is ItemState.CANCELLED and item.cancel_date is None:
        yield _warn("cancelled_needs_date", "cancel_date", "cancelled without a cancel date")
    if item.state is not ItemState.CANCELLED and item.cancel_date is not None:
        yield _warn(
            "cancel_date_in_force",
            "cancel_date",
            f"cancel date set but state is {item.state.value}",
        )
    if regions is not None and item.region_code not in regions:
        yield _warn(
            "region_unknown", "region_code", f"region {item.region_code} is not in the registry"
        )


def check_item(
    item: Item,
    *,
    regions: RegionRegistry | None = None,
    warnings_as_errors: bool = False,
    root: str = "",
) -> list[Finding]:
    """Check ``item``'s consistency; return the warnings, raise on errors.

    Raises:
        ConsistencyError: one problem per error finding (and per warning when
            ``warnings_as_errors``), field paths prefixed with ``root``.
    """
    found = item.findings(regions=regions)
    blocking = [f for f in found if f.severity is Severity.ERROR or warnings_as_errors]
    if blocking:
        prefix = f"{root}." if root else ""
        raise ConsistencyError(
            problems=[
                Finding(f.severity, f.rule, prefix + f.field, f.message).to_problem()
                for f in blocking
            ]
        )
    return found


def parse_item(
    data: Mapping[str, Any] | object,
    *,
    check: bool = True,
    warnings_as_errors: bool = False,
    regions: RegionRegistry | None = None,
    root: str = "",
) -> Item:
    """Parse one catalog item from a mapping (e.g. parsed JSON) with govlink errors only.

    ``check=False`` skips the consistency rules (structure is always checked), for importing
    dirty catalogs that are then reported with :meth:`Item.findings`.

    Raises:
        ValidationError: structural problems, one per pydantic error, with dotted field paths
            and rule names (``required``, ``type``, ``unknown_field``, ``check_character`` …).
        IdentifierError: the only problems are invalid credit codes.
        ConsistencyError: a consistency error (or a warning with ``warnings_as_errors``).
    """
    item = parse_model(Item, data, root=root)
    if check:
        check_item(item, regions=regions, warnings_as_errors=warnings_as_errors, root=root)
    return item


def classify_change(old: Item | None, new: Item) -> CatalogChange | None:
    """What kind of change ``new`` is against the last version sent (``None``: unchanged).

    The state wins over content: an item that is both edited and cancelled is a cancellation.
    """
    if old is not None and old.content_hash() == new.content_hash():
        return None
    if old is None:
        if new.state is ItemState.IN_FORCE:
            return CatalogChange.ADDED
        return CatalogChange(new.state.value)
    if new.state is not old.state:
        if new.state is ItemState.IN_FORCE:
            # Back in force after suspension, delegation or cancellation.
            return CatalogChange.RESTORED
        return CatalogChange(new.state.value)
    return CatalogChange.ADJUSTED
