"""Regions (GB/T 2260), halls and the registry loaded from data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import govlink
from govlink.domain import (
    DONGYING,
    SHANDONG,
    RegionCode,
    RegionLevel,
    RegionRegistry,
    default_regions,
    dongying_halls,
    normalise_region_code,
    parse_model,
)


def test_dongying_halls_are_the_six() -> None:
    assert [r.code for r in dongying_halls()] == [
        "370500",
        "370502",
        "370503",
        "370505",
        "370522",
        "370523",
    ]
    assert dongying_halls()[0].name == "东营市"


def test_370501_is_a_region_but_not_a_hall() -> None:
    regions = default_regions()
    assert regions.get("370501").name == "市辖区"
    assert "370501" not in {r.code for r in regions.halls(DONGYING)}


def test_shandong_and_code12() -> None:
    shandong = default_regions().get(SHANDONG)
    assert shandong.name == "山东省"
    assert shandong.level is RegionLevel.PROVINCE
    assert shandong.parent is None
    assert shandong.code12 == "370000000000"
    assert default_regions().get("370500000000").code == "370500"


@pytest.mark.parametrize("code", ["370521", "370521000000", " 370521 "])
def test_alias_kenli(code: str) -> None:
    region = default_regions().get(code)
    assert region.code == "370505"
    assert region.name == "垦利区"
    assert default_regions().canonical(code) == "370505"
    assert code in default_regions()


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("37050", "format"),
        ("3705000000000", "format"),
        ("37A500", "format"),
        (370500, "type"),
        ("370502001000", "below_county"),
        ("379900", "unknown_region"),
    ],
)
def test_lookup_errors(code: Any, rule: str) -> None:
    with pytest.raises(govlink.ValidationError) as info:
        default_regions().get(code, field="hall")
    assert info.value.rule == rule
    assert info.value.field == "hall"
    assert code not in default_regions()


def test_halls_needs_a_city() -> None:
    with pytest.raises(govlink.ValidationError) as info:
        default_regions().halls(SHANDONG)
    assert info.value.rule == "not_a_city"
    with pytest.raises(govlink.ValidationError):
        default_regions().halls("370502")


def test_other_cities_from_data(tmp_path: Path) -> None:
    extra = {
        "format": "govlink-regions/1",
        "regions": [
            {"code": "370000", "name": "山东省", "name_en": "Shandong", "level": "province",
             "parent": None},
            {"code": "371600", "name": "滨州市", "name_en": "Binzhou", "level": "city",
             "parent": "370000"},
            {"code": "371602", "name": "滨城区", "name_en": "Bincheng", "level": "county",
             "parent": "371600"},
            {"code": "371603", "name": "沾化区", "name_en": "Zhanhua", "level": "county",
             "parent": "371600"},
        ],
        "aliases": [{"code": "371623", "target": "371603"}],
    }  # fmt: skip
    path = tmp_path / "binzhou.json"
    path.write_text(json.dumps(extra, ensure_ascii=False), encoding="utf-8")
    merged = default_regions().merged(RegionRegistry.from_file(path))
    assert [r.code for r in merged.halls("371600")] == ["371600", "371602", "371603"]
    assert merged.get("371623").name == "沾化区"
    assert len(merged.halls(DONGYING)) == 6
    # The default registry is untouched.
    assert "371602" not in default_regions()


def _data(regions: list[dict[str, Any]], aliases: list[dict[str, str]] | None = None) -> Any:
    return {"format": "govlink-regions/1", "regions": regions, "aliases": aliases or []}


PROVINCE = {"code": "370000", "name": "山东省", "level": "province", "parent": None}


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        ({"regions": []}, "format"),
        (_data([PROVINCE, PROVINCE]), "duplicate"),
        (_data([{**PROVINCE, "level": "city"}]), "level"),
        (_data([{**PROVINCE, "level": "planet"}]), "level"),
        (_data([PROVINCE, {"code": "370500", "name": "东营市", "level": "city",
                           "parent": "360000"}]), "unknown_parent"),
        (_data([PROVINCE], [{"code": "370521", "target": "370505"}]), "unknown_alias_target"),
        (_data([{**PROVINCE, "name": ""}]), "type"),
        (_data([{**PROVINCE, "code": "370000000000"}]), "format"),
        (_data([{**PROVINCE, "hall": "yes"}]), "type"),
        ({**_data([]), "regions": ["370000"]}, "type"),
    ],
)  # fmt: skip
def test_bad_region_data(data: Any, rule: str) -> None:
    with pytest.raises(govlink.ValidationError) as info:
        RegionRegistry.from_data(data)
    assert rule in {p.rule for p in info.value.problems}


def test_bad_json_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(govlink.ValidationError) as info:
        RegionRegistry.from_file(path)
    assert info.value.rule == "json"


def test_region_code_type() -> None:
    class M(BaseModel):
        region: RegionCode

    assert parse_model(M, {"region": "370500000000"}).region == "370500"
    assert RegionCode("370505").code12 == "370505000000"
    assert repr(RegionCode("370505")) == "RegionCode('370505')"
    with pytest.raises(govlink.ValidationError) as info:
        parse_model(M, {"region": "370502001000"})
    assert (info.value.field, info.value.rule) == ("region", "below_county")
    assert normalise_region_code("370500") == "370500"


def test_registry_is_iterable_and_sized() -> None:
    regions = default_regions()
    assert len(regions) == len(list(regions)) >= 23
    assert regions.aliases == {"370521": "370505"}
    assert [r.code for r in regions.children(DONGYING)][:2] == ["370501", "370502"]
    assert "RegionRegistry(" in repr(regions)
    assert str(regions.get("370523")) == "广饶县 (370523)"
