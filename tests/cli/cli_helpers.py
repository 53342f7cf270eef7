"""Running ``govlink`` in-process in tests, and finding every subcommand from the parser."""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest

from govlink.cli import build_parser, main


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


def run_any(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run ``govlink ARGV`` whatever happens (argparse's exit included): (exit code, stderr)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse: usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().err


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def leaf_commands(
    parser: argparse.ArgumentParser | None = None, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every runnable command (``("sync", "cases")``) and its parser, found from the parser
    itself: a new command is covered by the tests that iterate this without editing them."""
    parser = parser or build_parser()
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for name, sub in _subcommands(parser).items():
        path = (*prefix, name)
        if _subcommands(sub):
            found.update(leaf_commands(sub, path))
        else:
            found[path] = sub
    return found


def groups(
    parser: argparse.ArgumentParser | None = None, prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every parser that has subcommands, the top-level one included (key ``()``)."""
    parser = parser or build_parser()
    found = {prefix: parser} if _subcommands(parser) else {}
    for name, sub in _subcommands(parser).items():
        found.update(groups(sub, (*prefix, name)))
    return found


def subcommand_names(parser: argparse.ArgumentParser) -> list[str]:
    """The names of ``parser``'s direct subcommands."""
    return list(_subcommands(parser))
