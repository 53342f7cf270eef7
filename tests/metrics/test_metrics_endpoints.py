"""The metrics endpoints of the real commands: a ``govlink sync run`` worker delivering to a
served mock province (some requests failing, some cases parked) and ``govlink idp serve --dev``
answering token requests are scraped while they run, and what they export matches what
happened (issue 12, point 2)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sync_core_support import make_event, sample_events

from govlink import VirtualClock
from govlink._http import httpx
from govlink.adapters.reference.wire import CASE_EVENTS_BATCH_PATH
from govlink.cli import main
from govlink.testing import MockProvince, served_mock

pytestmark = pytest.mark.server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample of ``url``'s exposition, by name and sorted labels."""
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every series whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, key), v in samples.items() if n == name and wanted <= set(key))


@contextmanager
def command(argv: list[str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``govlink ARGV`` in a subprocess (no GOVLINK_* from the caller's environment); yields the
    process and its stderr lines so far (a reader thread keeps them up to date)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
    env["GOVLINK_HOME"] = str(tmp_path / "home")
    proc = subprocess.Popen(
        [sys.executable, "-m", "govlink", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()


def metrics_url(proc: subprocess.Popen[str], lines: list[str]) -> str:
    """The URL the command printed as ``metrics at URL`` (it binds before any other work)."""
    deadline = time.monotonic() + 15
    while True:
        for line in lines:
            if line.startswith("metrics at "):
                return line.removeprefix("metrics at ").strip()
        assert proc.poll() is None, "\n".join(lines)
        assert time.monotonic() < deadline, "no metrics URL printed:\n" + "\n".join(lines)
        time.sleep(0.05)


def test_a_sync_worker_exports_what_it_delivered_and_parked(tmp_path: Path) -> None:
    clock = VirtualClock()
    good = sample_events(12)
    parked_cases = 3
    poison = []  # each case: a valid first event, then a transition the platform refuses
    for i in range(parked_cases):
        poison += [
            make_event(f"MET{i}", 1, "received", clock),
            make_event(f"MET{i}", 2, "approved", clock),
        ]
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in good + poison), "utf-8")
    store = f"sqlite:///{tmp_path / 'govlink.db'}"
    assert main(["sync", "cases", str(path), "--store", store, "--json"]) == 0
    acknowledged = len(good) + parked_cases  # the poison cases' first events go through

    province = MockProvince()
    # Some case batches answer 500 (retried in process, counted as http_5xx).
    province.set_faults(f"error500:rate=0.3,path={CASE_EVENTS_BATCH_PATH}", seed=1)
    with served_mock(province) as served:
        argv = ["sync", "run", "--province", served.base_url, "--store", store]
        argv += ["--batch-size", "5", "--metrics-port", "0"]
        with command(argv, tmp_path) as (proc, lines):
            url = metrics_url(proc, lines)
            deadline = time.monotonic() + 8
            while True:  # scraped while the worker runs (it never exits by itself)
                samples = scrape(url)
                done = total(samples, "govlink_sync_events_acknowledged_total")
                if (
                    done == acknowledged
                    and sample(samples, "govlink_outbox_parked_cases") == parked_cases
                ):
                    break
                assert proc.poll() is None, "\n".join(lines)
                assert time.monotonic() < deadline, (done, "\n".join(lines))
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 1  # cases are parked
        journal = [e for e in province.journal.to_list() if e["path"] == CASE_EVENTS_BATCH_PATH]

    ack = "govlink_sync_events_acknowledged_total"
    assert sample(samples, ack, endpoint="cases", result="applied") == acknowledged
    assert sample(samples, ack, endpoint="cases", result="duplicate") == 0
    assert sample(samples, "govlink_sync_events_parked_total", endpoint="cases") == parked_cases
    # Every entry sent was acknowledged, parked, or rescheduled (in-process retries resend
    # the same batch: not sent again).
    retried = sample(samples, "govlink_sync_events_retried_total", endpoint="cases")
    assert sample(samples, "govlink_sync_events_sent_total", endpoint="cases") == (
        acknowledged + parked_cases + retried
    )
    failed = [e for e in journal if e["status"] == 500]
    assert failed, [(e["index"], e["path"], e["status"]) for e in province.journal.to_list()]
    # Requests by outcome are the platform's own journal of them.
    ok = [e for e in journal if e["status"] == 200]
    requests = "govlink_sync_requests_total"
    assert sample(samples, requests, endpoint="cases", outcome="ok") == len(ok)
    assert sample(samples, requests, endpoint="cases", outcome="http_5xx") == len(failed)
    assert total(samples, requests) == len(journal)
    latency = "govlink_sync_request_duration_seconds_count"
    assert sample(samples, latency, endpoint="cases") == len(journal)
    # The breaker closed again and the outbox figures were read from the store on the scrape.
    assert sample(samples, "govlink_sync_breaker_state", endpoint="cases") == 0
    assert sample(samples, "govlink_sync_retry_budget_tokens", endpoint="cases") > 0
    assert sample(samples, "govlink_outbox_up") == 1
    assert sample(samples, "govlink_outbox_lanes", state="leased") == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_idp_serve_exports_token_requests_by_grant_and_outcome(tmp_path: Path) -> None:
    argv = ["idp", "serve", "--dev", "--port", str(free_port()), "--metrics-port", "0"]
    argv += ["--home", str(tmp_path / "home")]
    with command(argv, tmp_path) as (proc, lines):
        url = metrics_url(proc, lines)
        deadline = time.monotonic() + 15
        while not any("serving on" in line for line in lines):
            assert proc.poll() is None, "\n".join(lines)
            assert time.monotonic() < deadline, "idp serve did not start"
            time.sleep(0.05)
        served = next(line for line in lines if "serving on" in line)
        base = re.search(r"serving on (http://\S+)", served)
        assert base is not None
        secret = next(
            line.split()[1]
            for line in lines
            if line.strip().startswith("hall-370502 ") and len(line.split()) == 2
        )
        token = f"{base.group(1)}/token"
        form = {"grant_type": "client_credentials"}
        for _ in range(2):
            answer = httpx.post(token, data=form, auth=("hall-370502", secret), timeout=5)
            assert answer.status_code == 200, answer.text
        wrong = httpx.post(token, data=form, auth=("hall-370502", "not-the-secret"), timeout=5)
        assert wrong.status_code == 401
        odd = httpx.post(token, data={"grant_type": "password"}, timeout=5)
        assert odd.status_code in (400, 401)
        assert httpx.get(f"{base.group(1)}/jwks", timeout=5).status_code == 200
        samples = scrape(url)

    name = "govlink_idp_token_requests_total"
    assert sample(samples, name, grant="client_credentials", outcome="success") == 2
    assert sample(samples, name, grant="client_credentials", outcome="invalid_client") == 1
    assert total(samples, name, grant="other") == 1  # no client input becomes a label
    assert total(samples, name) == 4
    latency = "govlink_idp_token_request_duration_seconds_count"
    assert sample(samples, latency, grant="client_credentials") == 3
    assert sample(samples, "govlink_idp_jwks_requests_total") == 1


def test_a_busy_metrics_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = str(taken.getsockname()[1])
        store = f"sqlite:///{tmp_path / 'govlink.db'}"
        for argv in (
            ["sync", "run", "--province", "http://127.0.0.1:9", "--store", store],
            ["idp", "serve", "--dev", "--port", str(free_port()), "--home", str(tmp_path / "h")],
        ):
            with command([*argv, "--metrics-port", busy], tmp_path) as (proc, lines):
                assert proc.wait(timeout=20) == 2
            shown = [line for line in lines if line.strip()]
            assert any(f"127.0.0.1:{busy}" in line for line in shown), shown
            assert not any("Traceback" in line for line in shown), shown


def test_without_the_metrics_extra_the_flag_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails: not installed
    store = f"sqlite:///{tmp_path / 'govlink.db'}"
    for argv in (
        ["sync", "run", "--province", "http://127.0.0.1:9", "--store", store],
        ["idp", "serve", "--dev", "--port", str(free_port()), "--home", str(tmp_path / "h")],
    ):
        assert main([*argv, "--metrics-port", "0"]) == 2
        err = capsys.readouterr().err
        assert "metrics_unavailable" in err
        assert "pip install 'govlink[metrics]'" in err
        assert "Traceback" not in err
