"""The demo's province step: the mock starts on the demo clock and is shared with later steps."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from govlink.cli import main
from govlink.cli._context import CliContext
from govlink.cli._demo import Demo
from govlink.cli._demo_province import step
from govlink.testing import MockProvince


def test_province_step_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--step", "province", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["province"] == {
        "base_url": "http://province.test",
        "apis": ["reference", "gateway"],
        "faults": "none",
    }


def test_province_step_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--step", "province"]) == 0
    out = capsys.readouterr().out
    assert "mock province running in-process" in out
    assert "/v1/cases/events:batch" in out


def test_province_step_shares_the_province(tmp_path: Path) -> None:
    demo = Demo(ctx=CliContext(argparse.Namespace()), home=tmp_path)
    step(demo)
    province = demo.state.province
    assert isinstance(province, MockProvince)
    assert province.clock is demo.clock
    assert not demo.failures
