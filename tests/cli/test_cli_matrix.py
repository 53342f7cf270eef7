"""The command contract under hostile input: every subcommand × malformed inputs.

Subcommands are found from the parser (``leaf_commands``); each needs one line in
:data:`MINIMAL` (how to call it with valid arguments) and the test that checks the table fails
for a command without one, so a new command cannot go uncovered. Every run asserts the exit
code (1 invalid content, 2 usage/configuration) and that stderr holds no traceback and at most
one line. Runs are in-process through ``main(argv)``; a few go through a real subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest
from cli_helpers import leaf_commands, run_any

from govlink.cli import DEBUG_ENV, main
from govlink.cli._args import fixed_port, non_negative_float, port, positive_float, positive_int

SAMPLE = resources.files("govlink.samples").joinpath("data/cases.ndjson")


@dataclass(frozen=True)
class Call:
    """How to run a command with valid arguments: ``{file}`` is a valid input file of the
    command's kind; ``store``: it opens the store; ``serves``: it would start a server, so it
    is never run with a usable configuration."""

    argv: tuple[str, ...]
    store: bool = True
    serves: bool = False
    file_kind: str | None = None


MINIMAL: dict[tuple[str, ...], Call] = {
    ("demo",): Call(("demo", "--step", "catalog"), store=False),
    ("schemas", "export"): Call(("schemas", "export", "--check", "--dir", "{tmp}/s"), store=False),
    ("keys", "init"): Call(("keys", "init", "--dev")),
    ("keys", "rotate"): Call(("keys", "rotate")),
    ("keys", "maintain"): Call(("keys", "maintain")),
    ("keys", "list"): Call(("keys", "list")),
    ("keys", "jwks"): Call(("keys", "jwks")),
    ("token", "issue"): Call(
        ("token", "issue", "--audience", "370500", "--subject", "11010519491231002X")
    ),
    ("token", "verify"): Call(("token", "verify", "a.b.c", "--audience", "370500")),
    ("token", "exchange"): Call(("token", "exchange", "a.b.c", "--audience", "370502")),
    # A fixed port (the issuer is its URL); every matrix case exits before serving.
    ("idp", "serve"): Call(("idp", "serve", "--dev", "--port", "65432"), serves=True),
    ("idp", "logout-status"): Call(("idp", "logout-status")),
    ("supervise",): Call(("supervise", "{file}"), store=False, file_kind="supervise"),
    ("mock-province", "serve"): Call(("mock-province", "serve", "--port", "0"), False, True),
    ("mock-province", "openapi"): Call(("mock-province", "openapi"), store=False),
    ("sync", "run"): Call(("sync", "run", "--until-empty", "--province", "http://127.0.0.1:9")),
    ("sync", "cases"): Call(("sync", "cases", "{file}"), file_kind="events"),
    ("sync", "catalog"): Call(("sync", "catalog", "{file}"), file_kind="items"),
    ("outbox", "status"): Call(("outbox", "status")),
    ("outbox", "parked"): Call(("outbox", "parked")),
    ("outbox", "retry"): Call(("outbox", "retry", "C1")),
    ("outbox", "skip"): Call(("outbox", "skip", "C1", "--reason", "x")),
    ("outbox", "journal", "verify"): Call(("outbox", "journal", "verify")),
    ("outbox", "archive"): Call(("outbox", "archive", "--to", "{tmp}/archive")),
    ("outbox", "purge"): Call(("outbox", "purge")),
    ("store", "migrate"): Call(("store", "migrate")),
    ("config", "check"): Call(("config", "check")),
}

LEAVES = leaf_commands()


def test_every_subcommand_is_in_the_matrix() -> None:
    missing = sorted(set(LEAVES) - set(MINIMAL))
    assert not missing, f"add these commands to MINIMAL in {__file__}: {missing}"
    assert not set(MINIMAL) - set(LEAVES), "MINIMAL names a command that no longer exists"


# --- files ----------------------------------------------------------------------------------


def _valid_file(kind: str, tmp: Path) -> Path:
    lines = SAMPLE.read_text("utf-8").splitlines()
    first_case = lines[0]
    number = first_case.split('"case_number":"', 1)[1].split('"', 1)[0]
    events = [line for line in lines[1:40] if number in line]
    path = tmp / f"valid-{kind}.ndjson"
    if kind == "supervise":
        path.write_text("\n".join([first_case, *events]) + "\n", "utf-8")
    elif kind == "events":
        path.write_text("\n".join(events) + "\n", "utf-8")
    else:
        path.write_text('{"items": []}\n', "utf-8")
    return path


def _argv(call: Call, tmp: Path, file: Path | None = None) -> list[str]:
    out = []
    for part in call.argv:
        if part == "{file}":
            part = str(file or _valid_file(call.file_kind or "events", tmp))
        out.append(part.replace("{tmp}", str(tmp)))
    return out


#: Bad content: (file bytes, the rule the one-line error names). Each exits 1.
BAD_CONTENT: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "[empty]"),
    "blank": (b"\n  \n", "[empty]"),
    "binary": (bytes(range(256)) * 4, "[binary]"),
    "truncated": (b'{"events": [{"case_number": "C1", "seq', "[json]"),
    "deeply-nested-array": (b"[" * 100_000, "[nesting]"),
    "deeply-nested-object": (b'{"a":' * 50_000, "[nesting]"),
    "huge-integer": (b'{"sequence": ' + b"9" * 5000 + b"}", "[number]"),
    "huge-float": (b'{"sequence": 1e999}', "[number]"),
    "nan": (b'{"sequence": NaN}', "[json]"),
    "gbk": ('{"name": "东营市行政审批服务局"}\n{"a": 1}\n'.encode("gbk"), "[encoding]"),
    "utf16-without-bom": ('{"name": "东营"}\n'.encode("utf-16-le"), "[binary]"),
}


def _file_slots() -> list[tuple[tuple[str, ...], str | None]]:
    """(command, option) for every FILE a command reads (None: the positional), from the
    parser's metavars."""
    slots = []
    for path, parser in LEAVES.items():
        for action in parser._actions:
            if action.metavar == "FILE":
                option = action.option_strings[0] if action.option_strings else None
                slots.append((path, option))
    return slots


FILE_SLOTS = _file_slots()


def test_file_slots_are_found() -> None:
    found = {(" ".join(p), o) for p, o in FILE_SLOTS}
    assert {("supervise", None), ("sync cases", None), ("sync catalog", None)} <= found
    assert {("supervise", "--catalog"), ("supervise", "--holidays")} <= found
    assert ("outbox retry", "--event") in found


def _slot_argv(path: tuple[str, ...], option: str | None, bad: Path, tmp: Path) -> list[str]:
    call = MINIMAL[path]
    argv = _argv(call, tmp, bad) if option is None else [*_argv(call, tmp), option, str(bad)]
    if call.store:
        argv += ["--store", f"sqlite:///{tmp / 'ok.db'}"]
    return argv


def _one_line(err: str) -> None:
    """No traceback, and one error line (development-default notes aside)."""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if not line.startswith("note: ")]
    assert len(lines) <= 1, err


@pytest.mark.parametrize("content", sorted(BAD_CONTENT))
@pytest.mark.parametrize("slot", FILE_SLOTS, ids=lambda s: " ".join(s[0]) + (s[1] or ""))
def test_bad_file_content_exits_1_naming_file_and_rule(
    slot: tuple[tuple[str, ...], str | None],
    content: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    data, rule = BAD_CONTENT[content]
    bad = tmp_path / f"bad-{content}.json"
    bad.write_bytes(data)
    code, err = run_any(capsys, *_slot_argv(*slot, bad, tmp_path))
    assert code == 1, err
    _one_line(err)
    assert str(bad) in err, err
    assert rule in err, err


@pytest.mark.parametrize("kind", ["missing", "directory"])
@pytest.mark.parametrize("slot", FILE_SLOTS, ids=lambda s: " ".join(s[0]) + (s[1] or ""))
def test_unusable_file_path_exits_2(
    slot: tuple[tuple[str, ...], str | None],
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "nothing-here.json"
    if kind == "directory":
        bad.mkdir()
    code, err = run_any(capsys, *_slot_argv(*slot, bad, tmp_path))
    assert code == 2, err
    _one_line(err)
    assert str(bad) in err


def test_gbk_is_read_with_an_explicit_encoding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same GBK export that fails above is accepted with --encoding gb18030."""
    valid = _valid_file("events", tmp_path).read_text("utf-8")
    gbk = tmp_path / "gbk.ndjson"
    gbk.write_bytes(valid.encode("gb18030"))
    store = f"sqlite:///{tmp_path / 'g.db'}"
    code, err = run_any(capsys, "sync", "cases", str(gbk), "--store", store)
    assert code == 1
    assert "--encoding gb18030" in err
    code, err = run_any(
        capsys, "sync", "cases", str(gbk), "--store", store, "--encoding", "gb18030"
    )
    assert code == 0, err
    assert run_any(capsys, "sync", "cases", str(gbk), "--encoding", "klingon")[0] == 2


# --- flags ----------------------------------------------------------------------------------

_CHECKED = {positive_int, positive_float, non_negative_float, port, fixed_port}
_ALWAYS_BAD = ("abc", "nan", "inf", "-inf", "1e999", "", "0x10")


def _numeric_flags() -> list[tuple[tuple[str, ...], str, str]]:
    cases = []
    for path, parser in LEAVES.items():
        for action in parser._actions:
            if not action.option_strings or action.type not in (int, float, *_CHECKED):
                continue
            flag = action.option_strings[0]
            values = [v for v in _ALWAYS_BAD if not (action.type is float and v in ("nan",))]
            if action.type in _CHECKED:
                values.append("-1")
                if action.type in (positive_int, port, fixed_port):
                    values.append("99999999999999999999999")  # OverflowError territory
                if action.type is not non_negative_float and action.type is not port:
                    values.append("0")
            cases += [(path, flag, v) for v in values]
    return cases


NUMERIC_FLAGS = _numeric_flags()


def test_numeric_flags_are_found() -> None:
    found = {(" ".join(p), f) for p, f, _ in NUMERIC_FLAGS}
    for expected in [
        ("sync run", "--concurrency"),
        ("sync run", "--rate-limit"),
        ("sync run", "--lease"),
        ("sync run", "--batch-size"),
        ("mock-province serve", "--port"),
        ("mock-province serve", "--burst"),
        ("idp serve", "--port"),
    ]:
        assert expected in found


@pytest.mark.parametrize(
    ("path", "flag", "value"),
    NUMERIC_FLAGS,
    ids=[f"{' '.join(p)} {f}={v}" for p, f, v in NUMERIC_FLAGS],
)
def test_bad_numbers_are_usage_errors(
    path: tuple[str, ...],
    flag: str,
    value: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [*_argv(MINIMAL[path], tmp_path), f"{flag}={value}"]
    code, err = run_any(capsys, *argv)
    assert code == 2, err
    assert "Traceback" not in err
    assert flag in err or "threshold" in err, err


# --- store, home, settings --------------------------------------------------------------------


def _environment(kind: str, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the environment unusable in one way; returns extra arguments."""
    text = tmp / "text.txt"
    text.write_text("not a database, not a folder\n")
    if kind == "config-missing":
        monkeypatch.setenv("GOVLINK_CONFIG", str(tmp / "absent.toml"))
    elif kind == "config-not-toml":
        (tmp / "govlink.toml").write_text('home = "unterminated\n')
    elif kind == "config-not-utf8":
        (tmp / "govlink.toml").write_bytes('city = "东营"\n'.encode("gbk"))
    elif kind == "config-unknown-setting":
        (tmp / "govlink.toml").write_text('stor = "typo"\n')
    elif kind == "env-holiday-files-not-json":
        monkeypatch.setenv("GOVLINK_HOLIDAY_FILES", "[holidays.toml")
    elif kind == "env-client-secrets-not-json":
        monkeypatch.setenv("GOVLINK_IDP_CLIENT_SECRETS", "{hall-370500: x}")
    elif kind == "store-not-a-database":
        return ["--store", f"sqlite:///{text}"]
    elif kind == "store-under-a-file":
        return ["--store", f"sqlite:///{text}/govlink.db"]
    elif kind == "store-closed-port":
        return ["--store", "postgresql://postgres@127.0.0.1:9/none?connect_timeout=2"]
    elif kind == "home-is-a-file":
        return ["--home", str(text)]
    return []


SETTINGS_KINDS = [
    "config-missing",
    "config-not-toml",
    "config-not-utf8",
    "config-unknown-setting",
    "env-holiday-files-not-json",
    "env-client-secrets-not-json",
]
STORE_KINDS = ["store-not-a-database", "store-under-a-file", "store-closed-port", "home-is-a-file"]


ENVIRONMENT_CASES = [
    (path, kind)
    for path in sorted(MINIMAL)
    for kind in SETTINGS_KINDS + (STORE_KINDS if MINIMAL[path].store else [])
]


@pytest.mark.parametrize(
    ("path", "kind"), ENVIRONMENT_CASES, ids=[f"{' '.join(p)} {k}" for p, k in ENVIRONMENT_CASES]
)
def test_unusable_settings_store_or_home_exit_2(
    path: tuple[str, ...],
    kind: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call = MINIMAL[path]
    monkeypatch.chdir(tmp_path)
    argv = [*_argv(call, tmp_path), *_environment(kind, tmp_path, monkeypatch)]
    code, err = run_any(capsys, *argv)
    if path == ("config", "check"):
        # The checker reports what it found (exit 1: something is invalid), on stdout.
        assert code == 1, err
        assert "Traceback" not in err
        return
    assert code == 2, err
    _one_line(err)
    assert err.startswith("govlink: error[config_error]: "), err


# --- the last-resort guard and the real entry point -------------------------------------------


def test_an_unexpected_error_is_one_line_with_a_debug_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import govlink.cli._outbox as outbox_cli

    def broken(ctx: object) -> int:
        raise RuntimeError("boom for 370502199001011234")

    monkeypatch.setattr(outbox_cli, "run_status", broken)
    store = ["--store", f"sqlite:///{tmp_path / 'x.db'}"]
    assert main(["outbox", "status", *store]) == 1
    err = capsys.readouterr().err
    _one_line(err)
    assert "internal_error" in err
    assert f"{DEBUG_ENV}=1" in err
    assert "370502199001011234" not in err  # personal data masked even here
    monkeypatch.setenv(DEBUG_ENV, "1")
    assert main(["outbox", "status", *store]) == 1
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "content", "code"),
    [
        (["sync", "cases"], b"[" * 100_000, 1),
        (["supervise"], '{"a": "东营"}\n'.encode("utf-16-le"), 1),
        (["sync", "run", "--concurrency", "0"], None, 2),
    ],
    ids=["deep", "utf16", "flag"],
)
def test_through_the_real_entry_point(
    argv: list[str], content: bytes | None, code: int, tmp_path: Path
) -> None:
    args = list(argv)
    if content is not None:
        bad = tmp_path / "input.json"
        bad.write_bytes(content)
        args.append(str(bad))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVLINK_")}
    done = subprocess.run(
        [sys.executable, "-m", "govlink", *args, "--store", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    # One error line (argparse puts its usage summary above it).
    assert sum("error" in line for line in done.stderr.splitlines()) == 1, done.stderr


def test_idp_serve_on_a_busy_port_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.chdir(tmp_path)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        taken = busy.getsockname()[1]
        code, err = run_any(
            capsys,
            "idp",
            "serve",
            "--dev",
            "--port",
            str(taken),
            "--store",
            f"sqlite:///{tmp_path / 'x.db'}",
        )
    finally:
        busy.close()
    assert code == 2
    assert f"cannot listen on 127.0.0.1:{taken}" in err
    assert "Traceback" not in err


def test_token_issue_refuses_a_hall_that_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = ["--store", f"sqlite:///{tmp_path / 'x.db'}"]
    assert run_any(capsys, "keys", "init", "--dev", *store)[0] == 0
    base = ["token", "issue", "--audience", "370500", "--subject", "s1", "--subject-type", "staff"]
    code, err = run_any(capsys, *base, "--hall", "abc", *store)
    assert code == 2
    assert "--hall 'abc'" in err
    assert "370502" in err
    assert run_any(capsys, *base, "--hall", "370502", *store)[0] == 0


def test_unusable_dir_and_keep_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = tmp_path / "file.txt"
    text.write_text("x")
    for argv in (
        ["schemas", "export", "--dir", str(text)],
        ["schemas", "export", "--check", "--dir", str(text)],
        ["schemas", "export", "--dir", str(text / "sub")],
        ["demo", "--step", "catalog", "--keep", str(text / "sub")],
    ):
        code, err = run_any(capsys, *argv)
        assert code == 2, (argv, err)
        _one_line(err)
