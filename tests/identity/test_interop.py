"""Interop: PyJWT and jwcrypto verify govlink's tokens given only ``govlink keys jwks``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jwt as pyjwt
import pytest
from identity_helpers import ALL_ALGORITHMS
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jwt as jwcrypto_jwt

from govlink.cli import main

ID = "11010519491231002X"
AUD = "hall-370502"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], dict[str, str]]:
    """A dev key ring with every algorithm; the JWKS and one token per algorithm, all through
    the command line."""
    home = tmp_path_factory.mktemp("interop") / "home"
    saved = {k: v for k, v in os.environ.items() if k.startswith("GOVLINK_")}
    for name in saved:
        del os.environ[name]
    cwd = Path.cwd()
    os.chdir(home.parent)
    try:

        def cli(*argv: str) -> str:
            import contextlib
            import io

            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                assert main([*argv, "--home", str(home)]) == 0
            return buffer.getvalue()

        alg_args = [a for alg in ALL_ALGORITHMS for a in ("--alg", alg)]
        cli("keys", "init", "--dev", "--json", *alg_args)
        jwks = json.loads(cli("keys", "jwks", "--json"))
        tokens = {}
        for alg in ALL_ALGORITHMS:
            issued = json.loads(
                cli(
                    "token",
                    "issue",
                    "--audience",
                    "370502",
                    "--subject",
                    ID,
                    "--acr",
                    "4",
                    "--alg",
                    alg,
                    "--json",
                )
            )
            tokens[alg] = issued["access_token"]
        return jwks, tokens
    finally:
        os.chdir(cwd)
        os.environ.update(saved)


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_pyjwt_verifies(published: tuple[dict[str, object], dict[str, str]], alg: str) -> None:
    jwks, tokens = published
    token = tokens[alg]
    header = pyjwt.get_unverified_header(token)
    assert header["alg"] == alg
    assert header["typ"] == "at+jwt"
    key = pyjwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = pyjwt.decode(
        token,
        key.key,
        algorithms=[alg],
        audience=AUD,
        issuer="https://sso.dongying.example",
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    assert claims["acr"] == "4"
    with pytest.raises(pyjwt.InvalidAudienceError):
        pyjwt.decode(token, key.key, algorithms=[alg], audience="hall-370500")


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_jwcrypto_verifies(published: tuple[dict[str, object], dict[str, str]], alg: str) -> None:
    jwks, tokens = published
    keyset = jwcrypto_jwk.JWKSet.from_json(json.dumps(jwks))
    verified = jwcrypto_jwt.JWT(
        jwt=tokens[alg],
        key=keyset,
        algs=[alg],
        check_claims={"iss": "https://sso.dongying.example", "aud": AUD, "exp": None},
    )
    assert json.loads(verified.claims)["acr"] == "4"
    with pytest.raises(jwcrypto_jwt.JWTInvalidClaimValue):
        jwcrypto_jwt.JWT(
            jwt=tokens[alg], key=keyset, algs=[alg], check_claims={"aud": "hall-370500"}
        )
