"""The command contract: exit codes, one-line errors, --help everywhere."""

from __future__ import annotations

import pytest

from govlink.cli import COMMAND_MODULES, build_parser, main


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_command_has_help() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    choices = sub.choices
    assert choices  # at least the demo
    for name, command_parser in choices.items():
        text = command_parser.format_help()
        assert "usage:" in text, name
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))
