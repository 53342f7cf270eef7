"""How fast the served mock province ingests case status events over loopback HTTP.

This is the ceiling the sync benchmark is judged against: the sync engine cannot deliver faster
than the mock accepts. Measured in one run, on the same machine:

* ``core``      the mock's pure core, no HTTP (what validation + the state machine cost);
* ``1 client``  one ``httpx.Client`` posting batches of the reference adapter's size
                (``MAX_EVENT_BATCH``) to the served mock, one after another;
* ``N clients`` N threads, each with its own client and its own cases, concurrently;
* ``naive``     one POST per event (the baseline the sync benchmark must beat 30x).

Bodies are pre-encoded so the client side costs as little as possible. The quota is off (a
real run would configure the platform's quota instead).

    .venv/bin/python bench/bench_mock_ingest.py [--events 100000] [--clients 4] [--http h11]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from govlink._http import httpx
from govlink.adapters.reference import wire as ref
from govlink.testing import MockProvince, ProvinceConfig, served_mock


def events(prefix: str, count: int) -> Iterator[dict[str, object]]:
    """``count`` valid events: cases of five events each (received ... approved)."""
    case = 0
    while True:
        case += 1
        for sequence, status in enumerate(
            ("received", "accepted", "processing", "processing", "approved"), start=1
        ):
            if count == 0:
                return
            count -= 1
            yield {
                # the reference adapter sends the outbox's key with every event
                "idempotency_key": f"370502:case:{prefix}{case:07d}:{sequence}",
                "case_number": f"{prefix}{case:07d}",
                "sequence": sequence,
                "status": status,
                "time": f"2026-03-02T09:{sequence:02d}:00+08:00",
                "hall": "370502",
                "handler": "张三",
                "office": "行政审批科",
                "opinion": "同意",
            }


def bodies(prefix: str, count: int, batch: int) -> list[bytes]:
    chunk: list[dict[str, object]] = []
    out: list[bytes] = []
    for event in events(prefix, count):
        chunk.append(event)
        if len(chunk) == batch:
            out.append(json.dumps({"events": chunk}, ensure_ascii=False).encode())
            chunk = []
    if chunk:
        out.append(json.dumps({"events": chunk}, ensure_ascii=False).encode())
    return out


def post_all(base_url: str, token: str, payloads: list[bytes], *, nodelay: bool = True) -> int:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    applied = 0
    # httpx writes a request's headers and body separately; without TCP_NODELAY, Nagle's
    # algorithm holds the body until the server's delayed ACK (~40 ms on Linux) per request.
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)] if nodelay else []
    transport = httpx.HTTPTransport(socket_options=options)
    with httpx.Client(base_url=base_url, timeout=60, transport=transport) as http:
        for payload in payloads:
            response = http.post(ref.CASE_EVENTS_BATCH_PATH, content=payload, headers=headers)
            response.raise_for_status()
            applied += sum(1 for r in response.json()["results"] if r["status"] == "applied")
    return applied


def measure_core(count: int) -> float:
    province = MockProvince(config=ProvinceConfig(rate_limit=None))
    token = province.issue_token()
    payloads = bodies("K", count, ref.MAX_EVENT_BATCH)
    headers = {"authorization": f"Bearer {token}"}
    started = time.perf_counter()
    for payload in payloads:
        result = province.core.handle("POST", ref.CASE_EVENTS_BATCH_PATH, {}, headers, payload)
        assert result.status == 200
    elapsed = time.perf_counter() - started
    assert province.state()["events_applied"] == count
    return count / elapsed


def run_clients(base_url: str, token: str, payloads: list[list[bytes]]) -> tuple[int, float]:
    results: list[int] = [0] * len(payloads)

    def run(index: int) -> None:
        results[index] = post_all(base_url, token, payloads[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(payloads))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(results), time.perf_counter() - started


def measure_served(count: int, clients: int, http: str) -> float:
    """The mock served from a thread of this process (as ``served_mock`` runs it in tests)."""
    province = MockProvince(config=ProvinceConfig(rate_limit=None))
    token = province.issue_token()
    per_client = count // clients
    payloads = [bodies(f"T{i}-", per_client, ref.MAX_EVENT_BATCH) for i in range(clients)]
    with served_mock(province, http=http) as served:
        applied, elapsed = run_clients(served.base_url, token, payloads)
    assert applied == per_client * clients, applied
    province.journal.assert_no_duplicate_applied()
    return applied / elapsed


def measure_process(count: int, clients: int, http: str) -> float:
    """The mock as ``govlink mock-province serve`` in its own process (no shared GIL)."""
    command = [sys.executable, "-c", "from govlink.cli import run; run()", "mock-province"]
    command += ["serve", "--port", "0", "--json", "--no-rate-limit", "--http", http]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    try:
        assert process.stdout is not None
        text = ""
        while True:
            text += process.stdout.readline()
            try:
                served = json.loads(text)
                break
            except json.JSONDecodeError:
                continue
        reference = served["reference"]
        token = ""
        for _ in range(200):
            try:
                token = httpx.post(
                    served["base_url"] + ref.TOKEN_PATH,
                    data={"grant_type": "client_credentials"},
                    auth=(reference["client_id"], reference["client_secret"]),
                ).json()["access_token"]
                break
            except httpx.TransportError:
                time.sleep(0.05)
        per_client = count // clients
        payloads = [bodies(f"P{i}-", per_client, ref.MAX_EVENT_BATCH) for i in range(clients)]
        applied, elapsed = run_clients(served["base_url"], token, payloads)
        assert applied == per_client * clients, applied
        return applied / elapsed
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        process.stdout.close()  # type: ignore[union-attr]


def measure_naive(count: int, http: str) -> float:
    province = MockProvince(config=ProvinceConfig(rate_limit=None))
    token = province.issue_token()
    payloads = bodies("N", count, 1)
    with served_mock(province, http=http) as served:
        started = time.perf_counter()
        applied = post_all(served.base_url, token, payloads)
        elapsed = time.perf_counter() - started
    assert applied == count
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--naive-events", type=int, default=2_000)
    parser.add_argument("--http", default="auto", choices=("auto", "h11", "httptools"))
    args = parser.parse_args()

    core = measure_core(args.events)
    one = measure_served(args.events, 1, args.http)
    many = measure_served(args.events, args.clients, args.http)
    proc_one = measure_process(args.events, 1, args.http)
    proc_many = measure_process(args.events, args.clients, args.http)
    naive = measure_naive(args.naive_events, args.http)
    year = 650_000
    n = args.clients
    print(f"mock province ingest, batches of {ref.MAX_EVENT_BATCH}, http={args.http}")
    rows = [
        ("core (no HTTP)", core),
        ("served thread, 1 client", one),
        (f"served thread, {n} clients", many),
        ("own process, 1 client", proc_one),
        (f"own process, {n} clients", proc_many),
        ("naive, 1 POST per event", naive),
    ]
    for label, rate in rows:
        print(
            f"  {label:<28}{rate:>10,.0f} events/s  {rate / core:5.2f}x core  "
            f"{rate / naive:7.1f}x naive"
        )
    ceiling = max(one, many, proc_one, proc_many)
    print(
        f"  a year ({year:,} events) at the served ceiling: {year / ceiling:.1f} s "
        "(the sync benchmark's budget is 30 s)"
    )


if __name__ == "__main__":
    main()
