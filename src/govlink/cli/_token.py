"""``govlink token issue|verify|exchange``: tokens of the city identity provider."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from .._errors import ConfigError
from ..domain import CreditCode, ResidentId
from ..identity import (
    ACR_LEVELS,
    SIGNING_ALGORITHMS,
    ExchangePolicy,
    ExchangeRule,
    InvalidToken,
    LegalPersonSubject,
    PersonSubject,
    StaffSubject,
    Subject,
    TokenExchange,
    open_city_identity,
)
from ._args import add_group
from ._context import CliContext

__all__ = ["register"]


def _subject(args: argparse.Namespace, halls: Iterable[str]) -> Subject:
    if args.subject_type == "person":
        return PersonSubject(ResidentId(args.subject, field="--subject"))
    if args.subject_type == "legal":
        if not args.agent:
            raise ConfigError("--subject-type legal needs --agent ID_NUMBER (the acting person)")
        return LegalPersonSubject(
            CreditCode(args.subject, field="--subject"),
            PersonSubject(ResidentId(args.agent, field="--agent")),
        )
    hall = args.hall or "370500"
    known = sorted(set(halls))
    if hall not in known:
        raise ConfigError(f"--hall {hall!r}: not a hall of this city (one of {', '.join(known)})")
    return StaffSubject(
        args.subject,
        department=args.department or "-",
        hall=hall,
        roles=tuple(args.role or ()),
    )


def _issue(ctx: CliContext) -> int:
    ctx.note_development_default()
    city = open_city_identity(ctx.settings, ctx.store(), clock=ctx.clock)
    city.issuer.alg = ctx.args.alg
    sign_in = city.issuer.sign_in(
        _subject(ctx.args, (client.hall_code for client in city.halls)),
        client=ctx.args.audience,
        acr=ctx.args.acr,
        scope=ctx.args.scope,
        refresh=ctx.args.refresh,
    )
    tokens = sign_in.tokens
    data: dict[str, Any] = {
        **tokens.to_dict(),
        "session_id": sign_in.session.sid,
        "client_id": tokens.client_id,
    }
    if not ctx.args.id_token:
        data.pop("id_token", None)
    ctx.emit(data, tokens.access_token)
    return 0


def _verify(ctx: CliContext) -> int:
    ctx.note_development_default()
    city = open_city_identity(ctx.settings, ctx.store(), clock=ctx.clock)
    verifier = city.issuer.verifier(ctx.args.audience)
    try:
        verified = verifier.verify(ctx.args.token.strip(), kind=ctx.args.kind)
    except InvalidToken as exc:
        if ctx.json:
            ctx.emit({"valid": False, "error": exc.code, "detail": exc.detail})
        else:
            ctx.err.print(f"invalid token: {exc.code} ({exc.detail})", markup=False)
        return 1
    claims = dict(verified.claims)
    human = "\n".join(f"{k}: {v}" for k, v in claims.items())
    ctx.emit(
        {"valid": True, "claims": claims, "kid": verified.kid, "alg": verified.alg},
        f"valid {verified.kind} token for {verified.audience}\n{human}",
    )
    return 0


def _exchange(ctx: CliContext) -> int:
    ctx.note_development_default()
    city = open_city_identity(ctx.settings, ctx.store(), clock=ctx.clock)
    token = ctx.args.token.strip()
    client = ctx.args.client
    if client is None:
        # The presenting hall defaults to the token's own audience.
        client = city.issuer.claimed_audience(token)
    # The bundled policy: any hall may exchange a city token for any other hall of the
    # same session, scopes narrowed (a deployment supplies its own policy in code).
    exchange = TokenExchange(
        city.issuer, ExchangePolicy((ExchangeRule(city.issuer.issuer, delegate=True),))
    )
    tokens = exchange.exchange(
        client=client, subject_token=token, audience=ctx.args.audience, scope=ctx.args.scope
    )
    data = {**tokens.to_dict(), "issued_token_type": tokens.issued_token_type}
    ctx.emit(data, tokens.access_token)
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    sub = add_group(
        commands,
        common,
        "token",
        help="issue, verify and exchange tokens",
        description="Tokens of the city identity provider.",
    )
    issue = sub.add_parser("issue", parents=[common], help="sign a subject in and issue tokens")
    issue.add_argument("--audience", required=True, help="hall region code or client id")
    issue.add_argument("--subject", required=True, help="ID number, credit code or staff id")
    issue.add_argument("--subject-type", choices=("person", "legal", "staff"), default="person")
    issue.add_argument("--acr", choices=sorted(ACR_LEVELS), default="3", help="trust level")
    issue.add_argument("--agent", help="agent's ID number (legal persons)")
    issue.add_argument("--department", help="staff department")
    issue.add_argument("--hall", help="staff hall region code")
    issue.add_argument("--role", action="append", help="staff role (repeatable)")
    issue.add_argument("--scope", help="space-separated scopes (default: the hall's)")
    issue.add_argument("--alg", choices=(*SIGNING_ALGORITHMS, "Ed25519"), help="signing algorithm")
    issue.add_argument("--id-token", action="store_true", help="also print the ID token")
    issue.add_argument("--refresh", action="store_true", help="also issue a refresh token")
    issue.set_defaults(func=_issue)
    verify = sub.add_parser("verify", parents=[common], help="verify a token for a hall")
    verify.add_argument("token")
    verify.add_argument("--audience", required=True, help="hall region code or client id")
    verify.add_argument("--kind", choices=("access", "id"), default="access")
    verify.set_defaults(func=_verify)
    exchange = sub.add_parser("exchange", parents=[common], help="RFC 8693 token exchange")
    exchange.add_argument("token")
    exchange.add_argument("--audience", required=True, help="target hall")
    exchange.add_argument("--client", help="presenting hall (default: the token's audience)")
    exchange.add_argument("--scope", help="narrower scope")
    exchange.set_defaults(func=_exchange)
