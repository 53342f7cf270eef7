"""The demo's cases step: sample cases through the state machine, deadlines, supervision."""

from __future__ import annotations

import json

import pytest

from govlink.cli import main


def test_cases_step_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--step", "catalog", "--step", "cases", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    cases = report["cases"]
    assert cases["cases"] == 1000
    assert cases["events"] > 4000
    assert cases["at"] == "2026-03-20T18:00:00+08:00"
    levels = cases["levels"]
    assert levels["on_time"] > 500
    assert levels["yellow"] + levels["red"] > 0
    assert sum(cases["last_status"].values()) == 1000
    assert 0 < cases["efficiency"]["within_promised_share"] <= 1


def test_cases_step_alone_human(capsys: pytest.CaptureFixture[str]) -> None:
    # Without the catalog step it loads the catalog itself.
    assert main(["demo", "--step", "cases"]) == 0
    out = capsys.readouterr().out
    assert "1000 cases" in out
    assert "红牌" in out
    assert len(out.splitlines()) < 12
