"""govlink's domain model: pure values and rules, no I/O.

Regions (GB/T 2260) and halls, identifiers (resident ID numbers, unified social credit codes),
catalog items with their consistency rules and content hash, cases and their status events,
the working-day calendar, deadlines and supervision. Everything else in govlink speaks in these
types. Validation failures are always :class:`govlink.ValidationError` (or a subclass) with one
:class:`govlink.FieldProblem` per broken rule.
"""

from __future__ import annotations

from ._identifiers import (
    CREDIT_CODE_ALPHABET,
    CreditCode,
    ResidentId,
    credit_code_check_character,
    mask_personal,
    organisation_code_check_character,
    resident_id_check_character,
)
from ._items import (
    CaseKind,
    CatalogChange,
    Department,
    ExerciseLevel,
    Fee,
    HandlingForm,
    Item,
    ItemState,
    ItemType,
    Material,
    MaterialForm,
    OnlineDepth,
    SpecialProcedure,
    SpecialProcedureKind,
    TimeLimit,
    TimeUnit,
    check_item,
    classify_change,
    parse_item,
)
from ._regions import (
    DONGYING,
    SHANDONG,
    Region,
    RegionCode,
    RegionLevel,
    RegionRegistry,
    default_regions,
    dongying_halls,
    normalise_region_code,
)
from ._validation import Finding, IsoDate, Severity, parse_model

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "DONGYING",
    "SHANDONG",
    "CaseKind",
    "CatalogChange",
    "CreditCode",
    "Department",
    "ExerciseLevel",
    "Fee",
    "Finding",
    "HandlingForm",
    "IsoDate",
    "Item",
    "ItemState",
    "ItemType",
    "Material",
    "MaterialForm",
    "OnlineDepth",
    "Region",
    "RegionCode",
    "RegionLevel",
    "RegionRegistry",
    "ResidentId",
    "Severity",
    "SpecialProcedure",
    "SpecialProcedureKind",
    "TimeLimit",
    "TimeUnit",
    "check_item",
    "classify_change",
    "credit_code_check_character",
    "default_regions",
    "dongying_halls",
    "mask_personal",
    "normalise_region_code",
    "organisation_code_check_character",
    "parse_item",
    "parse_model",
    "resident_id_check_character",
]
