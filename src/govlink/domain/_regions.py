"""Administrative regions (行政区划, GB/T 2260) and the halls they host.

A :class:`RegionRegistry` is loaded from data, never from code: the package ships
``govlink/domain/data/regions.json`` (Shandong, its 16 cities, the counties and districts of
Dongying and the alias 370521 → 370505); another city is added by loading a file in the same
format and merging it (:meth:`RegionRegistry.merged`). The file format::

    {"format": "govlink-regions/1",
     "regions": [{"code": "370500", "name": "东营市", "name_en": "Dongying",
                  "level": "city", "parent": "370000", "hall": true}, ...],
     "aliases": [{"code": "370521", "target": "370505", "note": "..."}]}

``hall`` defaults to true for cities and counties and false for provinces; the statistical
"市辖区" entries (370501) are marked ``"hall": false``.

Codes: 6 digits (2 province, 2 prefecture, 2 county). Provincial platforms often send the
12-digit form, which appends township (3) and village (3) digits; the registry holds county level
and above, so :meth:`RegionRegistry.get` accepts a 12-digit code that ends in ``000000``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Self

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from .._errors import FieldProblem, ValidationError

__all__ = [
    "DONGYING",
    "SHANDONG",
    "Region",
    "RegionCode",
    "RegionLevel",
    "RegionRegistry",
    "default_regions",
    "dongying_halls",
    "normalise_region_code",
]

#: Shandong Province (山东省).
SHANDONG = "370000"
#: Dongying (东营市), the bundled demo city.
DONGYING = "370500"
_FORMAT = "govlink-regions/1"


class RegionLevel(StrEnum):
    """Administrative level of a region (the registry stops at county level)."""

    PROVINCE = "province"  # 省级
    CITY = "city"  # 地级 (prefecture-level city)
    COUNTY = "county"  # 县级 (county, district, county-level city)


@dataclass(frozen=True, slots=True)
class Region:
    """One region of GB/T 2260 at county level or above."""

    code: str  # 6 digits
    name: str  # Chinese name, e.g. 东营市
    name_en: str
    level: RegionLevel
    parent: str | None  # the parent's 6-digit code; None for a province
    hall: bool  # whether the region hosts a government service hall (政务服务中心)

    @property
    def code12(self) -> str:
        """The 12-digit form provincial platforms use (``370500000000``)."""
        return self.code + "000000"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


def _problem(field: str, rule: str, message: str) -> ValidationError:
    return ValidationError(problems=[FieldProblem(field, rule, message)])


def normalise_region_code(value: object, *, field: str = "region_code") -> str:
    """The 6-digit form of a 6- or 12-digit region code (the latter must end in ``000000``).

    Raises:
        ValidationError: rule ``type`` (not a string), ``format`` (not 6 or 12 digits) or
            ``below_county`` (a 12-digit code naming a township or village).
    """
    if not isinstance(value, str):
        raise _problem(field, "type", f"region code must be a string, not {type(value).__name__}")
    code = value.strip()
    if not (code.isascii() and code.isdigit() and len(code) in (6, 12)):
        raise _problem(field, "format", "region code must be 6 or 12 digits")
    if len(code) == 12:
        if code[6:] != "000000":
            raise _problem(
                field, "below_county", "12-digit region code names a township or village"
            )
        code = code[:6]
    return code


class RegionCode(str):
    """A 6-digit region code as a value type (pydantic field): 12-digit input is shortened.

    Only the form is checked here (a catalog from another city must parse without that city's
    region data); whether the code is known is a question for a :class:`RegionRegistry`.

    Raises:
        ValidationError: see :func:`normalise_region_code`.
    """

    __slots__ = ()

    def __new__(cls, value: object, *, field: str = "region_code") -> Self:
        return super().__new__(cls, normalise_region_code(value, field=field))

    @property
    def code12(self) -> str:
        """The 12-digit form (``370500000000``)."""
        return str.__str__(self) + "000000"

    def __repr__(self) -> str:
        return f"RegionCode({str.__str__(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: str) -> RegionCode:
            try:
                return cls(value)
            except ValidationError as exc:
                raise PydanticCustomError(exc.problems[0].rule, exc.problems[0].message) from None

        return core_schema.no_info_after_validator_function(
            validate,
            core_schema.str_schema(strict=True),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str.__str__, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "pattern": r"^[0-9]{6}(000000)?$",
            "description": "GB/T 2260 region code, 6 digits (or the 12-digit form ending 000000)",
        }


class RegionRegistry:
    """Regions by code, with aliases, loaded from data.

    Build one with :meth:`from_data`/:meth:`from_file`, or use :func:`default_regions`.
    Instances are immutable; :meth:`merged` returns a new registry.
    """

    def __init__(self, regions: Iterable[Region], aliases: Mapping[str, str] | None = None) -> None:
        """Check and index ``regions``.

        Raises:
            ValidationError: duplicate codes, unknown parents, a level that does not fit the
                code's shape, or an alias to an unknown region (rules ``duplicate``,
                ``unknown_parent``, ``level``, ``unknown_alias_target``).
        """
        by_code: dict[str, Region] = {}
        problems: list[FieldProblem] = []
        for region in regions:
            if region.code in by_code:
                problems.append(
                    FieldProblem(f"regions.{region.code}", "duplicate", "code listed twice")
                )
            by_code[region.code] = region
        for region in by_code.values():
            expected = _level_of(region.code)
            if region.level is not expected:
                problems.append(
                    FieldProblem(
                        f"regions.{region.code}.level",
                        "level",
                        f"code {region.code} has the shape of a {expected.value}",
                    )
                )
            if (region.parent is None) != (region.level is RegionLevel.PROVINCE) or (
                region.parent is not None and region.parent not in by_code
            ):
                problems.append(
                    FieldProblem(
                        f"regions.{region.code}.parent",
                        "unknown_parent",
                        "parent must be a listed region (and only provinces have none)",
                    )
                )
        alias_map = dict(aliases or {})
        for alias, target in alias_map.items():
            if target not in by_code:
                problems.append(
                    FieldProblem(
                        f"aliases.{alias}", "unknown_alias_target", f"{target} is not listed"
                    )
                )
        if problems:
            raise ValidationError(problems=problems)
        self._regions = dict(sorted(by_code.items()))
        self._aliases = alias_map

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> RegionRegistry:
        """Build a registry from the parsed JSON format described in the module docstring.

        Raises:
            ValidationError: the data is not in the format (field names the entry), or see
                the constructor.
        """
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise _problem("format", "format", f'region data must declare "format": "{_FORMAT}"')
        raw_regions = data.get("regions")
        raw_aliases = data.get("aliases", [])
        if not isinstance(raw_regions, list) or not isinstance(raw_aliases, list):
            raise _problem("regions", "type", "regions and aliases must be lists")
        regions = [_region_from(entry, f"regions[{i}]") for i, entry in enumerate(raw_regions)]
        aliases: dict[str, str] = {}
        for i, entry in enumerate(raw_aliases):
            if not isinstance(entry, Mapping):
                raise _problem(f"aliases[{i}]", "type", "an alias must be an object")
            code = normalise_region_code(entry.get("code"), field=f"aliases[{i}].code")
            target = normalise_region_code(entry.get("target"), field=f"aliases[{i}].target")
            aliases[code] = target
        return cls(regions, aliases)

    @classmethod
    def from_file(cls, path: str | Path) -> RegionRegistry:
        """Load a registry from a JSON file in the regions format.

        Raises:
            ValidationError: field ``path`` with rule ``unreadable`` (cannot be read),
                ``encoding`` (not UTF-8), ``json`` (not JSON) or ``depth`` (nested too deeply);
                or bad content (see :meth:`from_data`). Messages name the file.
        """
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except OSError as exc:
            raise _problem(
                "path", "unreadable", f"cannot read region file {path}: {exc.strerror or exc}"
            ) from None
        except UnicodeDecodeError:
            raise _problem(
                "path", "encoding", f"region file {path} is not UTF-8 text: save it as UTF-8"
            ) from None
        try:
            data = json.loads(text)
        except RecursionError:
            raise _problem("path", "depth", f"region file {path} is nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, or an integer too long to read
            raise _problem("path", "json", f"region file {path} is not JSON: {exc}") from None
        return cls.from_data(data)

    def merged(self, other: RegionRegistry) -> RegionRegistry:
        """A new registry with ``other``'s regions and aliases added (``other`` wins on clashes).

        Raises:
            ValidationError: the union is inconsistent (see the constructor).
        """
        regions = {**self._regions, **other._regions}
        return RegionRegistry(regions.values(), {**self._aliases, **other._aliases})

    # --- lookups ------------------------------------------------------------------------

    def get(self, code: str, *, field: str = "region_code") -> Region:
        """The region for a 6- or 12-digit code, following aliases (370521 → 垦利区 370505).

        Raises:
            ValidationError: rules ``type``, ``format``, ``below_county`` (see
                :func:`normalise_region_code`) or ``unknown_region``.
        """
        six = normalise_region_code(code, field=field)
        six = self._aliases.get(six, six)
        region = self._regions.get(six)
        if region is None:
            raise _problem(field, "unknown_region", f"region {six} is not in the registry")
        return region

    def __contains__(self, code: object) -> bool:
        try:
            self.get(code)  # type: ignore[arg-type]  # get() rejects non-strings itself
        except ValidationError:
            return False
        return True

    def __iter__(self) -> Iterator[Region]:
        return iter(self._regions.values())

    def __len__(self) -> int:
        return len(self._regions)

    def canonical(self, code: str) -> str:
        """The 6-digit canonical code (alias resolved) of a known region.

        Raises:
            ValidationError: as :meth:`get`.
        """
        return self.get(code).code

    @property
    def aliases(self) -> Mapping[str, str]:
        """Old code → current code."""
        return dict(self._aliases)

    def children(self, code: str) -> list[Region]:
        """The regions directly under ``code``, by code.

        Raises:
            ValidationError: as :meth:`get`.
        """
        parent = self.get(code).code
        return [r for r in self._regions.values() if r.parent == parent]

    def halls(self, city_code: str) -> list[Region]:
        """The halls of a city: the city hall first, then its counties and districts by code.

        Statistical entries such as 370501 市辖区 host no hall and are left out.

        Raises:
            ValidationError: as :meth:`get`, or rule ``not_a_city`` for a province or county.
        """
        city = self.get(city_code, field="city_code")
        if city.level is not RegionLevel.CITY:
            raise _problem(
                "city_code", "not_a_city", f"{city.code} is a {city.level.value}, not a city"
            )
        return [city] + [r for r in self.children(city.code) if r.hall]

    def __repr__(self) -> str:
        return f"RegionRegistry({len(self._regions)} regions, {len(self._aliases)} aliases)"


def _level_of(code: str) -> RegionLevel:
    if code[2:] == "0000":
        return RegionLevel.PROVINCE
    if code[4:] == "00":
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def _region_from(entry: object, where: str) -> Region:
    if not isinstance(entry, Mapping):
        raise _problem(where, "type", "a region must be an object")
    code = normalise_region_code(entry.get("code"), field=f"{where}.code")
    if len(str(entry.get("code", "")).strip()) != 6:
        raise _problem(f"{where}.code", "format", "region data uses 6-digit codes")
    name, name_en = entry.get("name"), entry.get("name_en", "")
    if not isinstance(name, str) or not name or not isinstance(name_en, str):
        raise _problem(f"{where}.name", "type", "name must be a non-empty string")
    try:
        level = RegionLevel(str(entry.get("level")))
    except ValueError:
        raise _problem(
            f"{where}.level", "level", "level must be province, city or county"
        ) from None
    parent = entry.get("parent")
    if parent is not None:
        parent = normalise_region_code(parent, field=f"{where}.parent")
    hall = entry.get("hall", level is not RegionLevel.PROVINCE)
    if not isinstance(hall, bool):
        raise _problem(f"{where}.hall", "type", "hall must be true or false")
    return Region(code, name, name_en, level, parent, hall)


@cache
def default_regions() -> RegionRegistry:
    """The bundled registry (``govlink/domain/data/regions.json``), loaded once."""
    text = resources.files("govlink.domain").joinpath("data/regions.json").read_text("utf-8")
    return RegionRegistry.from_data(json.loads(text))


def dongying_halls() -> list[Region]:
    """The six halls of the demo city: 东营市 370500, then 370502/03/05 and 370522/23."""
    return default_regions().halls(DONGYING)
