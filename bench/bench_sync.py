"""Case status sync, end to end: enqueue a year of events, deliver them to the served mock.

Measured in one run on this machine, against baselines measured in the same run:

* ``enqueue``   the sample generator's year of events (130,000 cases, ~650,000 events) into the
                SQLite outbox (pre-validated generator rows through ``Outbox.enqueue``; the time
                of the generator itself is reported apart). The validated public path
                (``parse_case_event`` per event, what ``govlink sync cases`` does) is measured on
                a sample and reported as a rate.
* ``deliver``   from the outbox to the mock province served by uvicorn in ANOTHER process on a
                loopback port, through the real ``reference`` adapter, with every guarantee on:
                leases, per-case FIFO, idempotency keys, the evidence journal, the retry budget,
                the circuit breaker, the client-side rate limit at the mock's quota, fair draining.
* ``faults``    the same delivery with 5% transient faults (``error500:rate=0.05``) — ratio to
                the fault-free time.
* ``naive``     one POST per event, one after another (same adapter, no outbox), on a sample;
                the rate is extrapolated to the volume.
* ``ceiling``   the served mock's own ingest rate: pre-encoded batches of the adapter's size
                posted by 4 concurrent clients (no outbox, no journal, nothing to wait for).
* ``memory``    peak RSS of the delivering process at 3 volumes, each delivered in a fresh
                process after the enqueue ran in another one, and its RSS over the run.

Correctness is checked, not assumed: after each delivery the platform's state must hold exactly
N applied events (it refuses repeats, gaps and out-of-order sequences itself), the outbox no
pending or parked entry, and the evidence journal must verify.

    .venv/bin/python bench/bench_sync.py                 # the full run (650,000 events)
    .venv/bin/python bench/bench_sync.py --quick         # 40,000 events, a quick look
    .venv/bin/python bench/bench_sync.py --events 200000
    .venv/bin/python bench/bench_sync.py --store postgresql://postgres@127.0.0.1/postgres \\
        --workers 1,2,4 --events 650000           # many workers on PostgreSQL (bench_scale.py)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from govlink._http import httpx
from govlink.adapters.reference import wire as ref
from govlink.domain import parse_case_event
from govlink.samples import iter_events, load_sample_catalog, year_of_cases
from govlink.store import SQLiteStore
from govlink.sync import (
    CASE_EVENT,
    Dispatcher,
    NewEntry,
    Outbox,
    load_adapter,
    verify_journal,
)
from govlink.sync.adapter import Delivery

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
QUOTA = 200.0  # the mock's default request quota per client (requests/s)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mock_process(
    faults: str | None = None, *, quota: bool = True, capture_bodies: bool = False
) -> Iterator[str]:
    """The mock province served by ``govlink mock-province serve`` in its own process."""
    with mock_process_with_pid(faults, quota=quota, capture_bodies=capture_bodies) as (url, _):
        yield url


@contextmanager
def mock_process_with_pid(
    faults: str | None = None, *, quota: bool = True, capture_bodies: bool = False
) -> Iterator[tuple[str, int]]:
    """:func:`mock_process`, also giving the server's process id (for its CPU time)."""
    port = _free_port()
    cmd = [sys.executable, "-m", "govlink", "mock-province", "serve", "--port", str(port)]
    cmd += ["--adapter", "reference"]
    if faults:
        cmd += ["--faults", faults, "--seed", "1"]
    if not quota:
        cmd.append("--no-rate-limit")
    if capture_bodies:
        cmd.append("--capture-bodies")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603 - fixed arguments
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/admin/state", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the mock province did not start") from None
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def mock_state(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(url + "/admin/state", timeout=30).json()
    return data


def year_events(count: int) -> Iterator[dict[str, Any]]:
    """The first ``count`` events of the sample year, in time order (streamed)."""
    catalog = load_sample_catalog()
    stream = iter_events(year_of_cases(catalog.items), order="time")
    yield from itertools.islice(stream, count)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def canonical(event: dict[str, Any]) -> str:
    return _ENCODER.encode(event)


def enqueue_year(db: Path, count: int) -> dict[str, float]:
    """Stream the generator into the outbox; time the generator and the enqueue apart."""
    store = SQLiteStore(db)
    outbox = Outbox(store)
    gen_s = enq_s = 0.0
    accepted = 0
    stream = year_events(count)
    chunk_size = 100_000
    while True:
        t0 = time.perf_counter()
        chunk = [e for _, e in zip(range(chunk_size), stream, strict=False)]
        t1 = time.perf_counter()
        gen_s += t1 - t0
        if not chunk:
            break
        # Plain tuples in NewEntry's field order: the bulk path reads fields by position.
        rows = (
            (e["hall"], CASE_EVENT, e["case_number"], e["sequence"], canonical(e), None)
            for e in chunk
        )
        result = outbox.enqueue(cast(Iterator[NewEntry], rows), chunk=chunk_size)
        enq_s += time.perf_counter() - t1
        accepted += result.accepted
    store.close()  # the last connection's close checkpoints the WAL into the file
    assert accepted == count, (accepted, count)
    return {"events": accepted, "enqueue_s": enq_s, "generate_s": gen_s}


def validated_rate(sample: int) -> float:
    events = list(year_events(sample))
    t0 = time.perf_counter()
    for e in events:
        parse_case_event(e).model_dump_json()
    return sample / (time.perf_counter() - t0)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def deliver(db: Path, url: str) -> dict[str, Any]:
    """Deliver the outbox in ``db`` to ``url`` with every guarantee on; verify the result."""
    store = SQLiteStore(db)
    outbox = Outbox(store)
    pending = outbox.status().pending
    adapter = load_adapter(
        "reference",
        base_url=url,
        transport=httpx.AsyncHTTPTransport(socket_options=NODELAY),
        requests_per_second=QUOTA,
    )
    dispatcher = Dispatcher(outbox, adapter, concurrency=4)

    async def run() -> Any:
        try:
            return await dispatcher.run(until_empty=True)
        finally:
            await adapter.aclose()

    t0 = time.perf_counter()
    counters = asyncio.run(run())
    elapsed = time.perf_counter() - t0
    status = outbox.status()
    journal = verify_journal(store)
    store.close()
    applied = mock_state(url)["events_applied"]
    ok = applied == pending and status.pending == 0 and status.parked == 0
    return {
        "events": pending,
        "deliver_s": elapsed,
        "rate": pending / elapsed,
        "requests": counters.requests,
        "failed_requests": counters.failed_requests,
        "duplicates": counters.duplicates,
        "applied_at_platform": applied,
        "journal_records": journal.records,
        "exactly_once_in_order": ok,
        "peak_rss_mb": _peak_rss_mb(),
    }


def naive_rate(url: str, sample: int) -> float:
    """One POST per event, sequentially, through the same adapter (no outbox)."""
    events = list(year_events(sample))
    adapter = load_adapter(
        "reference", base_url=url, transport=httpx.AsyncHTTPTransport(socket_options=NODELAY)
    )

    async def run() -> float:
        t0 = time.perf_counter()
        for e in events:
            key = f"{e['hall']}:case:{e['case_number']}:{e['sequence']}"
            d = Delivery(e["hall"], CASE_EVENT, e["case_number"], e["sequence"], key, canonical(e))
            request = adapter.encode(CASE_EVENT, [d])
            results = adapter.decode(CASE_EVENT, [d], await adapter.send(request))
            assert results[0].outcome.acknowledged, results[0]
        elapsed = time.perf_counter() - t0
        await adapter.aclose()
        return sample / elapsed

    return asyncio.run(run())


def ceiling_rate(url: str, count: int, clients: int = 4) -> float:
    """The served mock's ingest rate: pre-encoded batches, ``clients`` concurrent posters.

    Events are grouped by case (each case's events in order, one client per case), so that
    nothing is refused: the mock does all its work for every event.
    """
    token = httpx.post(
        url + ref.TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        auth=(ref.DEMO_CLIENT_ID, ref.DEMO_CLIENT_SECRET),
    ).json()["access_token"]
    by_case: dict[str, list[dict[str, Any]]] = {}
    for e in year_events(count):
        by_case.setdefault(e["case_number"], []).append(e)
    streams: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
    for i, case_events in enumerate(by_case.values()):
        streams[i % clients].extend(case_events)
    payloads = [
        [
            (
                '{"events":['
                + ",".join(canonical(e) for e in s[k : k + ref.MAX_EVENT_BATCH])
                + "]}"
            ).encode()
            for k in range(0, len(s), ref.MAX_EVENT_BATCH)
        ]
        for s in streams
    ]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    applied = [0] * clients

    def post(index: int) -> None:
        transport = httpx.HTTPTransport(socket_options=NODELAY)
        with httpx.Client(base_url=url, transport=transport, timeout=120) as http:
            for body in payloads[index]:
                answer = http.post(ref.CASE_EVENTS_BATCH_PATH, content=body, headers=headers)
                answer.raise_for_status()
                applied[index] += sum(
                    1 for r in answer.json()["results"] if r["status"] == "applied"
                )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    total = sum(len(s) for s in streams)
    assert sum(applied) == total, (sum(applied), total)
    return total / elapsed


class RssSampler:
    """Resident memory of this process, sampled every 0.2 s from ``/proc/self/statm``."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.rss_mb())
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def quartiles(self) -> list[float]:
        """RSS at 25, 50, 75 and 100 % of the run (flat memory: these stay close)."""
        s = self.samples or [0.0]
        return [round(s[min(len(s) - 1, len(s) * q // 4)], 1) for q in (1, 2, 3, 4)]


def child(events: int, workdir: Path) -> None:
    """One volume: enqueue in ANOTHER process (the year generator holds every case in memory),
    then deliver here, sampling this process's memory; print JSON (the memory figures)."""
    db = workdir / f"child-{events}.db"
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, __file__, "--enqueue-only", "--events", str(events), "--workdir",
         str(db)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    with mock_process() as url, RssSampler() as rss:
        result = deliver(db, url)
    print(json.dumps({**result, "rss_quartiles_mb": rss.quartiles()}))


def run_child(events: int, workdir: Path) -> dict[str, Any]:
    out = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, __file__, "--child", "--events", str(events), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=650_000)
    parser.add_argument("--quick", action="store_true", help="40,000 events, smaller samples")
    parser.add_argument("--naive-events", type=int, default=5_000)
    parser.add_argument(
        "--store", metavar="URL", help="postgresql://... : the scale-out run (see bench_scale.py)"
    )
    parser.add_argument("--workers", default="1,2,4", help="worker counts for --store")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--enqueue-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.events, args.workdir)
        return
    if args.enqueue_only:
        enqueue_year(args.workdir, args.events)
        return
    if args.store:
        from bench_scale import scale

        scale(args.store, [int(w) for w in args.workers.split(",")], args.events)
        return
    events = 40_000 if args.quick else args.events
    naive_n = 1_000 if args.quick else args.naive_events
    workdir = Path(tempfile.mkdtemp(prefix="govlink-bench-sync-"))
    try:
        print(f"govlink sync benchmark: {events:,} case events, {os.cpu_count()} cores")
        db = workdir / "outbox.db"
        enq = enqueue_year(db, events)
        print(
            f"enqueue      {enq['enqueue_s']:7.2f} s  ({events / enq['enqueue_s']:,.0f} events/s;"
            f" the generator itself took {enq['generate_s']:.2f} s more)"
        )
        vrate = validated_rate(min(events, 20_000))
        print(f"  validated public path (parse_case_event): {vrate:,.0f} events/s")
        fault_db = workdir / "outbox-faults.db"
        shutil.copy(db, fault_db)

        with mock_process() as url:
            clean = deliver(db, url)
        print(
            f"deliver      {clean['deliver_s']:7.2f} s  ({clean['rate']:,.0f} events/s, "
            f"{clean['requests']} requests, journal {clean['journal_records']} records, "
            f"exactly once in order: {clean['exactly_once_in_order']})"
        )
        with mock_process("error500:rate=0.05") as url:
            faulty = deliver(fault_db, url)
        print(
            f"5% faults    {faulty['deliver_s']:7.2f} s  ({faulty['failed_requests']} failed "
            f"requests retried; exactly once in order: {faulty['exactly_once_in_order']}); "
            f"ratio to fault-free {faulty['deliver_s'] / clean['deliver_s']:.2f}x (target <= 1.5)"
        )
        with mock_process(quota=False) as url:  # the naive loop would exceed the quota
            naive = naive_rate(url, naive_n)
        print(
            f"naive        {naive:9,.0f} events/s (one POST per event, {naive_n:,} events); "
            f"extrapolated {events / naive:,.0f} s; sync is {clean['rate'] / naive:.1f}x faster "
            "(target >= 30)"
        )
        with mock_process(quota=False) as url:
            ceiling = ceiling_rate(url, min(events, 200_000))
        print(
            f"ceiling      {ceiling:9,.0f} events/s (mock ingest, 4 raw clients, no outbox); "
            f"sync reaches {clean['rate'] / ceiling:.0%} of it"
        )
        volumes = [events // 4, events // 2, events] if not args.quick else [events // 4, events]
        rows = [(v, run_child(v, workdir)) for v in volumes]
        print(
            "memory       delivering process, peak RSS "
            + ", ".join(f"{v:,} events: {r['peak_rss_mb']:.0f} MB" for v, r in rows)
            + " (each in its own process; the enqueue ran in another)"
        )
        print(
            "             RSS at 25/50/75/100 % of the largest delivery: "
            + " / ".join(f"{mb:.0f}" for mb in rows[-1][1]["rss_quartiles_mb"])
            + f" MB (the enqueuing+delivering process of the runs above: {clean['peak_rss_mb']:.0f}"
            " MB)"
        )
        ok = clean["exactly_once_in_order"] and faulty["exactly_once_in_order"]
        print(
            f"targets: enqueue <= 10 s: {enq['enqueue_s'] <= 10}; deliver <= 30 s: "
            f"{clean['deliver_s'] <= 30}; >= 30x naive: {clean['rate'] / naive >= 30}; "
            f"faults <= 1.5x: {faulty['deliver_s'] / clean['deliver_s'] <= 1.5}; "
            f"exactly once in order: {ok}"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
