"""Running ``govlink`` in-process in tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from govlink.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Run ``govlink ARGV``: the exit code, stdout parsed as JSON when it is, and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    try:
        data = json.loads(captured.out) if captured.out.strip() else None
    except json.JSONDecodeError:
        data = captured.out
    assert "Traceback" not in captured.err
    return code, data, captured.err
