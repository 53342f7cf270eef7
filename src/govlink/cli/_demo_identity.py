"""Demo step ``identity``: one sign-in, accepted at the city hall and a county hall; forged and
misaddressed tokens refused; single logout ends it everywhere."""

from __future__ import annotations

import json
from typing import Any

from joserfc.jwk import ECKey

from .._settings import load_settings
from ..domain import ResidentId
from ..identity import (
    ExchangePolicy,
    ExchangeRule,
    InvalidToken,
    Person,
    TokenExchange,
    Verifier,
    b64url_decode,
    b64url_encode,
    open_city_identity,
)
from ..identity._jose import sign_compact
from ..store import open_store
from ._demo import Demo

__all__ = ["step"]

#: The example number printed in GB 11643-1999 itself: valid, and nobody's.
_EXAMPLE_ID = "11010519491231002X"


def _refusal(verifier: Verifier, token: str) -> str | None:
    try:
        verifier.verify(token)
    except InvalidToken as exc:
        return exc.code
    return None


def step(demo: Demo) -> None:
    """Run the identity part of the demo story (see the module docstring)."""
    demo.section("Unified identity (统一身份认证): one sign-in for every hall")
    settings = load_settings(home=str(demo.home)).model_copy(
        update={"key_passphrase": None, "city": "370500"}
    )
    store = open_store(f"sqlite:///{demo.home / 'identity.db'}")
    try:
        city = open_city_identity(
            settings, store, clock=demo.clock, dev=True, create_dev_passphrase=True
        )
        if not city.keys.initialised:
            city.keys.init(["ES256"])
        issuer = city.issuer
        demo.info(
            f"development key ring: {city.keys.signing_key().alg} key "
            f"{city.keys.signing_key().kid[:12]}… (passphrase generated, development only)"
        )
        person = Person(ResidentId(_EXAMPLE_ID), name="张三")
        sign_in = issuer.sign_in(person, client="370500", acr=4, amr=["face"])
        city_token = sign_in.tokens.access_token
        exchange = TokenExchange(
            issuer, ExchangePolicy((ExchangeRule(issuer.issuer, delegate=True),))
        )
        county_token = exchange.exchange(
            client="370500", subject_token=city_token, audience="370502", scope="cases:read"
        ).access_token
        at_city, at_county = issuer.verifier("370500"), issuer.verifier("370502")
        summary: dict[str, Any] = {}
        try:
            city_claims = at_city.verify(city_token).claims
            county_claims = at_county.verify(county_token).claims
        except InvalidToken as exc:
            demo.fail(f"single sign-on token refused: {exc.code}")
            return
        demo.ok(
            f"signed in once at 东营市 (370500), acr {city_claims['acr']}, "
            f"{city_claims['masked_id']}; 东营区 (370502) accepts the same session without a "
            f"new sign-in (sid {str(county_claims['sid'])[:8]}…, scope "
            f"{county_claims['scope']!r})"
        )
        summary["sso"] = True

        misaddressed = _refusal(at_county, city_token)
        forger = ECKey.generate_key("P-256")
        real_kid = city.keys.signing_key().kid
        forged = sign_compact(
            {"alg": "ES256", "kid": real_kid, "typ": "at+jwt"},
            json.loads(b64url_decode(county_token.split(".")[1])),
            forger,
        )
        header = b64url_encode(b'{"alg":"none","typ":"at+jwt"}')
        unsigned = f"{header}.{county_token.split('.')[1]}."
        refusals = {
            "city token at the county hall": (misaddressed, "invalid_audience"),
            "token signed with another key": (_refusal(at_county, forged), "invalid_signature"),
            "alg none": (_refusal(at_county, unsigned), "algorithm_not_allowed"),
        }
        for what, (got, expected) in refusals.items():
            if got == expected:
                demo.ok(f"refused: {what} \\[{got}]")  # \\[ : a literal bracket for rich
            else:
                demo.fail(f"{what}: expected {expected}, got {got or 'accepted'}")
        summary["refusals"] = {what: got for what, (got, _) in refusals.items()}

        notices = issuer.logout(sign_in.session.sid)
        after = {
            "370500": _refusal(at_city, city_token),
            "370502": _refusal(at_county, county_token),
        }
        if all(code == "token_revoked" for code in after.values()):
            demo.ok(
                f"single logout: session ended at {len(notices)} halls; both now refuse "
                "\\[token_revoked]"
            )
        else:
            demo.fail(f"after single logout the halls answered {after}")
        summary["logout"] = after
        demo.summary["identity"] = summary
    finally:
        store.close()
