"""``govlink demo`` tells the whole story (the README's first command, run by CI): every step,
every check named in ``--json`` and shown as a line, exit 0; a broken check exits 1 naming it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from govlink.cli import _demo_supervision, main
from govlink.cli._demo import STEPS

#: Checks the issues ask for by name (the full list is longer).
REQUIRED = {
    "identity.sign_in",
    "identity.sso",
    "identity.provincial_exchange",
    "identity.single_logout",
    "sync.exactly_once",
    "supervision.summary",
    "supervision.report",
}


def test_the_whole_story_passes_with_every_check_named_and_shown(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = home / "demo"
    code = main(["demo", "--json", "--keep", str(state)])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 0, report["failures"]
    assert report["ok"] is True
    names = [check["name"] for check in report["checks"]]
    assert len(names) == len(set(names))
    assert set(names) >= REQUIRED
    assert {name.split(".")[0] for name in names} == set(STEPS)
    assert all(check["ok"] and check["detail"] for check in report["checks"])
    # One ✓ line per check in the human output (stderr with --json); the story ends with
    # supervision and the report's path.
    assert captured.err.count("✓") == len(names)
    assert "Traceback" not in captured.err
    supervision = report["supervision"]
    for level in ("on_time", "warning", "yellow", "red"):  # the cases step's figures, agreed
        assert supervision["levels"][level] == report["cases"]["levels"][level]
    assert supervision["flagged"] == sum(
        supervision["levels"][level] for level in ("warning", "yellow", "red")
    )
    written = Path(supervision["report"])
    assert written == state / "supervision.html"
    assert str(written) in captured.err
    text = written.read_text(encoding="utf-8")
    assert "<svg" in text
    assert "<script" not in text  # self-contained, opens offline


def test_supervision_alone_keeps_its_temporary_state_directory(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--step", "supervision"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"state kept in (\S+)", out)
    assert match, out
    kept = Path(match.group(1))
    try:
        assert (kept / "supervision.html").is_file()
        assert f"{kept / 'supervision.html'}" in out
        assert "预警" in out
        assert "红牌" in out
    finally:
        for path in kept.iterdir():
            path.unlink()
        kept.rmdir()


def test_a_temporary_state_directory_without_a_report_is_removed(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--step", "catalog"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"state in (\S+)", out)
    assert match, out
    assert not Path(match.group(1)).exists()
    assert "state kept" not in out


def test_a_report_that_cannot_be_written_fails_the_demo_naming_the_check(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unwritable(report: object, path: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_demo_supervision, "write_supervision_html", unwritable)
    code = main(["demo", "--step", "supervision", "--json", "--keep", str(home / "demo")])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert code == 1
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"] if not c["ok"]] == ["supervision.report"]
    assert report["failures"][0].startswith("supervision.report: the HTML report cannot be")
    assert "✗ supervision.report" in captured.err


def test_human_output_names_the_failed_check_at_the_end(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unwritable(report: object, path: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_demo_supervision, "write_supervision_html", unwritable)
    assert main(["demo", "--step", "supervision", "--keep", str(home / "demo")]) == 1
    out = capsys.readouterr().out
    assert "demo finished with 1 failure(s): supervision.report" in out
