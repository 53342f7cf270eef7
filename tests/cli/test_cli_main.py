"""The command contract: exit codes, one-line errors, --help everywhere."""

from __future__ import annotations

from pathlib import Path

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


def test_bad_store_url_is_a_config_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outbox", "status", "--store", "mysql://nowhere/db"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("govlink: error[config_error]: store URL 'mysql://nowhere/db'")
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_invalid_toml_setting_is_a_config_error_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "govlink.toml").write_text('adaptr = "typo"\n')
    monkeypatch.chdir(tmp_path)
    for var in ("GOVLINK_STORE", "GOVLINK_HOME", "GOVLINK_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    assert main(["outbox", "status"]) == 2
    assert "adaptr" in capsys.readouterr().err
