"""Soak: a steady rate for a long time, with retention running in the worker.

A producer thread commits events one per transaction at a steady rate (real clock) while a
long-running dispatcher delivers them to the mock province and archives/purges acknowledged
entries on a schedule. Checked: every event applied exactly once in order, the entry table stays
bounded (retention keeps up), the journal verifies through the archives; with ``-m soak``
(30 minutes) also that throughput drifts by at most 10% between the first and last five
minutes. The default run is a bounded version (a few seconds; no timing assertions).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sync_core_support import as_entries, reference_adapter, sample_events

from govlink.store import Store
from govlink.sync import Dispatcher, Outbox, read_archive, verify_journal
from govlink.testing import MockProvince


def _soak(
    store: Store, tmp_path: Path, *, seconds: float, rate: float, retention: float, window: float
) -> dict[str, Any]:
    outbox = Outbox(store, retention_seconds=retention, lease_seconds=10)
    province = MockProvince()
    count = int(seconds * rate)
    events = sample_events(max(40, count // 4))[:count]
    archive = tmp_path / "archive"
    dispatcher = Dispatcher(
        outbox, reference_adapter(province, outbox.clock), retain_every=retention / 2,
        archive_dir=archive,
    )  # fmt: skip
    delivered: list[tuple[float, int]] = []
    table: list[int] = []
    done = threading.Event()

    def produce() -> None:
        start = time.monotonic()
        for i, entry in enumerate(as_entries(events)):
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            with store.transaction() as conn:
                outbox.enqueue([entry], conn=conn)
        done.set()

    async def run() -> None:
        task = asyncio.create_task(dispatcher.run())
        producer = threading.Thread(target=produce)
        producer.start()
        last = time.monotonic()
        while not (done.is_set() and len(province.core.applied_event_log()) >= count):
            await asyncio.sleep(window / 10)
            if time.monotonic() - last >= window:
                last = time.monotonic()
                delivered.append((last, len(province.core.applied_event_log())))
                with store.transaction(write=False) as conn:
                    table.append(int(conn.scalar("SELECT COUNT(*) FROM sync_entry")))
        dispatcher.stop()
        await task
        producer.join()

    asyncio.run(run())
    province.journal.assert_each_event_applied_once_in_order(events)
    assert outbox.status().pending == 0
    journal = [x for p in sorted(archive.glob("*.gz")) for x in read_archive(p)]
    verify_journal(store, archived=sorted((x for x in journal if x["kind"] == "journal"),
                                          key=lambda r: int(r["n"])))  # fmt: skip
    return {
        "count": count,
        "delivered": delivered,
        "table": table,
        "purged": dispatcher.counters.purged,
    }


def test_a_bounded_soak_keeps_the_table_bounded(any_store: Store, tmp_path: Path) -> None:
    result = _soak(any_store, tmp_path, seconds=5, rate=60, retention=1.0, window=0.5)
    assert result["purged"] > 0  # retention ran while delivering
    # Retention keeps up: the table holds about what the retention period plus one schedule
    # turn produce (60 x 1.5 = 90 entries), with slack for a loaded machine — far below the
    # 300 produced.
    assert max(result["table"]) <= 0.6 * result["count"], result["table"]


@pytest.mark.soak
def test_a_thirty_minute_soak_holds_throughput_and_table_size(
    any_store: Store, tmp_path: Path
) -> None:
    result = _soak(any_store, tmp_path, seconds=1800, rate=50, retention=120, window=60)
    counts = [n for _, n in result["delivered"]]
    per_window = [b - a for a, b in itertools.pairwise(counts)]
    first, last = sum(per_window[:5]), sum(per_window[-6:-1])  # the last window may be partial
    assert abs(last - first) <= 0.10 * first, (first, last)
    bound = 50 * (120 + 60 + 60) * 1.5  # retention + schedule turn + one window, with slack
    assert max(result["table"][5:]) <= bound, result["table"]
