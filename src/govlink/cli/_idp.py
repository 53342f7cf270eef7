"""``govlink idp serve``: the city identity provider over HTTP (OIDC, ASGI under uvicorn)."""

from __future__ import annotations

import argparse
import ipaddress

from .._clock import Clock
from .._errors import ConfigError, ValidationError
from .._settings import Settings
from ..identity import (
    ClientSecrets,
    ProvincialMapping,
    RemoteJWKS,
    create_provider_app,
    open_city_identity,
)
from ..store import Store
from ._args import port
from ._context import CliContext, listen

__all__ = ["register"]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def provincial_sign_in(settings: Settings, store: Store, clock: Clock) -> list[ProvincialMapping]:
    """The provincial identity platform whose one-time tickets sign people in, if configured.

    Raises:
        ConfigError: only one of ``province_identity_issuer`` and ``province_identity_jwks_url``
            is set.
    """
    issuer, jwks_url = settings.province_identity_issuer, settings.province_identity_jwks_url
    if issuer is None and jwks_url is None:
        return []
    if issuer is None or jwks_url is None:
        raise ConfigError(
            "settings province_identity_issuer and province_identity_jwks_url go together: "
            "set both (GOVLINK_PROVINCE_IDENTITY_ISSUER, GOVLINK_PROVINCE_IDENTITY_JWKS_URL)"
        )
    audience = settings.province_identity_audience or settings.identity_issuer
    keys = RemoteJWKS(jwks_url, store=store, clock=clock)  # last-known-good kept in the store
    return [ProvincialMapping(issuer, keys, audience)]


def _serve(ctx: CliContext) -> int:
    args = ctx.args
    settings = ctx.settings
    # Same rule as `keys init`: a real passphrase, or an explicit development store.
    if settings.key_passphrase is None and not args.dev:
        raise ConfigError(
            "no key passphrase: set GOVLINK_KEY_PASSPHRASE (or key_passphrase in govlink.toml); "
            "for a development server only, run `govlink idp serve --dev`"
        )
    if args.dev and not _loopback(args.host):
        raise ConfigError("--dev serves plain HTTP with development secrets: loopback host only")
    try:
        import uvicorn  # the `server` extra
    except ImportError:
        raise ConfigError("uvicorn is not installed: pip install 'govlink[server]'") from None
    ctx.note_development_default()
    city = open_city_identity(
        settings, ctx.store(), clock=ctx.clock, dev=args.dev, create_dev_passphrase=args.dev
    )
    if not city.keys.list_keys():
        if not args.dev:
            raise ConfigError("no signing keys: run `govlink keys init` first")
        city.keys.init(["ES256"])
    configured = {k: v.get_secret_value() for k, v in settings.idp_client_secrets.items()}
    if configured:
        try:
            client_secrets = ClientSecrets.from_config(configured)
        except ValidationError as exc:
            raise ConfigError(f"setting {exc.message}") from None
    elif args.dev:
        client_secrets, plain = ClientSecrets.generate(c.client_id for c in city.halls)
        ctx.err.print(
            "[yellow]DEVELOPMENT client secrets (generated for this run, shown once, kept "
            "nowhere; set GOVLINK_IDP_CLIENT_SECRETS for production):[/yellow]"
        )
        for client_id, secret in plain.items():
            ctx.err.print(f"  {client_id}  {secret}", markup=False)
    else:
        raise ConfigError(
            "no client secrets: set GOVLINK_IDP_CLIENT_SECRETS (JSON: client id -> secret or "
            "'sha256:<hex>') or idp_client_secrets in govlink.toml"
        )
    provinces = provincial_sign_in(settings, ctx.store(), ctx.clock)
    if not provinces:
        ctx.err.print(
            "[yellow]no provincial identity platform configured "
            "(GOVLINK_PROVINCE_IDENTITY_ISSUER, GOVLINK_PROVINCE_IDENTITY_JWKS_URL): "
            "/authorize can sign no one in; refresh, exchange and logout still work[/yellow]"
        )
    app = create_provider_app(
        city, client_secrets=client_secrets, provinces=provinces, secure_cookies=not args.dev
    )
    sock = listen(args.host, args.port)  # an address in use: one line, exit 2
    ctx.err.print(
        f"identity provider {settings.identity_issuer} serving on http://{args.host}:{args.port}",
        markup=False,
    )
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    finally:
        sock.close()
    return 0


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    parser = commands.add_parser(
        "idp",
        parents=[common],
        help="run the city identity provider (OIDC over HTTP)",
        description="The city identity provider: discovery, JWKS, authorize, token, revoke, "
        "introspect, logout.",
    )
    sub = parser.add_subparsers(dest="idp_command", metavar="ACTION", required=True)
    serve = sub.add_parser("serve", parents=[common], help="serve the identity provider")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=port, default=8600, help="port to bind (8600)")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development server: generated key passphrase and client secrets, cookies "
        "without Secure (loopback only)",
    )
    serve.set_defaults(func=_serve)
