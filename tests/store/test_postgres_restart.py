"""A PostgreSQL restart in the middle of a delivery: workers reconnect, nothing is lost.

The server is a PRIVATE instance started for this module (``initdb`` into a temporary folder,
run as the ``postgres`` OS user, on a free loopback port) and stopped afterwards: the shared
server is never restarted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sync_core_support import as_entries, reference_adapter, sample_events

from govlink.store import Store
from govlink.sync import Dispatcher, Outbox, verify_journal
from govlink.testing import MockProvince

pytestmark = pytest.mark.postgres


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """A throwaway server: start, stop (fast), start again on the same port and data."""

    def __init__(self, folder: Path, pg_ctl: str, initdb: str) -> None:
        self.data = folder / "data"
        self.port = _free_port()
        self.pg_ctl = pg_ctl
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as_postgres(
            [initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"]
        )

    def _as_postgres(self, cmd: list[str]) -> None:
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} "
            "-c fsync=off -c shared_buffers=16MB"
        )
        # -l: the server's output goes to a file (a pipe would keep the caller waiting).
        log = str(self.data.parent / "server.log")
        self._as_postgres(
            [self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start"]
        )

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres([self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop"])


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    pg_ctl, initdb = _pg_bin("pg_ctl"), _pg_bin("initdb")
    if pg_ctl is None or initdb is None:
        pytest.skip("a private PostgreSQL needs initdb and pg_ctl")
    folder = Path(tempfile.mkdtemp(prefix="govlink-pg-"))
    os.chmod(folder, 0o777)  # noqa: S103 - the server runs as the postgres user
    server = PrivatePostgres(folder, pg_ctl, initdb)
    try:
        server.start()
        yield server
    finally:
        try:
            if (server.data / "postmaster.pid").exists():
                server.stop("immediate")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_server_restart_mid_delivery_loses_nothing(private_postgres: PrivatePostgres) -> None:
    from govlink.store._postgres import PostgresStore

    store: Store = PostgresStore(private_postgres.url, connect_timeout=2, statement_timeout=10)
    outbox = Outbox(store, lease_seconds=2)
    province = MockProvince()
    events = sample_events(150)
    outbox.enqueue(as_entries(events))
    # Slow enough (small batches, 30 requests/s) that the restart lands mid-way.
    dispatcher = Dispatcher(
        outbox, reference_adapter(province, outbox.clock), batch_size=3, rate_limit=30,
        concurrency=2,
    )  # fmt: skip
    failures: list[BaseException] = []

    def deliver() -> None:
        try:
            asyncio.run(dispatcher.run(until_empty=True))
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=deliver)
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while len(province.core.applied_event_log()) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        applied_before = len(province.core.applied_event_log())
        private_postgres.stop("fast")  # every connection is cut
        private_postgres.start()
    finally:
        worker.join(timeout=180)
    try:
        assert failures == []
        assert 0 < applied_before < len(events)  # the restart landed mid-delivery
        province.journal.assert_each_event_applied_once_in_order(events)
        assert outbox.status().pending == 0
        verify_journal(store)
    finally:
        store.close()
