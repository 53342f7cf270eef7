"""``govlink keys``: in-process, in a temporary home, exit codes 0/1/2, --json, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run

from govlink.cli import main


def test_init_refuses_without_passphrase(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "keys", "init", "--home", str(home))
    assert code == 2
    assert "GOVLINK_KEY_PASSPHRASE" in err
    assert "--dev" in err


def test_dev_init_list_rotate_jwks(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, err = run(
        capsys,
        "keys",
        "init",
        "--dev",
        "--alg",
        "ES256",
        "--alg",
        "Ed25519",
        "--json",
        "--home",
        str(home),
    )
    assert code == 0, err
    assert data["development"] is True
    assert [k["alg"] for k in data["keys"]] == ["ES256", "EdDSA"]
    assert "DEVELOPMENT" in err
    passphrase_file = home / "DEVELOPMENT-ONLY-key-passphrase"
    assert passphrase_file.stat().st_mode & 0o077 == 0
    code, data, _ = run(capsys, "keys", "init", "--dev", "--home", str(home))
    assert code == 1  # already initialised
    code, data, _ = run(capsys, "keys", "rotate", "--alg", "ES256", "--json", "--home", str(home))
    assert code == 0
    assert data["key"]["state"] == "next"
    code, data, _ = run(capsys, "keys", "maintain", "--json", "--home", str(home))
    assert code == 0
    assert data == {"created": []}  # nothing due yet
    code, data, _ = run(capsys, "keys", "list", "--json", "--home", str(home))
    assert code == 0
    assert sorted(k["state"] for k in data["keys"]) == ["active", "active", "next"]
    code, data, _ = run(capsys, "keys", "jwks", "--json", "--home", str(home))
    assert code == 0
    assert len(data["keys"]) == 3
    assert all("d" not in k for k in data["keys"])


def test_passphrase_from_environment(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "a real passphrase")
    code, data, err = run(capsys, "keys", "init", "--json", "--home", str(home))
    assert code == 0, err
    assert data["development"] is False
    assert not (home / "DEVELOPMENT-ONLY-key-passphrase").exists()
    monkeypatch.setenv("GOVLINK_KEY_PASSPHRASE", "the wrong one")
    code, _, err = run(capsys, "keys", "list", "--home", str(home))
    assert code == 1
    assert "key_decryption_failed" in err
    assert "the wrong one" not in err
    assert "a real passphrase" not in err


def test_bad_arguments_exit_2(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["keys", "init", "--alg", "HS256", "--home", str(home)])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["keys"])
    assert info.value.code == 2
    capsys.readouterr()
