"""The sample catalog generator and the bundled catalog it reproduces."""

from __future__ import annotations

from collections import Counter
from importlib import resources
from statistics import mean

import pytest

import govlink
from govlink.domain import (
    CreditCode,
    ItemType,
    RegionRegistry,
    Severity,
    default_regions,
    dongying_halls,
)
from govlink.samples import (
    DEFAULT_SEED,
    SampleCatalog,
    generate_catalog,
    load_sample_catalog,
)


@pytest.fixture(scope="module")
def catalog() -> SampleCatalog:
    return load_sample_catalog()


def test_bundled_file_is_what_the_documented_seed_generates() -> None:
    bundled = resources.files("govlink.samples").joinpath("data/catalog.json").read_text("utf-8")
    regenerated = generate_catalog(seed=DEFAULT_SEED, departments=54, items=400).to_json()
    assert regenerated == bundled, (
        "the bundled sample catalog is stale: regenerate it as docs/samples.md explains"
    )


def test_loaded_equals_generated(catalog: SampleCatalog) -> None:
    assert catalog == generate_catalog()
    assert catalog.seed == DEFAULT_SEED
    assert SampleCatalog.from_json(catalog.to_json()) == catalog


def test_departments_and_halls(catalog: SampleCatalog) -> None:
    assert len(catalog.departments) == 54
    assert catalog.halls == [r.code for r in dongying_halls()]
    per_hall = Counter(d.hall for d in catalog.departments)
    assert per_hall["370500"] == 30
    assert "370501" not in per_hall
    codes = [d.credit_code for d in catalog.departments]
    assert len(set(codes)) == 54
    for dept in catalog.departments:
        code = CreditCode(dept.credit_code)  # re-validates
        assert code.organisation_category in {"11", "12", "13"}
        assert code.region_code == dept.hall
        assert dept.name.startswith(default_regions().get(dept.hall).name)
    kinds = {d.department.name: d.credit_code[:2] for d in catalog.departments}
    assert kinds["东营市住房公积金管理中心"] == "12"
    assert kinds["东营市市场监督管理局"] == "11"


def test_items_are_realistic(catalog: SampleCatalog) -> None:
    items = catalog.items
    assert len(items) == 400
    assert len({i.implementation_code for i in items}) == 400
    types = Counter(i.item_type for i in items)
    assert types[ItemType.LICENSING] + types[ItemType.PUBLIC_SERVICE] >= 0.6 * len(items)
    assert types.most_common(1)[0][0] is ItemType.LICENSING
    reductions = [i.limit_reduction for i in items if i.limit_reduction is not None]
    assert 0.4 <= mean(reductions) <= 0.6  # "promised limits on average 50% shorter"
    by_dept = {d.credit_code: d for d in catalog.departments}
    for item in items:
        assert str(item.department.credit_code) in by_dept
        assert item.region_code == by_dept[str(item.department.credit_code)].hall
    assert all(len(i.catalog_code) in (10, 12) for i in items)
    # The same catalog item implemented at several halls shares its basic code.
    names = Counter(i.catalog_code for i in items)
    assert max(names.values()) >= 5


def test_no_errors_but_a_few_deliberate_warnings(catalog: SampleCatalog) -> None:
    findings = catalog.findings()
    assert all(f.severity is Severity.WARNING for _, f in findings)
    dirty_items = {item.key for item, _ in findings}
    assert 5 <= len(dirty_items) <= 0.05 * len(catalog.items)
    assert {f.rule for _, f in findings} >= {
        "visits_need_reason",
        "fee_needs_basis",
        "implementation_code_prefix",
        "catalog_code_length",
        "legal_basis_missing",
    }


def test_clean_catalog_when_dirty_is_zero() -> None:
    assert generate_catalog(items=200, dirty=0).findings() == []


def test_seed_changes_the_catalog_and_same_seed_repeats() -> None:
    a = generate_catalog(seed=1, items=50)
    assert a == generate_catalog(seed=1, items=50)
    assert a != generate_catalog(seed=2, items=50)


def test_scales_to_ten_thousand_items() -> None:
    big = generate_catalog(items=10_000)
    assert len(big.items) == 10_000
    assert len({i.implementation_code for i in big.items}) == 10_000
    assert all(f.severity is Severity.WARNING for _, f in big.findings())


@pytest.mark.parametrize("departments", [1, 6, 20, 90])
def test_department_counts(departments: int) -> None:
    cat = generate_catalog(departments=departments, items=120)
    assert len(cat.departments) == departments
    assert len(cat.items) == 120


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="at least one"):
        generate_catalog(departments=0)
    with pytest.raises(ValueError, match="at most"):
        generate_catalog(departments=500)
    with pytest.raises(ValueError, match="items"):
        generate_catalog(items=-1)
    with pytest.raises(govlink.ValidationError) as info:
        generate_catalog(city="370502")
    assert info.value.rule == "not_a_city"


def test_other_city_from_region_data() -> None:
    binzhou = RegionRegistry.from_data(
        {
            "format": "govlink-regions/1",
            "regions": [
                {"code": "370000", "name": "山东省", "level": "province", "parent": None},
                {"code": "371600", "name": "滨州市", "level": "city", "parent": "370000"},
                {"code": "371602", "name": "滨城区", "level": "county", "parent": "371600"},
            ],
        }
    )
    cat = generate_catalog(city="371600", regions=binzhou, departments=10, items=60)
    assert cat.halls == ["371600", "371602"]
    assert cat.departments[0].name.startswith("滨州市")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("{", "json"),
        ('{"format": "other"}', "format"),
        ('{"format": "govlink-sample-catalog/1", "departments": {}}', "type"),
        ('{"format": "govlink-sample-catalog/1", "departments": [], "items": [{}]}', "required"),
    ],
)
def test_bad_catalog_files(text: str, rule: str) -> None:
    with pytest.raises(govlink.ValidationError) as info:
        SampleCatalog.from_json(text)
    assert info.value.rule == rule
