"""The ``identity`` step of ``govlink demo``: SSO across two halls, refusals, single logout."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from govlink.cli import main


def test_demo_identity_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("GOVLINK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    code = main(["demo", "--step", "identity", "--json", "--keep", str(tmp_path / "demo")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out)["identity"]
    assert result["sso"] is True
    assert result["refusals"] == {
        "city token at the county hall": "invalid_audience",
        "token signed with another key": "invalid_signature",
        "alg none": "algorithm_not_allowed",
    }
    assert result["logout"] == {"370500": "token_revoked", "370502": "token_revoked"}
    assert "Traceback" not in captured.err
