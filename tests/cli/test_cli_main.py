"""The command contract: exit codes, one-line errors, --help everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cli_helpers import groups, leaf_commands, subcommand_names

from govlink.cli import COMMAND_MODULES, main


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("prefix", sorted(groups()), ids=lambda p: " ".join(p) or "govlink")
def test_help_lists_every_subcommand(
    prefix: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """``govlink [GROUP] --help`` names each of its subcommands (found from the parser)."""
    parser = groups()[prefix]
    names = subcommand_names(parser)
    assert names
    with pytest.raises(SystemExit) as done:
        main([*prefix, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    listed = {m.group(1) for m in re.finditer(r"^ {4}(\S+)(?: {2,}\S|$)", text, re.M)}
    missing = [name for name in names if name not in listed]
    assert not missing, f"govlink {' '.join(prefix)} --help does not list {missing}"
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))


def test_every_leaf_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for path in leaf_commands():
        with pytest.raises(SystemExit) as done:
            main([*path, "--help"])
        assert done.value.code == 0, path
        assert capsys.readouterr().out.startswith(f"usage: govlink {' '.join(path)}")


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
    assert main(["outbox", "status"]) == 2
    assert "adaptr" in capsys.readouterr().err
