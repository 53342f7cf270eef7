"""Many workers on one PostgreSQL store (``bench_sync.py --store postgresql://… --workers …``).

For each worker count: a fresh database holding the same year of events (copied from a template
database filled once), the mock province in its own process, and that many ``govlink sync run
--until-empty`` processes. One worker is killed with SIGKILL when about a third of the events
are applied, and a replacement is started at once: the run must still end with every event
applied exactly once, in per-case order (the mock refuses repeats, gaps and out-of-order
sequences itself), nothing pending or parked, and the evidence journal intact.

Reported per worker count: events/s (wall clock, kill included), CPU seconds per 1,000 events
spent by the workers (``wait4`` rusage of each worker process), by PostgreSQL (the backends
serving this database, sampled from ``/proc`` every 0.2 s; shared background processes such as
the WAL writer are not counted) and by the mock; and, from an in-process run with a counting
store, the database round trips per batch (statements plus BEGIN/COMMIT).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import psycopg

from govlink._http import httpx
from govlink.store import open_store
from govlink.store._postgres import _PostgresConnection
from govlink.sync import CASE_EVENT, Dispatcher, NewEntry, Outbox, load_adapter, verify_journal

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


@contextmanager
def database(server: str, name: str, template: str | None = None) -> Iterator[str]:
    with psycopg.connect(server, autocommit=True) as admin:
        extra = f' TEMPLATE "{template}"' if template else ""
        admin.execute(f'CREATE DATABASE "{name}"{extra}')
    base, _, _ = server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving one database (sampled from /proc)."""

    def __init__(self, server: str, dbname: str) -> None:
        self._server = server
        self._db = dbname
        self._last: dict[int, float] = {}
        self._first: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(self._server, autocommit=True) as watch:
            me = watch.info.backend_pid
            while not self._stop.is_set():
                pids = [
                    int(r[0])
                    for r in watch.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                        (self._db, me),
                    )
                ]
                for pid in pids:
                    cpu = _cpu_of(pid)
                    if cpu is not None:
                        self._first.setdefault(pid, cpu)
                        self._last[pid] = cpu
                self._stop.wait(0.2)

    def __enter__(self) -> BackendCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self._last[p] - self._first.get(p, 0.0) for p in self._last)


def fill_template(server: str, name: str, events: int) -> None:
    """A database holding ``events`` queued events: every run copies it (CREATE ... TEMPLATE)."""
    from bench_sync import canonical, year_events

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server.rpartition("/")
    store = open_store(f"{base}/{name}")
    outbox = Outbox(store)
    rows = (
        (e["hall"], CASE_EVENT, e["case_number"], e["sequence"], canonical(e), None)
        for e in year_events(events)
    )
    result = outbox.enqueue(cast(Iterator[NewEntry], rows), chunk=20_000)
    assert result.accepted == events, result
    store.close()


def _worker(url: str, province: str, home: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "govlink", "sync", "run", "--until-empty", "--store", url,
           "--province", province, "--lease", "5", "--json"]  # fmt: skip
    env = {**os.environ, "GOVLINK_HOME": str(home)}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603


def run_workers(
    server: str, template: str, workers: int, events: int, *, kill: bool = True
) -> dict[str, Any]:
    from bench_sync import mock_process_with_pid

    name = f"govlink_scale_{uuid.uuid4().hex[:8]}"
    home = Path(tempfile.mkdtemp(prefix="govlink-scale-"))
    with database(server, name, template) as url, mock_process_with_pid() as (province, mock):
        mock_cpu0 = _cpu_of(mock) or 0.0
        worker_cpu = 0.0
        killed = 0
        with BackendCpu(server, name) as pg:
            t0 = time.perf_counter()
            procs = [_worker(url, province, home) for _ in range(workers)]
            while procs:
                for p in list(procs):
                    pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                    if pid:
                        p.returncode = os.waitstatus_to_exitcode(status)
                        worker_cpu += usage.ru_utime + usage.ru_stime
                        procs.remove(p)
                        if p.returncode not in (0, -signal.SIGKILL):
                            err = p.stderr.read().decode() if p.stderr else ""
                            raise RuntimeError(f"worker failed ({p.returncode}): {err[-2000:]}")
                if kill and not killed:
                    applied = httpx.get(province + "/admin/state", timeout=30).json()
                    if applied["events_applied"] >= events // 3:
                        victim = procs[0]
                        victim.send_signal(signal.SIGKILL)  # mid-run, mid-batch
                        killed = 1
                        procs.append(_worker(url, province, home))  # the replacement
                time.sleep(0.05)
            elapsed = time.perf_counter() - t0
        mock_cpu = (_cpu_of(mock) or 0.0) - mock_cpu0
        state = httpx.get(province + "/admin/state", timeout=60).json()
        store = open_store(url)
        status = Outbox(store, migrate=False).status()
        journal = verify_journal(store)
        store.close()
    per_k = 1000 / events
    return {
        "workers": workers,
        "events": events,
        "seconds": round(elapsed, 1),
        "events_per_s": round(events / elapsed),
        "killed": killed,
        "cpu_s_per_1000": {
            "workers": round(worker_cpu * per_k, 3),
            "postgresql": round(pg.seconds * per_k, 3),
            "mock": round(mock_cpu * per_k, 3),
        },
        "applied": state["events_applied"],
        "exactly_once_in_order": state["events_applied"] == events
        and status.pending == 0
        and status.parked == 0,
        "journal_records": journal.records,
    }


class _CountingStore:
    """Counts round trips: every statement, and BEGIN and COMMIT of each transaction."""

    def __init__(self) -> None:
        self.trips = 0
        original_execute = _PostgresConnection.execute
        original_many = _PostgresConnection.executemany

        def execute(conn: Any, sql: str, params: Any = ()) -> Any:
            self.trips += 1
            return original_execute(conn, sql, params)

        def executemany(conn: Any, sql: str, rows: Any) -> None:
            self.trips += 1  # psycopg pipelines executemany: one round trip
            original_many(conn, sql, rows)

        self._patches = (execute, executemany)
        self._originals = (original_execute, original_many)

    def __enter__(self) -> _CountingStore:
        _PostgresConnection.execute = self._patches[0]  # type: ignore[method-assign]
        _PostgresConnection.executemany = self._patches[1]  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        _PostgresConnection.execute = self._originals[0]  # type: ignore[method-assign]
        _PostgresConnection.executemany = self._originals[1]  # type: ignore[method-assign]


def round_trips(server: str, template: str, events: int) -> dict[str, float]:
    """Deliver in-process with a counting store; round trips per batch (request)."""
    from bench_sync import NODELAY, mock_process

    name = f"govlink_trips_{uuid.uuid4().hex[:8]}"
    with database(server, name, template) as url, mock_process() as province:
        store = open_store(url)
        outbox = Outbox(store, migrate=False)
        adapter = load_adapter(
            "reference", base_url=province,
            transport=httpx.AsyncHTTPTransport(socket_options=NODELAY),
        )  # fmt: skip
        acknowledged = 0

        def progress(n: int) -> None:
            nonlocal acknowledged
            acknowledged += n
            if acknowledged >= events:
                dispatcher.stop()

        dispatcher = Dispatcher(outbox, adapter, concurrency=4, on_progress=progress)
        transactions = 0
        original = store.transaction

        def counted(*a: Any, **k: Any) -> Any:
            nonlocal transactions
            transactions += 1
            return original(*a, **k)

        store.transaction = counted  # type: ignore[method-assign]

        async def run() -> Any:
            try:
                return await dispatcher.run(until_empty=True)
            finally:
                await adapter.aclose()

        with _CountingStore() as counter:
            counters = asyncio.run(run())
        store.close()
    requests = max(1, counters.requests)
    return {
        "events": counters.sent,
        "requests": counters.requests,
        "events_per_request": round(counters.sent / requests, 1),
        "round_trips_per_batch": round((counter.trips + 2 * transactions) / requests, 1),
        "transactions_per_batch": round(transactions / requests, 1),
    }


def scale(server: str, worker_counts: list[int], events: int) -> None:
    template = f"govlink_tpl_{uuid.uuid4().hex[:8]}"
    print(f"scale-out on PostgreSQL: {events:,} events, workers {worker_counts}, "
          f"{os.cpu_count()} cores shared by workers, PostgreSQL and the mock")  # fmt: skip
    t0 = time.perf_counter()
    fill_template(server, template, events)
    print(f"enqueue      {time.perf_counter() - t0:7.1f} s (PostgreSQL, 20,000-row chunks)")
    try:
        for w in worker_counts:
            result = run_workers(server, template, w, events)
            print(f"workers={w}    {result}", flush=True)
        trips = round_trips(server, template, min(events, 50_000))
        print(f"round trips  {trips}")
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
