"""Freshness: how long after a hall commits an event does the province apply it?

A producer commits events one per transaction, at a steady rate, through the public API (as a
hall would: ``parse_case_event`` then ``Outbox.enqueue_events`` inside the hall's own
``store.transaction()``), while long-running workers (``govlink sync run``, in their own
processes, started and idle before the load) deliver them to the mock province served by
uvicorn in another process. The mock's journal keeps every request's time and body, so

    latency = time the platform applied the event − time the producer's commit returned

for every event, both on this machine's clock. Reported: p50 / p90 / p99 / max, and the events
the platform saw twice (``duplicates``, must be 0) or never.

    .venv/bin/python bench/bench_latency.py                       # SQLite, 100 and 500 events/s
    .venv/bin/python bench/bench_latency.py --postgres postgresql://postgres@127.0.0.1/postgres
    .venv/bin/python bench/bench_latency.py --rates 100 --seconds 10 --workers 2

With ``--postgres`` the bench creates a database of its own on that server and drops it after.

``--round-trips N`` measures instead what one enqueue costs on PostgreSQL: N events of distinct
cases (N/2 new lanes, then N/2 second events of the same cases), each committed in its own
transaction in this process, counting the client's waits on the server (round trips, BEGIN and
COMMIT included) and the statements sent:

    .venv/bin/python bench/bench_latency.py --round-trips 1000 \\
        --postgres postgresql://postgres@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_sync import mock_process, year_events

from govlink._http import httpx
from govlink.domain import parse_case_event
from govlink.store import Store, open_store
from govlink.sync import CASE_EVENT, FairShare, JournalRecord, Outbox


@contextmanager
def fresh_store_url(postgres: str | None, tmp: Path) -> Iterator[str]:
    """A SQLite file in ``tmp``, or a database of its own on the ``postgres`` server."""
    if postgres is None:
        yield f"sqlite:///{tmp / 'govlink.db'}"
        return
    import psycopg

    name = f"govlink_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = postgres.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


#: The worker's request rate, set below the platform's quota as an operator would (the served
#: mock allows 200 requests/s per client): a 429 carries Retry-After, which holds the whole
#: endpoint for a second, so the worker must not provoke one. 0: no limit.
WORKER_RATE_LIMIT = 180.0


def start_worker(store_url: str, province: str, home: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "govlink", "sync", "run", "--store", store_url,
           "--province", province, "--concurrency", "4"]  # fmt: skip
    if WORKER_RATE_LIMIT:
        cmd += ["--rate-limit", str(WORKER_RATE_LIMIT)]
    env = {**os.environ, "GOVLINK_HOME": str(home)}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603 - fixed arguments


#: Requests the platform answered 429 (its quota) in the last measurement.
THROTTLED = 0


def applied_times(url: str) -> tuple[dict[tuple[str, int], float], int]:
    """(case, sequence) -> time the platform applied it; and how many repeats it saw."""
    applied: dict[tuple[str, int], float] = {}
    repeats = 0
    since = 0
    global THROTTLED  # a diagnostic beside the figures
    THROTTLED = 0
    while True:
        page = httpx.get(f"{url}/admin/journal", params={"since": since, "limit": 2000}, timeout=60)
        entries = page.json()["entries"]
        if not entries:
            break
        for entry in entries:
            since = int(entry["index"]) + 1
            THROTTLED += entry.get("status") == 429
            body = entry.get("body")
            if not body or not entry["path"].endswith("events:batch"):
                continue
            events = json.loads(body).get("events", [])
            for event, outcome in zip(events, entry["outcomes"], strict=False):
                slot = (str(event["case_number"]), int(event["sequence"]))
                if outcome == "A":
                    if slot in applied:
                        repeats += 1
                    applied.setdefault(slot, float(entry["time"]))
                elif outcome == "D":
                    repeats += 1
    return applied, repeats


def produce(
    store: Store, outbox: Outbox, rate: float, count: int, threads: int
) -> dict[tuple[str, int], float]:
    """Commit ``count`` events one per transaction at ``rate`` per second; commit times.

    Event ``i`` is due at ``start + i / rate``; ``threads`` clerks commit them (several
    hall requests at once, as in a hall), each taking the next due event. Events of one case
    are committed in sequence order (a clerk waits for the case's previous commit)."""
    events = [parse_case_event(e) for e in year_events(count)]
    committed: dict[tuple[str, int], float] = {}
    lock = threading.Lock()
    position = itertools.count()
    start = time.monotonic()

    def clerk() -> None:
        while True:
            with lock:
                i = next(position)
            if i >= len(events):
                return
            event = events[i]
            wait = start + i / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            while event.sequence > 1 and (event.case_number, event.sequence - 1) not in committed:
                time.sleep(0.001)
            with store.transaction() as conn:  # the hall's own transaction
                outbox.enqueue_events([event], conn=conn)
            committed[(event.case_number, event.sequence)] = time.time()

    pool = [threading.Thread(target=clerk) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return committed


def measure(
    store_url: str, rate: float, seconds: float, workers: int, clerks: int, tmp: Path
) -> dict[str, Any]:
    count = int(rate * seconds)
    store = open_store(store_url)
    outbox = Outbox(store)  # migrates before the workers start
    with mock_process(capture_bodies=True) as province:
        procs = [start_worker(store_url, province, tmp) for _ in range(workers)]
        try:
            time.sleep(3.0)  # the workers start up and go idle before the load begins
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(p.stderr.read().decode() if p.stderr else "worker died")
            t0 = time.perf_counter()
            committed = produce(store, outbox, rate, count, clerks)
            produced_s = time.perf_counter() - t0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                state = httpx.get(province + "/admin/state", timeout=30).json()
                if state["events_applied"] >= count:
                    break
                time.sleep(0.2)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
        applied, repeats = applied_times(province)
    store.close()
    lat = sorted((applied[slot] - at) * 1000 for slot, at in committed.items() if slot in applied)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return {
        "store": store_url.split(":", 1)[0],
        "rate": rate,
        "workers": workers,
        "clerks": clerks,
        "events": count,
        "achieved_rate": round(count / produced_s, 1),
        "p50_ms": round(q[49], 1),
        "p90_ms": round(q[89], 1),
        "p99_ms": round(q[98], 1),
        "max_ms": round(lat[-1], 1) if lat else None,
        "missing": count - len(lat),
        "duplicates": repeats,
        "throttled_requests": THROTTLED,
    }


def round_trips(store_url: str, count: int) -> dict[str, Any]:
    """Round trips and statements per single-event enqueue transaction (PostgreSQL)."""
    import psycopg

    events = [parse_case_event(e) for e in year_events(count * 4)]
    firsts = {e.case_number: e for e in reversed(events) if e.sequence == 1}
    seconds = {e.case_number: e for e in events if e.sequence == 2 and e.case_number in firsts}
    cases = list(seconds)[: count // 2]
    plan = [firsts[c] for c in cases] + [seconds[c] for c in cases]
    counts = {"waits": 0, "statements": 0}
    real_wait = psycopg.Connection.wait
    real_execute = psycopg.Cursor.execute
    real_many = psycopg.Cursor.executemany

    # Every blocking exchange goes through Connection.wait; in pipeline mode, entering and
    # queueing a statement go through it too without waiting for the server (only the
    # pipeline's end does): those are not round trips.
    queued = {"BasePipeline._enter_gen", "BaseCursor._executemany_gen_pipeline"}

    def wait(self: Any, gen: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(gen, "__qualname__", "")
        in_pipeline = name == "BaseCursor._execute_gen" and self._pipeline is not None
        if name not in queued and not in_pipeline:
            counts["waits"] += 1
        return real_wait(self, gen, *args, **kwargs)

    def execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        counts["statements"] += 1
        return real_execute(self, query, params, **kwargs)

    def executemany(self: Any, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        rows = list(params_seq)
        counts["statements"] += len(rows)
        return real_many(self, query, rows, **kwargs)

    store = open_store(store_url)
    outbox = Outbox(store)
    result: dict[str, Any] = {"store": store_url.split(":", 1)[0], "transactions": len(plan)}
    patches = {"wait": wait, "execute": execute, "executemany": executemany}
    try:
        psycopg.Connection.wait = patches["wait"]  # type: ignore[method-assign]
        psycopg.Cursor.execute = patches["execute"]  # type: ignore[method-assign]
        psycopg.Cursor.executemany = patches["executemany"]  # type: ignore[method-assign]
        half = len(cases)
        for label, part in (("new_lane", plan[:half]), ("existing_lane", plan[half:])):
            counts.update(waits=0, statements=0)
            t0 = time.perf_counter()
            for event in part:
                with store.transaction() as conn:
                    outbox.enqueue_events([event], conn=conn)
            elapsed = time.perf_counter() - t0
            result[label] = {
                "round_trips_per_enqueue": round(counts["waits"] / len(part), 2),
                "statements_per_enqueue": round(counts["statements"] / len(part), 2),
                "enqueues_per_s_one_thread": round(len(part) / elapsed, 1),
            }
        # The worker's side, as the dispatcher does it: claim batches of 10 (fair share over
        # the halls, with the send's journal record), settle each (journal record, keep).
        fair = FairShare({})
        claims = settles = 0
        waits = {"claim": 0, "settle": 0}
        while True:
            counts["waits"] = 0
            with store.transaction() as conn:
                claim = outbox.claim(CASE_EVENT, 10, fair=fair, conn=conn)
                record = JournalRecord("send", "bench", len(claim.deliveries), "0" * 64, {})
                outbox.journal([record], conn=conn)
            if not claim.deliveries:
                break
            waits["claim"] += counts["waits"]
            claims += 1
            counts["waits"] = 0
            kept = outbox.settle(claim.deliveries, journal=[record], keep=True)
            waits["settle"] += counts["waits"]
            settles += 1
            outbox.release_kept(kept)
        result["worker_batches_of_10"] = {
            "round_trips_per_claim": round(waits["claim"] / max(claims, 1), 2),
            "round_trips_per_settle": round(waits["settle"] / max(settles, 1), 2),
            "batches": claims,
        }
    finally:
        psycopg.Connection.wait = real_wait  # type: ignore[method-assign]
        psycopg.Cursor.execute = real_execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = real_many  # type: ignore[method-assign]
        store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (default: SQLite)")
    parser.add_argument("--rates", default="100,500", help="events per second (comma list)")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration per rate")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument(
        "--worker-rate-limit",
        type=float,
        default=180.0,
        help="each worker's requests/s, below the platform's quota (0: none; default 180)",
    )
    parser.add_argument("--clerks", type=int, default=4, help="producer threads (default 4)")
    parser.add_argument(
        "--round-trips", type=int, metavar="N", help="count round trips of N enqueues instead"
    )
    args = parser.parse_args()
    global WORKER_RATE_LIMIT  # the workers are started deep in measure()
    WORKER_RATE_LIMIT = args.worker_rate_limit
    if args.round_trips:
        if args.postgres is None:
            parser.error("--round-trips needs --postgres")
        with tempfile.TemporaryDirectory() as tmp, fresh_store_url(args.postgres, Path(tmp)) as url:
            print(json.dumps(round_trips(url, args.round_trips)), flush=True)
        return
    for rate in (float(r) for r in args.rates.split(",")):
        with tempfile.TemporaryDirectory() as tmp, fresh_store_url(args.postgres, Path(tmp)) as url:
            result = measure(url, rate, args.seconds, args.workers, args.clerks, Path(tmp))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
