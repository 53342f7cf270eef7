"""A platform refusing for a reason retrying cannot fix ends the run, typed, with what to fix.

Issue: a wrong gateway secret, refused client credentials, a platform URL that is not a URL or
an endpoint the platform does not have used to make ``sync run --until-empty`` loop forever in
silence (or park every case). Now the run stops with :class:`PlatformRefused` (exit 2, one line
saying what to fix) and nothing is lost, parked or reordered: the claims are released and the
next run, once fixed, delivers everything exactly once in order.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sync_core_support import as_entries, sample_events

from govlink import ConfigError, VirtualClock
from govlink._http import httpx
from govlink.cli import main
from govlink.sync import (
    Dispatcher,
    Outbox,
    PlatformAuthError,
    PlatformRefused,
    load_adapter,
    verify_journal,
)
from govlink.testing import MockProvince, served_mock


def _adapter(name: str, province: MockProvince, base_url: str | None = None, **options: Any) -> Any:
    return load_adapter(
        name,
        base_url=base_url or province.base_url,
        clock=province.clock,
        transport=httpx.ASGITransport(app=province.app),
        **options,
    )


def _run(outbox: Outbox, adapter: Any, clock: VirtualClock, **options: Any) -> Any:
    async def go() -> Any:
        try:
            return await Dispatcher(outbox, adapter, clock=clock, **options).run(until_empty=True)
        finally:
            await adapter.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("name", "options", "fix"),
    [
        ("gateway", {"app_secret": "not-the-secret"}, "GOVLINK_GATEWAY_APP_SECRET"),
        ("gateway", {"app_id": "nobody"}, "GOVLINK_GATEWAY_APP_ID"),
        ("reference", {"client_secret": "not-the-secret"}, "GOVLINK_REFERENCE_CLIENT_SECRET"),
    ],
)
def test_refused_credentials_end_the_run_and_lose_nothing(
    outbox: Outbox, clock: VirtualClock, name: str, options: dict[str, Any], fix: str
) -> None:
    province = MockProvince(clock=clock)
    events = sample_events(40)
    outbox.enqueue(as_entries(events))
    with pytest.raises(PlatformAuthError) as caught:
        _run(outbox, _adapter(name, province, **options), clock)
    assert isinstance(caught.value, PlatformRefused)  # the CLI's exit 2
    assert fix in caught.value.message
    assert "not-the-secret" not in caught.value.message
    # It stopped at once: a handful of requests (one per worker, each with its one refresh),
    # not a loop; nothing applied, parked or left leased.
    assert len(province.journal) <= 4 * 3
    status = outbox.status()
    assert (status.pending, status.parked, status.leased) == (len(events), 0, 0)
    verify_journal(outbox.store)
    # Fixed, the next run delivers everything exactly once, in order.
    _run(outbox, _adapter(name, province), clock)
    province.journal.assert_each_event_applied_once_in_order(events)
    assert outbox.status().pending == 0


def test_an_endpoint_the_platform_does_not_have_parks_nothing(
    outbox: Outbox, clock: VirtualClock
) -> None:
    province = MockProvince(clock=clock)
    events = sample_events(30)
    outbox.enqueue(as_entries(events))
    wrong = _adapter("gateway", province, base_url=province.base_url + "/no/such/prefix")
    with pytest.raises(PlatformRefused) as caught:
        _run(outbox, wrong, clock)
    assert caught.value.status == 404
    assert "GOVLINK_PROVINCE_URL" in caught.value.message
    status = outbox.status()
    assert (status.pending, status.parked, status.leased) == (len(events), 0, 0)


@pytest.mark.parametrize("url", ["not a url", "htp://province.example", "http://", ""])
def test_a_platform_url_that_is_not_a_url_is_refused_up_front(url: str) -> None:
    for name in ("reference", "gateway"):
        with pytest.raises(ConfigError, match="GOVLINK_PROVINCE_URL"):
            load_adapter(name, base_url=url)


@pytest.mark.parametrize("size", [-1, 0])
def test_a_non_positive_batch_size_is_refused(outbox: Outbox, size: int) -> None:
    adapter = load_adapter("reference", base_url="http://province.example")
    try:
        with pytest.raises(ConfigError, match="batch_size"):
            Dispatcher(outbox, adapter, batch_size=size)
        with pytest.raises(ConfigError, match="concurrency"):
            Dispatcher(outbox, adapter, concurrency=0)
        with pytest.raises(ConfigError, match="rate_limit"):
            Dispatcher(outbox, adapter, rate_limit=float("nan"))
    finally:
        asyncio.run(adapter.aclose())


# --- the command --------------------------------------------------------------------------------


def _enqueue(tmp_path: Path, store: str, events: list[dict[str, Any]]) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
    assert main(["sync", "cases", str(path), "--store", store]) == 0


def _status(store: str, capsys: pytest.CaptureFixture[str]) -> Any:
    capsys.readouterr()
    main(["outbox", "status", "--store", store, "--json"])
    return json.loads(capsys.readouterr().out)


def _assert_one_clean_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1, "one line saying what to fix"
    assert lines[-1].startswith("govlink: error[")
    for needle in needles:
        assert needle in lines[-1]


@pytest.mark.parametrize("size", ["-1", "0"])
def test_cli_refuses_a_non_positive_batch_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    store = f"sqlite:///{tmp_path / 'govlink.db'}"
    _enqueue(tmp_path, store, sample_events(3))
    capsys.readouterr()
    args = ["sync", "run", "--until-empty", "--batch-size", size, "--store", store]
    # Refused by the flag's own type, before anything is claimed (exit 2, argparse's usage).
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--province", "http://127.0.0.1:9"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--batch-size" in err
    assert "Traceback" not in err


def test_cli_refuses_a_province_url_that_is_not_a_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'govlink.db'}"
    _enqueue(tmp_path, store, sample_events(3))
    capsys.readouterr()
    code = main(["sync", "run", "--until-empty", "--province", "province", "--store", store])
    assert code == 2
    _assert_one_clean_line(capsys.readouterr().err, "GOVLINK_PROVINCE_URL")


@pytest.mark.server
def test_cli_wrong_gateway_secret_exits_2_and_keeps_every_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = f"sqlite:///{tmp_path / 'govlink.db'}"
    events = sample_events(10)
    _enqueue(tmp_path, store, events)
    province = MockProvince()
    run = ["sync", "run", "--until-empty", "--adapter", "gateway", "--store", store]
    with served_mock(province) as served:
        monkeypatch.setenv("GOVLINK_GATEWAY_APP_SECRET", "not-the-secret")
        capsys.readouterr()
        assert main([*run, "--province", served.base_url]) == 2
        err = capsys.readouterr().err
        _assert_one_clean_line(err, "platform_auth", "GOVLINK_GATEWAY_APP_SECRET")
        assert "not-the-secret" not in err
        status = _status(store, capsys)
        assert (status["pending"], status["parked_cases"]) == (len(events), 0)
        monkeypatch.delenv("GOVLINK_GATEWAY_APP_SECRET")
        assert main([*run, "--province", served.base_url]) == 0
    province.journal.assert_each_event_applied_once_in_order(events)


def test_a_clock_far_from_the_gateways_ends_the_run_naming_the_clock(
    outbox: Outbox, clock: VirtualClock
) -> None:
    province = MockProvince(clock=clock)
    outbox.enqueue(as_entries(sample_events(5)))
    skewed = VirtualClock(clock.now() + timedelta(minutes=20))
    adapter = load_adapter(
        "gateway",
        base_url=province.base_url,
        clock=skewed,  # signs with a time 20 minutes ahead of the platform's
        transport=httpx.ASGITransport(app=province.app),
    )
    with pytest.raises(PlatformAuthError, match="NTP"):
        _run(outbox, adapter, clock)
    assert outbox.status().parked == 0
