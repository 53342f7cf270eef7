"""Property-based tests of the token verifier's parsing: anything that is not a valid token —
random text, random bytes, a valid token mutated — is refused with one of govlink's identity
errors (``InvalidToken`` and its subclasses), never another exception, and a mutated token is
never accepted unless its signed parts are unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fuzz_targets import AUDIENCE, token_verifier
from hypothesis import given, settings
from hypothesis import strategies as st

from govlink.identity import IdentityError, InvalidToken, Verifier
from govlink.identity._jose import b64url_encode

VERIFIER, TOKENS = token_verifier()
VALID = TOKENS[0]


def refused(verifier: Verifier, token: Any, kind: str = "access") -> IdentityError | None:
    """Verify ``token``; the identity error it raised, or ``None`` when it was accepted."""
    try:
        verifier.verify(token, kind=kind)
    except IdentityError as exc:
        return exc
    return None


def test_the_seed_token_verifies() -> None:
    assert VERIFIER.verify(VALID).subject == "p-1"
    assert VERIFIER.verify(TOKENS[1], kind="id").audience == AUDIENCE


@settings(max_examples=300, deadline=None)
@given(token=st.one_of(st.text(max_size=200), st.text(alphabet="ab.-_=", max_size=60)))
def test_random_text_is_refused_with_an_identity_error(token: str) -> None:
    for kind in ("access", "id", "logout"):
        assert isinstance(refused(VERIFIER, token, kind), IdentityError)


@settings(max_examples=100, deadline=None)
@given(token=st.one_of(st.binary(max_size=100), st.integers(), st.none(), st.lists(st.text())))
def test_values_that_are_not_text_are_malformed(token: Any) -> None:
    assert isinstance(refused(VERIFIER, token), InvalidToken)


@st.composite
def mutated_tokens(draw: st.DrawFn) -> str:
    token = draw(st.sampled_from(TOKENS))
    how = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "segments"]))
    at = draw(st.integers(min_value=0, max_value=len(token) - 1))
    piece = draw(st.text(max_size=4) | st.sampled_from([".", "=", "+", "/", "\x00", "é"]))
    if how == "replace":
        return token[:at] + piece + token[at + 1 :]
    if how == "insert":
        return token[:at] + piece + token[at:]
    if how == "delete":
        return token[:at] + token[at + 1 :]
    if how == "truncate":
        return token[:at]
    parts = token.split(".")
    order = draw(st.permutations(parts))
    extra = draw(st.lists(st.sampled_from(parts), max_size=3))
    return ".".join([*order, *extra])


@settings(max_examples=400, deadline=None)
@given(token=mutated_tokens())
def test_mutated_tokens_only_raise_identity_errors(token: str) -> None:
    error = refused(VERIFIER, token)
    if error is None:
        # Accepted: only possible when the signed header and claims are the valid token's
        # (base64url has a few spellings of the same bytes at the end of a segment).
        assert token.split(".")[:2] == VALID.split(".")[:2]


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_header_keys = st.sampled_from(["alg", "kid", "typ", "crit", "b64", "zip", "cty", "jku", "x5c"])
_claim_keys = st.sampled_from(["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "scope"])


def _segment(value: Any) -> str:
    return b64url_encode(json.dumps(value, separators=(",", ":")).encode())


@settings(max_examples=300, deadline=None)
@given(
    header_change=st.dictionaries(_header_keys, _json_values, max_size=2),
    claims_change=st.dictionaries(_claim_keys, _json_values, max_size=3),
    raw_header=st.one_of(st.none(), _json_values),
)
def test_odd_headers_and_claims_only_raise_identity_errors(
    header_change: dict[str, Any], claims_change: dict[str, Any], raw_header: Any
) -> None:
    """Headers and claims of any JSON shape and type (the signature no longer matches, but
    every check before it must still fail cleanly)."""
    h, p, s = VALID.split(".")
    header = json.loads(b64url_decode_text(h))
    claims = json.loads(b64url_decode_text(p))
    header.update(header_change)
    claims.update(claims_change)
    head = _segment(raw_header) if raw_header is not None else _segment(header)
    token = f"{head}.{_segment(claims)}.{s}"
    if token.split(".")[:2] == VALID.split(".")[:2]:
        return
    assert isinstance(refused(VERIFIER, token), IdentityError)


def b64url_decode_text(segment: str) -> str:
    from govlink.identity._jose import b64url_decode

    return b64url_decode(segment).decode()


@pytest.mark.parametrize(
    "token",
    [
        "",
        ".",
        "..",
        "a.b.c",
        "e30.e30.",
        "e30.e30.e30.e30.e30",
        "\udcff.\udcff.\udcff",
        "eyJhbGciOiJFUzI1NiJ9." + "A" * 9000 + ".x",
        _segment({"alg": "ES256", "kid": "k1"}) + "." + _segment([1] * 3) + ".x",
        _segment({"alg": "ES256", "kid": "k1"}) + "." + "W" * 2 + "1" * 5000 + ".x",
    ],
)
def test_known_odd_tokens(token: str) -> None:
    assert isinstance(refused(VERIFIER, token), InvalidToken)
