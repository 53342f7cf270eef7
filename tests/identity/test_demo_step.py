"""The ``identity`` step of ``govlink demo``, over HTTP: sign-in through the mock province,
SSO to the county hall, a provincial token exchanged, refusals, back-channel single logout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govlink.cli import _demo_halls, main
from govlink.identity import LogoutEvent

CHECKS = [
    "identity.sign_in",
    "identity.sso",
    "identity.provincial_exchange",
    "identity.refuse_misaddressed",
    "identity.refuse_forged",
    "identity.refuse_alg_none",
    "identity.single_logout",
]


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object], str]:
    code = main(["demo", "--step", "identity", "--json", "--keep", str(tmp_path / "demo")])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_demo_identity_step_over_http(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, report, err = _run(tmp_path, capsys)
    assert code == 0, err
    checks = report["checks"]
    assert isinstance(checks, list)
    assert [c["name"] for c in checks] == CHECKS
    assert all(c["ok"] for c in checks), checks
    result = report["identity"]
    assert isinstance(result, dict)
    assert result["sso"] is True
    assert result["sign_in"]["acr"] == "4"
    assert result["provincial_exchange"] == {"aud": "hall-370502", "acr": "4"}
    assert result["refusals"] == {
        "city token at the county hall": "invalid_audience",
        "token signed with another key": "invalid_signature",
        "alg none": "algorithm_not_allowed",
    }
    # Both halls heard of the logout through their back-channel receivers.
    assert result["logout"] == {
        "backchannel_received": {"370500": 1, "370502": 1},
        "signed_in_after": {"370500": False, "370502": False},
    }
    # One human line per check (on stderr with --json), no traceback, no ID number.
    assert err.count("✓") == len(CHECKS)
    assert "Traceback" not in err
    assert "through the province's sign-in page" in err


def test_a_hall_that_ignores_backchannel_logout_fails_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def ignore(self: _demo_halls.DemoHall, event: LogoutEvent) -> None:
        return None

    monkeypatch.setattr(_demo_halls.DemoHall, "end", ignore)
    monkeypatch.setattr("govlink.cli._demo_identity.TIMEOUT", 1.0)
    code, report, err = _run(tmp_path, capsys)
    assert code == 1
    failures = report["failures"]
    assert isinstance(failures, list)
    assert len(failures) == 1
    assert failures[0].startswith("identity.single_logout: ")
    assert "✗ identity.single_logout" in err
    assert "Traceback" not in err


def test_a_person_below_the_exchange_policy_fails_the_provincial_exchange(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Trust level 2 signs in, but the development policy exchanges provincial tokens from
    # level 3 up: the demo names that check and goes on with the others.
    monkeypatch.setattr("govlink.cli._demo_identity.PERSON", "zhang-l2")
    code, report, err = _run(tmp_path, capsys)
    assert code == 1
    failures = report["failures"]
    assert isinstance(failures, list)
    assert [f.split(":")[0] for f in failures] == ["identity.provincial_exchange"]
    assert "Traceback" not in err


def test_a_hall_that_cannot_be_built_is_a_named_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(self: _demo_halls.DemoHall) -> None:
        raise RuntimeError("no app today")

    monkeypatch.setattr(_demo_halls.DemoHall, "app", broken)
    code, report, err = _run(tmp_path, capsys)
    assert code == 1
    assert report["failures"] == ["identity.servers: RuntimeError: no app today"]
    assert "✗ identity.servers" in err
    assert "Traceback" not in err
