"""The operations examples in examples/ run as documented, and the deployment files in deploy/
name only real govlink commands."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from govlink.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DEPLOY = ROOT / "deploy"
GOVLINK = shutil.which("govlink", path=str(Path(sys.executable).parent)) or "govlink"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env(**extra: str) -> dict[str, str]:
    # The examples run on embedded defaults: no GOVLINK_* setting leaks in from the test run.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
    return {**inherited, "GOVLINK": GOVLINK, "PYTHON": sys.executable, **extra}


def _run(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(EXAMPLES / script)],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.server
def test_nightly_catalog_sync(tmp_path: Path) -> None:
    result = _run("nightly-catalog-sync.sh", tmp_path, PORT=str(_free_port()))
    assert result.returncode == 0, result.stdout + result.stderr
    nights = result.stdout.split("=== night ")
    assert len(nights) == 4
    assert "enqueued 400 change(s)" in nights[1]
    assert "acknowledged 400" in nights[1]
    assert "enqueued 0 change(s)" in nights[2]
    assert "sent 0," in nights[2]
    assert "400 re-sent" in nights[3]
    assert "acknowledged 400" in nights[3]
    assert result.stdout.count("platform holds 400 items") == 2


def test_key_rotation(tmp_path: Path) -> None:
    result = _run("key-rotation.sh", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no rotation due" in result.stdout
    assert re.search(r"scheduled \S+ \(ES256\): published now", result.stdout)
    assert "published keys: 1 -> 2" in result.stdout
    assert "old token: valid" in result.stdout
    assert re.search(r"\S+\s+ES256\s+next", result.stdout)
    # Run again on the same ring (cron does, every day): the scheduled key is kept, not doubled.
    again = _run("key-rotation.sh", tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "a rotation is already scheduled" in again.stdout
    assert "published keys: 2 -> 2" in again.stdout
    assert "old token: valid" in again.stdout


@pytest.mark.server
def test_case_status_worker_stops_gracefully(tmp_path: Path) -> None:
    result = _run("case-status-worker.sh", tmp_path, PORT=str(_free_port()))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pending after delivery: 0" in result.stdout
    assert "worker exit status: 0" in result.stdout
    assert "journal intact" in result.stdout
    assert "events applied by the platform: 4297" in result.stdout


def test_integrator_suite_runs_with_the_plugin(tmp_path: Path) -> None:
    suite = EXAMPLES / "integrator"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(suite), "-q"],
        cwd=suite,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 passed" in result.stdout


# --- deploy/ and the crontab name real commands ------------------------------------------


def _govlink_commands(line: str) -> list[list[str]]:
    """Every ``govlink ...`` command in a shell line (split on && ; |)."""
    commands = []
    for part in re.split(r"&&|;|\|\|", line):
        words = shlex.split(part)
        for index, word in enumerate(words):
            if Path(word).name == "govlink":
                commands.append(words[index + 1 :])
                break
    return commands


def _assert_parses(args: list[str]) -> None:
    try:
        namespace = build_parser().parse_args(args)
    except SystemExit as exc:  # argparse refuses: not a real command line
        raise AssertionError(f"govlink {shlex.join(args)}: refused by the parser") from exc
    assert callable(getattr(namespace, "func", None)), args


def test_crontab_runs_real_commands() -> None:
    lines = [
        line
        for line in (EXAMPLES / "crontab").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    commands = [c for line in lines for c in _govlink_commands(" ".join(line.split()[5:]))]
    assert [c[:2] for c in commands] == [["sync", "catalog"], ["sync", "run"], ["keys", "maintain"]]
    for args in commands:
        _assert_parses(args)


def test_systemd_unit_runs_a_real_command() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / "govlink-sync-worker.service", encoding="utf-8")
    service = unit["Service"]
    (command,) = _govlink_commands(service["ExecStart"])
    assert command[:2] == ["sync", "run"]
    assert "--until-empty" not in command  # a service runs continuously
    _assert_parses(command)
    assert service["KillSignal"] == "SIGTERM"  # graceful shutdown (in-flight batches settle)
    assert service["RestartPreventExitStatus"] == "2"  # a config error is not retried
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_runbook_commands_are_real() -> None:
    """Every ``govlink ...`` command in docs/operations.md parses (code blocks and spans)."""
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    snippets = re.findall(r"```sh\n(.*?)```", text, re.S) + re.findall(r"`(govlink [^`]+)`", text)
    commands = []
    for snippet in snippets:
        for line in snippet.splitlines():
            line = re.sub(r"\$\([^)]*\)", "X", line.split("  #")[0])  # $(date +%F) → X
            if line.strip().startswith("govlink ") and "COMMAND" not in line:
                commands += _govlink_commands(line)
    assert len(commands) >= 20
    for args in commands:
        _assert_parses(args)
