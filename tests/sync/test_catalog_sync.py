"""Catalog sync: incremental by content hash, reconciliation, state changes, progress on ack.

Every claim about what was sent is read from the mock province's journal (request bodies are
captured), not from govlink's own bookkeeping.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date

import pytest
from test_adapter_contract_support import (
    ADAPTERS,
    AsyncSession,
    drain_with_outbox,
    make_province,
    sample_items,
)
from test_adapter_contract_support import aio as aio  # the fixture, used by name

from govlink import VirtualClock
from govlink.domain import CatalogChange, Item, ItemState
from govlink.store import SQLiteStore, Store
from govlink.sync import CATALOG_ITEM, CatalogSync, ProvinceAdapter, fetch_catalog_digest
from govlink.sync._outbox import Outbox
from govlink.testing import MockProvince


@pytest.fixture(params=ADAPTERS)
def adapter_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _sync(store: SQLiteStore, clock: VirtualClock, **options: float | None) -> CatalogSync:
    return CatalogSync(Outbox(store, clock=clock), clock=clock, **options)


def sent_codes(province: MockProvince, since: int = 0) -> list[str]:
    """Implementation codes of every catalog element the platform received (journal bodies)."""
    codes: list[str] = []
    for entry in province.journal.entries[since:]:
        if entry.body is None:
            continue
        if entry.path.endswith("items:batch"):
            codes += [i["implementation_code"] for i in json.loads(entry.body)["items"]]
        elif entry.path.endswith("/sx/push"):
            codes += [i["ssbm"] for i in json.loads(entry.body)["sxlb"]]
    return codes


def _mark(province: MockProvince) -> int:
    return len(province.journal.entries)


def changed(items: Iterable[Item]) -> tuple[list[Item], dict[str, CatalogChange]]:
    """The sample catalog with one item edited, one cancelled (取消), one delegated down (下放)
    and one new item accepted from the province (承接)."""
    result = list(items)
    a, b, c = [i for i, item in enumerate(result) if item.state is ItemState.IN_FORCE][:3]
    edited = result[a].model_copy(
        update={"name": result[a].name + "（调整）", "version": result[a].version + 1}
    )
    cancelled = result[b].model_copy(
        update={"state": ItemState.CANCELLED, "cancel_date": date(2026, 3, 2)}
    )
    delegated = result[c].model_copy(update={"state": ItemState.DELEGATED_DOWN})
    accepted = result[a].model_copy(
        update={
            "implementation_code": result[a].implementation_code[:-3] + "999",
            "state": ItemState.ACCEPTED_FROM_PROVINCE,
        }
    )
    result[a], result[b], result[c] = edited, cancelled, delegated
    result.append(accepted)
    expected = {
        edited.implementation_code: CatalogChange.ADJUSTED,
        cancelled.implementation_code: CatalogChange.CANCELLED,
        delegated.implementation_code: CatalogChange.DELEGATED_DOWN,
        accepted.implementation_code: CatalogChange.ACCEPTED_FROM_PROVINCE,
    }
    return result, expected


def test_incremental_push_sends_exactly_the_changed_items(
    aio: AsyncSession, adapter_name: str, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter(adapter_name, province)
    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:60])

    first = sync.push(items)
    assert len(first.changes) == 60
    assert sum(first.by_change.values()) == 60
    assert first.by_change["added"] == sum(i.state is ItemState.IN_FORCE for i in items)
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    assert sorted(sent_codes(province)) == sorted(i.implementation_code for i in items)
    province.journal.assert_catalog_equals(items)

    new_items, expected = changed(items)
    mark = _mark(province)
    second = sync.push(new_items)
    assert {c.implementation_code: c.change for c in second.changes} == expected
    assert second.unchanged == 60 - 3
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    assert sorted(sent_codes(province, mark)) == sorted(expected)
    province.journal.assert_catalog_equals(new_items)

    # State changes are pushed as such: the platform holds the new state, not a deletion.
    held = {i["implementation_code"]: i["state"] for i in province.core.catalog()}
    assert {code: held[code] for code in expected} == {
        code: "in_force" if change is CatalogChange.ADJUSTED else change.value
        for code, change in expected.items()
    }

    mark = _mark(province)
    third = sync.push(new_items)
    assert (len(third.changes), third.unchanged) == (0, 61)
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    assert sent_codes(province, mark) == []
    assert sync.pending() == []


def test_items_gone_locally_are_reported_not_deleted(
    store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:10])
    sync.push(items)
    report = sync.push(items[:8])
    assert report.gone_locally == tuple(sorted(i.implementation_code for i in items[8:]))
    assert report.changes == ()
    partial = sync.push(items[:8], complete=False)
    assert partial.gone_locally == ()


def test_state_change_wins_over_edit(store: SQLiteStore, virtual_clock: VirtualClock) -> None:
    sync = _sync(store, virtual_clock)
    item = sample_items()[0]
    sync.push([item])
    both = item.model_copy(update={"name": item.name + "（调整）", "state": ItemState.CANCELLED})
    (record,) = sync.push([both]).changes
    assert record.change is CatalogChange.CANCELLED
    back = both.model_copy(update={"state": ItemState.IN_FORCE})
    (record,) = sync.push([back]).changes
    assert record.change is CatalogChange.RESTORED
    assert record.sequence == 3


def test_duplicate_codes_are_refused(store: SQLiteStore, virtual_clock: VirtualClock) -> None:
    sync = _sync(store, virtual_clock)
    item = sample_items()[0]
    with pytest.raises(ValueError, match="twice"):
        sync.push([item, item])


def test_progress_moves_only_on_acknowledgement(
    aio: AsyncSession, adapter_name: str, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter(adapter_name, province)
    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:5])
    sync.push(items)
    assert sync.acknowledged_hashes() == {}
    assert sync.pending() == sorted(i.implementation_code for i in items)

    aio.run(fetch_catalog_digest(adapter, clock=virtual_clock))  # any token is fetched first
    # The platform applies the batch but the answer is lost: nothing is acknowledged yet.
    province.set_faults("lost_response:count=1")
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    outcomes = [(e.fault, e.outcomes) for e in province.journal if e.outcomes]
    assert outcomes[0] == ("lost_response", "AAAAA")
    assert outcomes[1] == ("", "DDDDD")  # resent, recognised as duplicate, then acknowledged
    assert sync.pending() == []
    assert sync.acknowledged_hashes() == {i.implementation_code: i.content_hash() for i in items}
    province.journal.assert_catalog_equals(items)


def test_rejected_item_parks_only_its_own_lane(
    aio: AsyncSession, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:4])
    old = items[0].model_copy(update={"version": 1})
    items[1] = items[1].model_copy(update={"version": 3})
    sync.push(items)
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    stale = items[1].model_copy(update={"version": 2, "name": items[1].name + "（旧）"})
    edited = old.model_copy(update={"name": old.name + "（新）", "version": 2})
    sync.push([edited, stale, *items[2:]])
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    progress = sync.progress()
    assert progress[stale.implementation_code].parked  # stale_version refused: poison
    assert not progress[stale.implementation_code].in_sync
    assert progress[edited.implementation_code].in_sync
    assert sync.pending() == [stale.implementation_code]


def _platform_copy(adapter: ProvinceAdapter, aio: AsyncSession, items: list[Item]) -> None:
    """Put items on the platform behind govlink's back (drift to reconcile)."""
    from test_adapter_contract_support import exchange, item_delivery

    aio.run(exchange(adapter, CATALOG_ITEM, [item_delivery(i, 99) for i in items]))


def test_reconcile_resends_differences_and_reports_gone(
    aio: AsyncSession, adapter_name: str, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter(adapter_name, province, page_size=7)
    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:30])
    sync.push(items)
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))

    drifted = items[4].model_copy(update={"name": items[4].name + "（平台改）"})
    stranger = items[0].model_copy(
        update={"implementation_code": items[0].implementation_code[:-3] + "777"}
    )
    _platform_copy(adapter, aio, [drifted, stranger])
    local = items[:29]  # items[29] was withdrawn locally without a cancellation

    mark = _mark(province)
    report = aio.run(sync.reconcile(local, adapter))
    assert [c.implementation_code for c in report.resent] == [items[4].implementation_code]
    assert report.matching == 28
    assert report.platform_items == 31
    assert report.gone_locally == tuple(
        sorted([items[29].implementation_code, stranger.implementation_code])
    )
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    assert sent_codes(province, mark) == [items[4].implementation_code]
    held = {i["implementation_code"]: i["name"] for i in province.core.catalog()}
    assert held[items[4].implementation_code] == items[4].name  # local content restored


def test_reconcile_after_the_platform_lost_everything(
    aio: AsyncSession, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("gateway", province)
    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:12])
    sync.push(items)
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    province.reset()
    report = aio.run(sync.reconcile(items, adapter))
    assert len(report.resent) == 12
    assert {c.change for c in report.resent} == {CatalogChange.ADDED}
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    province.journal.assert_catalog_equals(items)


def test_reconcile_does_not_double_send_what_is_in_flight(
    aio: AsyncSession, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:6])
    sync.push(items)  # enqueued, not delivered
    report = aio.run(sync.reconcile(items, adapter))
    assert report.resent == ()
    assert report.in_flight == tuple(sorted(i.implementation_code for i in items))
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    assert sorted(sent_codes(province)) == sorted(i.implementation_code for i in items)


def test_reconcile_schedule(
    aio: AsyncSession, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    on_demand = _sync(store, virtual_clock, reconcile_interval=None)
    assert not on_demand.reconcile_due()
    sync = _sync(store, virtual_clock, reconcile_interval=3600.0)
    assert sync.reconcile_due()
    assert sync.last_reconciled_at() is None
    aio.run(sync.reconcile([], adapter))
    assert sync.last_reconciled_at() == virtual_clock.time()
    assert not sync.reconcile_due()
    virtual_clock.advance(3600)
    assert sync.reconcile_due()


def test_reconcile_retries_a_transient_digest_failure(
    aio: AsyncSession, store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    sync = _sync(store, virtual_clock)
    aio.run(sync.reconcile([], adapter))  # a token first
    province.set_faults("error500:count=2")
    report = aio.run(sync.reconcile(list(sample_items()[:3]), adapter))
    assert len(report.resent) == 3
    assert [e.status for e in province.journal][-3:] == [500, 500, 200]


def test_catalog_sync_on_every_store(
    aio: AsyncSession, any_store: Store, virtual_clock: VirtualClock
) -> None:
    province = make_province(virtual_clock)
    adapter = aio.adapter("reference", province)
    sync = CatalogSync(Outbox(any_store, clock=virtual_clock), clock=virtual_clock)
    items = list(sample_items()[:10])
    sync.push(items)
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    assert sync.pending() == []
    new_items, expected = changed(items)
    report = sync.push(new_items)
    assert {c.implementation_code: c.change for c in report.changes} == expected
    assert sorted(sync.pending()) == sorted(expected)
    aio.run(drain_with_outbox(sync.outbox, adapter, CATALOG_ITEM, virtual_clock))
    assert sync.acknowledged_hashes() == {
        i.implementation_code: i.content_hash() for i in new_items
    }
    reconciled = aio.run(sync.reconcile(new_items, adapter))
    assert (reconciled.matching, reconciled.resent) == (11, ())


def test_catalog_state_out_of_step_with_the_outbox_is_refused(
    store: SQLiteStore, virtual_clock: VirtualClock
) -> None:
    from govlink.sync import SyncError

    sync = _sync(store, virtual_clock)
    items = list(sample_items()[:3])
    sync.push(items)
    with store.transaction() as conn:  # the catalog tables restored from an older backup
        conn.execute("DELETE FROM catalog_item")
        conn.execute("DELETE FROM catalog_change")
    with pytest.raises(SyncError, match="disagree"):
        sync.push(items)
    with store.transaction(write=False) as conn:
        assert conn.scalar("SELECT COUNT(*) FROM catalog_item") == 0  # rolled back
