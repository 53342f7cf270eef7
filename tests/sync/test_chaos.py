"""kill -9 of the worker at random moments: nothing lost, nothing applied twice, order intact.

The worker is the real command (``python -m govlink sync run --until-empty``) in a subprocess,
delivering to the mock province served on a loopback port. It is killed with SIGKILL at random
moments (during claims, requests, settlements), restarted, killed again; a last run finishes
the work. The mock's journal then shows every event applied exactly once, in per-case order.
A bounded version (3 kills) runs by default; ``-m soak`` runs 20.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sync_core_support import as_entries, sample_events

from govlink.store import SQLiteStore
from govlink.sync import Outbox, verify_journal
from govlink.testing import MockProvince, served_mock

pytestmark = pytest.mark.server


def _worker(
    store_url: str, province_url: str, home: Path, *, rate: int = 25, capture: bool = False
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GOVLINK_HOME": str(home)}
    return subprocess.Popen(
        [
            sys.executable, "-m", "govlink", "sync", "run", "--until-empty",
            "--province", province_url, "--store", store_url,
            "--lease", "1", "--batch-size", "40", "--rate-limit", str(rate), "--concurrency", "2",
            "--json",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
    )  # fmt: skip


def _chaos(tmp_path: Path, kills: int, cases: int, seed: int, rate: int) -> None:
    rng = random.Random(seed)
    db = tmp_path / "govlink.db"
    store_url = f"sqlite:///{db}"
    events = sample_events(cases, seed=seed)
    with SQLiteStore(db) as store:
        Outbox(store).enqueue(as_entries(events))
    province = MockProvince(faults="error500:rate=0.05;lost_response:rate=0.03", seed=seed)
    killed = 0
    progress: list[int] = []
    with served_mock(province) as served:
        while killed < kills:
            worker = _worker(store_url, served.base_url, tmp_path, rate=rate)
            # Wait until this worker is delivering (interpreter start-up varies with load),
            # then kill it at a random moment: in a claim, a request or a settlement.
            before = len(province.core.applied_event_log())
            deadline = time.monotonic() + 30
            while (
                len(province.core.applied_event_log()) == before
                and worker.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
            if worker.poll() is not None:
                break  # finished before we could kill it: the work is done
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            killed += 1
            progress.append(len(province.core.applied_event_log()))
        final = _worker(store_url, served.base_url, tmp_path, capture=True)
        _, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode(errors="replace")[-2000:]
        province.journal.assert_each_event_applied_once_in_order(events)
        province.journal.assert_no_duplicate_applied()
    with SQLiteStore(db) as store:
        assert Outbox(store).status().pending == 0
        verify_journal(store)
    # The kills landed while work was half done, not before or after it.
    assert len(progress) >= min(kills, 2)
    assert any(0 < applied < len(events) for applied in progress)


def test_kill_9_three_times_loses_nothing(tmp_path: Path) -> None:
    _chaos(tmp_path, kills=3, cases=500, seed=3, rate=25)


@pytest.mark.soak
def test_kill_9_twenty_times_loses_nothing(tmp_path: Path) -> None:
    _chaos(tmp_path, kills=20, cases=3000, seed=20, rate=10)
