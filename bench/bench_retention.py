"""A year of data: table and index sizes and dead tuples, before and after retention.

The sample year of events (in time order) goes through the outbox on a virtual clock that
follows the events' own times: each week's events are enqueued, then claimed and acknowledged
in batches of 500 with a ``send`` and an ``ack`` journal record per batch, as the dispatcher
does (the platform itself is not needed to grow the tables). Two runs, each in a fresh store:

* ``no retention``: the year accumulates; at the end, one ``retain`` (archive + purge of what
  is older than 90 days), measured right after it (dead tuples) and after ``VACUUM``;
* ``monthly``: ``retain`` every 30 days during the year (what ``govlink sync run
  --retain-every 30d`` does), on PostgreSQL each followed by a ``VACUUM`` (the year runs in
  seconds, too fast for autovacuum): the steady state an operator sees.

Measured on PostgreSQL: ``pg_relation_size`` of each table and its indexes (``pg_indexes_size``)
and ``n_dead_tup``; on SQLite: the file's pages in use and free. Also the archive's size.

    .venv/bin/python bench/bench_retention.py --events 650000    # SQLite
    .venv/bin/python bench/bench_retention.py --events 100000 --postgres postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from bench_sync import canonical, year_events

from govlink import VirtualClock
from govlink.store import Store, open_store
from govlink.sync import CASE_EVENT, JournalRecord, NewEntry, Outbox

TABLES = ("sync_entry", "sync_lane", "sync_journal")
WEEK = 7 * 86400.0
YEAR_EVENTS = 650_000  # the sample year (130,000 cases)


def sizes(store: Store) -> dict[str, Any]:
    with store.transaction(write=False) as conn:
        if store.dialect == "sqlite":
            page = int(conn.scalar("PRAGMA page_size"))
            pages = int(conn.scalar("PRAGMA page_count"))
            free = int(conn.scalar("PRAGMA freelist_count"))
            return {
                "file_mb": round(pages * page / 2**20, 1),
                "free_mb": round(free * page / 2**20, 1),
            }
        out: dict[str, Any] = {}
        for table in TABLES:
            heap, indexes, dead, live = conn.fetchone(
                "SELECT pg_relation_size(c.oid), pg_indexes_size(c.oid), "
                "COALESCE(s.n_dead_tup, 0), COALESCE(s.n_live_tup, 0) FROM pg_class c "
                "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relname = ? "
                "AND c.relnamespace = to_regnamespace(current_schema())::oid",
                (table,),
            )
            out[table] = {
                "table_mb": round(int(heap) / 2**20, 1),
                "indexes_mb": round(int(indexes) / 2**20, 1),
                "live": int(live),
                "dead": int(dead),
            }
        return out


def vacuum(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as raw:
        raw.execute("VACUUM sync_entry, sync_lane, sync_journal")


def measure(store: Store) -> dict[str, Any]:
    if store.dialect == "postgresql":
        time.sleep(1.5)  # table statistics reach pg_stat_user_tables about once a second
    return sizes(store)


def drain(outbox: Outbox) -> int:
    sent = 0
    while True:
        claim = outbox.claim(CASE_EVENT, 500)
        if not claim.deliveries:
            return sent
        keys = [d.idempotency_key for d in claim.deliveries]
        send = JournalRecord("send", "cases", len(keys), "0" * 64, {"keys": keys})
        ack = JournalRecord("ack", "cases", len(keys), "0" * 64, {"applied": len(keys)})
        outbox.settle(claim.deliveries, journal=[send, ack])
        sent += len(keys)


def sampled_year(events: int) -> Iterator[dict[str, Any]]:
    """The whole sample year, thinned to about ``events`` by keeping a fixed share of cases
    (every event of a kept case): a reduced run still spans twelve months."""
    share = min(1.0, events / YEAR_EVENTS)
    for e in year_events(YEAR_EVENTS):
        if zlib.crc32(e["case_number"].encode()) % 10_000 < share * 10_000:
            yield e


def year(store: Store, events: int, retain_every: float | None, archive: Path) -> dict[str, Any]:
    first = next(iter(sampled_year(events)))
    clock = VirtualClock(datetime.fromisoformat(first["time"]))
    outbox = Outbox(store, clock=clock, retention_seconds=90 * 86400.0)
    week: list[dict[str, Any]] = []
    week_end = clock.time() + WEEK
    last_retain = clock.time()
    purged = 0
    t0 = time.perf_counter()

    def flush() -> None:
        rows = (
            (e["hall"], CASE_EVENT, e["case_number"], e["sequence"], canonical(e), None)
            for e in week
        )
        outbox.enqueue(cast(Iterator[NewEntry], rows))
        drain(outbox)
        week.clear()

    for e in sampled_year(events):
        at = datetime.fromisoformat(e["time"]).timestamp()
        if at >= week_end:
            flush()
            clock.advance(max(0.0, week_end - clock.time()))
            week_end += WEEK
            if retain_every is not None and clock.time() - last_retain >= retain_every:
                purged += outbox.retain(archive).entries
                last_retain = clock.time()
                if store.dialect == "postgresql":
                    # The year runs in seconds here, too fast for autovacuum (which in a real
                    # month has run many times): vacuum as it would have, so that freed space
                    # is reused and the steady state shows.
                    vacuum(store.url)
        week.append(e)
    flush()
    return {"seconds": round(time.perf_counter() - t0, 1), "purged_during_year": purged,
            "clock_end": clock.now().isoformat(timespec="seconds")}  # fmt: skip


def archive_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.glob("*.gz")) / 2**20, 1)


def run(url: str, events: int, monthly: bool, tmp: Path) -> dict[str, Any]:
    store = open_store(url)
    folder = tmp / ("monthly" if monthly else "end")
    result: dict[str, Any] = {"mode": "monthly" if monthly else "no retention"}
    result["year"] = year(store, events, 30 * 86400.0 if monthly else None, folder)
    result["after_year"] = measure(store)
    if not monthly:
        outbox = Outbox(store, retention_seconds=90 * 86400.0, migrate=False)
        outbox.clock = VirtualClock(datetime.fromisoformat(result["year"]["clock_end"]))
        t0 = time.perf_counter()
        report = outbox.retain(folder)
        result["retain"] = {**report.to_dict(), "seconds": round(time.perf_counter() - t0, 1)}
        result["after_purge"] = measure(store)
        if store.dialect == "postgresql":  # what autovacuum does on its own, done now
            vacuum(url)
            result["after_vacuum"] = measure(store)
    result["archive_mb"] = archive_mb(folder)
    store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=650_000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (default: SQLite)")
    args = parser.parse_args()
    from bench_latency import fresh_store_url

    for monthly in (False, True):
        with tempfile.TemporaryDirectory() as tmp, fresh_store_url(args.postgres, Path(tmp)) as url:
            print(json.dumps(run(url, args.events, monthly, Path(tmp))), flush=True)


if __name__ == "__main__":
    main()
