"""``govlink token issue|verify|exchange`` in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run

from govlink.cli import main

ID = "11010519491231002X"


@pytest.fixture
def dev_home(home: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, _, _ = run(
        capsys, "keys", "init", "--dev", "--alg", "ES256", "--alg", "EdDSA", "--home", str(home)
    )
    assert code == 0
    return home


def issue(capsys: pytest.CaptureFixture[str], home: Path, *extra: str) -> dict[str, str]:
    code, data, err = run(
        capsys,
        "token",
        "issue",
        "--audience",
        "370502",
        "--subject",
        ID,
        "--acr",
        "4",
        "--json",
        "--home",
        str(home),
        *extra,
    )
    assert code == 0, err
    assert isinstance(data, dict)
    return data


def test_issue_and_verify(dev_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = issue(capsys, dev_home, "--id-token", "--refresh")
    assert {"access_token", "id_token", "refresh_token", "session_id"} <= set(data)
    code, out, _ = run(
        capsys,
        "token",
        "verify",
        data["access_token"],
        "--audience",
        "hall-370502",
        "--json",
        "--home",
        str(dev_home),
    )
    assert code == 0
    assert out["valid"] is True
    assert out["claims"]["acr"] == "4"
    assert out["claims"]["masked_id"] == "1101**********002X"
    code, out, _ = run(
        capsys,
        "token",
        "verify",
        data["id_token"],
        "--audience",
        "370502",
        "--kind",
        "id",
        "--home",
        str(dev_home),
    )
    assert code == 0
    assert "valid id token" in out


def test_verify_refusals_exit_1(dev_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = issue(capsys, dev_home)["access_token"]
    code, out, _ = run(
        capsys, "token", "verify", token, "--audience", "370500", "--json", "--home", str(dev_home)
    )
    assert code == 1
    assert out == {
        "valid": False,
        "error": "invalid_audience",
        "detail": "aud does not name this hall",
    }
    code, _, err = run(
        capsys, "token", "verify", "garbage", "--audience", "370502", "--home", str(dev_home)
    )
    assert code == 1
    assert "malformed_token" in err
    code, _, err = run(
        capsys, "token", "verify", token, "--audience", "999999", "--home", str(dev_home)
    )
    assert code == 1
    assert "unknown_hall" in err


def test_issue_bad_input(dev_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys,
        "token",
        "issue",
        "--audience",
        "370502",
        "--subject",
        "110105194912310021",
        "--home",
        str(dev_home),
    )
    assert code == 1
    assert "check_character" in err
    assert "110105194912310021" not in err
    code, _, err = run(
        capsys,
        "token",
        "issue",
        "--audience",
        "370502",
        "--subject",
        "x",
        "--subject-type",
        "legal",
        "--home",
        str(dev_home),
    )
    assert code == 2
    assert "--agent" in err
    with pytest.raises(SystemExit) as info:
        main(["token", "issue", "--subject", ID])
    assert info.value.code == 2
    capsys.readouterr()


def test_exchange(dev_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token = issue(capsys, dev_home, "--alg", "EdDSA")["access_token"]
    code, out, err = run(
        capsys,
        "token",
        "exchange",
        token,
        "--audience",
        "370523",
        "--scope",
        "cases:read",
        "--json",
        "--home",
        str(dev_home),
    )
    assert code == 0, err
    assert out["scope"] == "cases:read"
    code, verified, _ = run(
        capsys,
        "token",
        "verify",
        out["access_token"],
        "--audience",
        "370523",
        "--json",
        "--home",
        str(dev_home),
    )
    assert code == 0
    assert verified["claims"]["act"] == {"sub": "hall-370502"}
    code, out, err = run(
        capsys,
        "token",
        "exchange",
        token,
        "--audience",
        "370523",
        "--scope",
        "admin",
        "--json",
        "--home",
        str(dev_home),
    )
    assert code == 1
    assert out["error"]["error"] == "invalid_scope"


def test_without_keys(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "token", "verify", "a.b.c", "--audience", "370502", "--home", str(home)
    )
    assert code == 2
    assert "passphrase" in err
