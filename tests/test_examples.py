"""The ops examples in examples/ run as documented (each against real components)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
GOVLINK = shutil.which("govlink", path=str(Path(sys.executable).parent)) or "govlink"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # The examples run on embedded defaults: no GOVLINK_* setting leaks in from the test run.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
    full_env = {**inherited, "GOVLINK": GOVLINK, "PYTHON": sys.executable, **env}
    return subprocess.run(
        ["bash", str(EXAMPLES / script)],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_sso_tokens(tmp_path: Path) -> None:
    result = _run("sso-tokens.sh", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid access token for hall-370502" in result.stdout
    assert "invalid_audience" in result.stderr
    assert '"keys"' in result.stdout


def test_supervise(tmp_path: Path) -> None:
    result = _run(
        "supervise.sh",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "1000 cases" in result.stdout
    assert "levels: {" in result.stdout


@pytest.mark.server
def test_sync_to_mock(tmp_path: Path) -> None:
    result = _run("sync-to-mock.sh", tmp_path, PORT=str(_free_port()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "outbox: 0 pending, 0 parked" in result.stdout
    assert "journal intact" in result.stdout
    assert "'events_applied': 4297" in result.stdout
