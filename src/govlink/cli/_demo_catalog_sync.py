"""Demo step "catalog_sync": push the sample catalog, change it, push incrementally.

Uses the mock province of the "province" step (``demo.state.province``) and the sample
catalog of the "catalog" step (``demo.state.catalog``). The first push sends every item;
then one item is edited (调整), one cancelled (取消) and one delegated down (下放), and the
incremental push sends exactly those three — shown from the mock province's own journal, not
from govlink's bookkeeping. A reconciliation against the platform's digest closes the step.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

from .._errors import GovlinkError
from .._http import httpx
from ..domain import CatalogChange, Item, ItemState
from ..store import SQLiteStore
from ..sync import CATALOG_ITEM, CatalogSync, Dispatcher, Outbox, load_adapter
from ._demo import Demo

__all__ = ["step"]


_LABELS = {
    CatalogChange.ADDED: "新增",
    CatalogChange.ADJUSTED: "调整",
    CatalogChange.SUSPENDED: "暂停",
    CatalogChange.CANCELLED: "取消",
    CatalogChange.DELEGATED_DOWN: "下放",
    CatalogChange.ACCEPTED_FROM_PROVINCE: "承接",
    CatalogChange.RESTORED: "恢复",
}


def _sent_codes(province: Any, since: int) -> list[str]:
    codes: list[str] = []
    for entry in province.journal.entries[since:]:
        if entry.body and entry.path.endswith("items:batch"):
            codes += [i["implementation_code"] for i in json.loads(entry.body)["items"]]
    return codes


def _changed(items: list[Item]) -> tuple[list[Item], dict[str, CatalogChange]]:
    result = list(items)
    a, b, c = [i for i, item in enumerate(result) if item.state is ItemState.IN_FORCE][:3]
    result[a] = result[a].model_copy(
        update={"name": result[a].name + "（调整）", "version": result[a].version + 1}
    )
    result[b] = result[b].model_copy(
        update={"state": ItemState.CANCELLED, "cancel_date": date(2026, 3, 2)}
    )
    result[c] = result[c].model_copy(update={"state": ItemState.DELEGATED_DOWN})
    return result, {
        result[a].implementation_code: CatalogChange.ADJUSTED,
        result[b].implementation_code: CatalogChange.CANCELLED,
        result[c].implementation_code: CatalogChange.DELEGATED_DOWN,
    }


def step(demo: Demo) -> None:
    """Full push, incremental push of three changes, reconciliation (a few lines)."""
    demo.section("Catalog sync (事项目录同步): incremental by content hash")
    province = demo.state.province
    catalog = demo.state.catalog
    if province is None or catalog is None:
        demo.fail("prerequisites", "catalog_sync needs the 'catalog' and 'province' steps first")
        return
    store = SQLiteStore(demo.home / "govlink.db")
    journal = province.journal
    capturing = journal.capture_bodies
    journal.capture_bodies = True  # the demo shows which items the platform received
    try:
        asyncio.run(_story(demo, province, list(catalog.items), store))
    except GovlinkError as exc:
        demo.fail("push", f"catalog sync failed: {exc.message}")
    finally:
        journal.capture_bodies = capturing
        store.close()


async def _story(demo: Demo, province: Any, items: list[Item], store: SQLiteStore) -> None:
    adapter = load_adapter(
        "reference",
        base_url=province.base_url,
        clock=demo.clock,
        transport=httpx.ASGITransport(app=province.app),
    )
    outbox = Outbox(store, clock=demo.clock)
    sync = CatalogSync(outbox, clock=demo.clock)

    async def deliver() -> Any:
        dispatcher = Dispatcher(outbox, adapter, clock=demo.clock, kinds=(CATALOG_ITEM,))
        return await dispatcher.run(until_empty=True)

    try:
        mark = len(province.journal.entries)
        first = sync.push(items)
        counters = await deliver()
        sent = _sent_codes(province, mark)
        if sorted(sent) != sorted(i.implementation_code for i in items) or sync.pending():
            demo.fail(
                "first_push", f"first push: {len(sent)} of {len(items)} items reached the platform"
            )
            return
        demo.ok(
            "first_push",
            f"first push: {len(first.changes)} items enqueued, {counters.acknowledged} "
            f"acknowledged in {counters.requests} requests",
        )

        changed, expected = _changed(items)
        mark = len(province.journal.entries)
        second = sync.push(changed)
        await deliver()
        sent = _sent_codes(province, mark)
        kinds = ", ".join(f"{c.change.value} {_LABELS[c.change]}" for c in second.changes)
        if (
            sorted(sent) != sorted(expected)
            or {c.implementation_code: c.change for c in second.changes} != expected
        ):
            demo.fail(
                "incremental", f"incremental push sent {len(sent)} items, expected {len(expected)}"
            )
            return
        demo.ok(
            "incremental",
            f"incremental push: {len(second.changes)} of {len(changed)} items changed "
            f"({kinds}); the platform's journal shows exactly those {len(sent)} received",
        )
        held = {i["implementation_code"]: i["state"] for i in province.core.catalog()}
        demo.info(
            "state changes pushed as such: "
            + ", ".join(
                f"{code[-10:]}… is {held[code]}"
                for code, change in expected.items()
                if change is not CatalogChange.ADJUSTED
            )
        )
        report = await sync.reconcile(changed, adapter)
        if report.differences or report.gone_locally:
            demo.fail(
                "reconcile",
                f"reconciliation found {report.differences} difference(s), "
                f"{len(report.gone_locally)} item(s) gone locally",
            )
            return
        demo.ok(
            "reconcile",
            f"reconciled against the platform's digest: {report.matching} of "
            f"{report.platform_items} items match, nothing to re-send",
        )
        demo.summary["catalog_sync"] = {
            "first_push": len(first.changes),
            "incremental": {"items": len(changed), "sent": sorted(sent)},
            "by_change": second.by_change,
            "reconcile": {"matching": report.matching, "resent": len(report.resent)},
        }
    finally:
        await adapter.aclose()
