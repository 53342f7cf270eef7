"""The demo's catalog step: validates the bundled catalog and reports it."""

from __future__ import annotations

import json

import pytest

from govlink.cli import main


def test_catalog_step_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--step", "catalog", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    catalog = report["catalog"]
    assert catalog["halls"] == ["370500", "370502", "370503", "370505", "370522", "370523"]
    assert catalog["departments"] == 54
    assert catalog["items"] == 400
    assert catalog["rejected"] == 0
    assert sum(catalog["warnings"].values()) >= 5
    assert 0.4 <= catalog["average_limit_reduction"] <= 0.6


def test_catalog_step_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--step", "catalog"]) == 0
    out = capsys.readouterr().out
    assert "东营市 370500" in out
    assert "400 items of 54 departments in 6 halls validated" in out
    assert len(out.splitlines()) < 20  # the demo stays readable
