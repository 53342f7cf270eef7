"""Demo step "catalog": load the bundled sample catalog, validate every item, summarise it.

Leaves the :class:`govlink.samples.SampleCatalog` in ``demo.state.catalog`` for later steps
(cases, sync).
"""

from __future__ import annotations

from collections import Counter
from statistics import mean

from rich.table import Table

from .._errors import ValidationError
from ..domain import Severity, check_item, default_regions
from ..samples import load_sample_catalog
from ._demo import Demo

__all__ = ["step"]


def step(demo: Demo) -> None:
    """Load, validate and summarise the sample catalog (a few lines and one table)."""
    demo.section("Catalog (事项目录): the bundled sample city")
    try:
        catalog = load_sample_catalog()
    except ValidationError as exc:
        demo.fail("load", f"bundled sample catalog does not load: {exc.message}")
        return
    regions = default_regions()
    warnings: Counter[str] = Counter()
    rejected = 0
    for index, item in enumerate(catalog.items):
        try:
            found = check_item(item, regions=regions, root=f"items[{index}]")
        except ValidationError as exc:
            rejected += 1
            demo.fail("validate", f"{item.name}: {exc.message}")
            continue
        warnings.update(f.rule for f in found if f.severity is Severity.WARNING)

    halls = [regions.get(code) for code in catalog.halls]
    departments = Counter(d.hall for d in catalog.departments)
    items_per_hall = Counter(str(item.region_code) for item in catalog.items)
    table = Table(show_edge=False, pad_edge=False, box=None)
    table.add_column("hall (大厅)")
    table.add_column("departments", justify="right")
    table.add_column("items", justify="right")
    for hall in halls:
        table.add_row(
            f"{hall.name} {hall.code}",
            str(departments[hall.code]),
            str(items_per_hall[hall.code]),
        )
    demo.console.print(table)

    types = Counter(item.item_type for item in catalog.items)
    type_line = ", ".join(f"{t.label} {n}" for t, n in types.most_common())
    reductions = [r for item in catalog.items if (r := item.limit_reduction) is not None]
    reduction = mean(reductions) if reductions else 0.0
    demo.info(f"item types: {type_line}")
    demo.info(
        f"promised limits are on average {reduction:.0%} shorter than legal limits "
        f"({len(reductions)} items with a legal limit in days)"
    )
    if warnings:
        listed = ", ".join(f"{rule} ×{n}" for rule, n in sorted(warnings.items()))
        demo.info(f"consistency warnings (dirty data, not rejected): {listed}")
    if not rejected:
        demo.ok(
            "validate",
            f"{len(catalog.items)} items of {len(catalog.departments)} departments in "
            f"{len(halls)} halls validated: 0 errors, {sum(warnings.values())} warnings",
        )
    demo.state.catalog = catalog
    demo.summary["catalog"] = {
        "halls": [h.code for h in halls],
        "departments": len(catalog.departments),
        "items": len(catalog.items),
        "items_by_type": {t.value: n for t, n in sorted(types.items())},
        "rejected": rejected,
        "warnings": dict(sorted(warnings.items())),
        "average_limit_reduction": round(reduction, 3),
    }
