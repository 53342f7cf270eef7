"""``govlink idp serve``: the city identity provider over HTTP (OIDC, ASGI under uvicorn)."""

from __future__ import annotations

import argparse
import ipaddress
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from .._clock import Clock
from .._errors import ConfigError, ValidationError
from .._settings import Settings
from ..identity import (
    Authenticator,
    ClientSecrets,
    DevPasswordAuthenticator,
    ExchangePolicy,
    ExchangeRule,
    LogoutOutbox,
    ProviderConfig,
    ProvincialMapping,
    RemoteJWKS,
    TokenExchange,
    create_provider_app,
    dev_halls,
    load_provider_config,
    open_city_identity,
)
from ..store import Store
from ._args import fixed_port, port
from ._context import CliContext, listen

__all__ = ["register"]

#: Where ``idp serve --dev`` mounts the mock provincial identity platform (its identity face)
#: when no province is configured.
MOCK_IDENTITY_PATH = "/province-identity"
#: The provider's app id at that in-process face.
MOCK_IDENTITY_APP_ID = "govlink-idp-dev"
# What the provider copies from the mock's tickets (as IdentityPlatform.provincial_mapping does):
# the masked identifiers, and the masked name and organisation so that a hall can greet people.
_MOCK_COPIED = ("masked_id", "credit_code", "name_masked", "org_name")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def provincial_sign_in(
    settings: Settings, store: Store, clock: Clock, city_issuer: str | None = None
) -> list[ProvincialMapping]:
    """The provincial identity platform whose one-time tickets sign people in, if configured.
    ``city_issuer``: the city issuer actually served (the default audience of its tickets).

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
    audience = settings.province_identity_audience or city_issuer or settings.identity_issuer
    keys = RemoteJWKS(jwks_url, store=store, clock=clock)  # last-known-good kept in the store
    return [ProvincialMapping(issuer, keys, audience)]


def _url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"--province-identity: url: {text[:80]!r} is not an http(s) URL"
        )
    return text.rstrip("/")


@dataclass(frozen=True)
class DevProvince:
    """The mock provincial identity platform an ``idp serve --dev`` signs people in with.

    ``mapping``: how the provider trusts its tickets. ``sign_in``: its sign-in page (with the
    provider's ``app_id``). ``app``: the face to mount at :data:`MOCK_IDENTITY_PATH` when it runs
    in-process (``None`` for a served one).
    """

    mapping: ProvincialMapping
    sign_in: str
    app: Any = None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def in_process_province(clock: Clock, issuer: str, host: str, port: int) -> DevProvince:
    """The mock's identity face for a development provider, served by the provider itself at
    :data:`MOCK_IDENTITY_PATH` on the same clock; the provider is its app (tickets addressed
    to ``issuer``) and fetches its JWKS over HTTP from the URL actually served."""
    from ..testing import IdentityApp, IdentityPlatform, IdentityPlatformConfig

    public = f"{issuer.rstrip('/')}{MOCK_IDENTITY_PATH}"  # what the browser reaches
    served = f"http://{_url_host(host)}:{port}{MOCK_IDENTITY_PATH}"  # what this process reaches
    hosts = {"127.0.0.1", "localhost", "::1", host, urlsplit(issuer).hostname or host}
    app = IdentityApp(
        MOCK_IDENTITY_APP_ID, secrets.token_urlsafe(24), issuer.rstrip("/"), frozenset(hosts)
    )
    platform = IdentityPlatform(
        clock=clock,
        config=IdentityPlatformConfig(
            issuer=public, apps={app.app_id: app}, default_app=app.app_id
        ),
        base_url=public,
    )
    # No store: the face's keys live and die with this process, so a last-known-good JWKS
    # kept from an earlier run would only hold keys that no longer exist.
    keys = RemoteJWKS(f"{served}/jwks", clock=clock)
    mapping = platform.provincial_mapping(keys, audience=app.audience)
    sign_in = f"{public}/login?{urlencode({'app_id': app.app_id})}"
    return DevProvince(mapping, sign_in, platform.app)


def served_province(url: str, settings: Settings, store: Store, clock: Clock) -> DevProvince:
    """A served mock identity face at ``url`` (e.g. ``.../identity`` of ``govlink
    mock-province serve``): its issuer read from ``/admin/state``, its demo app's tickets
    (audience ``province_identity_audience`` or the demo city's issuer) trusted.

    Raises:
        ConfigError: nothing at ``url`` answers like a mock identity face.
    """
    from .._http import httpx
    from ..testing import DEFAULT_CITY_AUDIENCE, DEMO_IDENTITY_APP_ID

    try:
        state = httpx.get(f"{url}/admin/state", timeout=5).raise_for_status().json()
        platform_issuer = state["issuer"]
        if not isinstance(platform_issuer, str):
            raise TypeError
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"--province-identity: mock_face: no mock identity face answers at {url}/admin/state "
            f"({type(exc).__name__}); start one (govlink mock-province serve) or drop the option"
        ) from None
    audience = settings.province_identity_audience or DEFAULT_CITY_AUDIENCE
    keys = RemoteJWKS(f"{url}/jwks", store=store, clock=clock)
    mapping = ProvincialMapping(platform_issuer, keys, audience, copy_claims=_MOCK_COPIED)
    return DevProvince(mapping, f"{url}/login?{urlencode({'app_id': DEMO_IDENTITY_APP_ID})}")


def _serve(ctx: CliContext) -> int:
    args = ctx.args
    settings = ctx.settings
    if args.province_identity is not None and not args.dev:
        raise ConfigError(
            "--province-identity: development_only: a deployment names its provincial platform "
            "in settings (GOVLINK_PROVINCE_IDENTITY_ISSUER, GOVLINK_PROVINCE_IDENTITY_JWKS_URL)"
        )
    # Same rule as `keys init`: a real passphrase, or an explicit development store.
    if settings.key_passphrase is None and not args.dev:
        raise ConfigError(
            "no key passphrase: set GOVLINK_KEY_PASSPHRASE (or key_passphrase in govlink.toml); "
            "for a development server only, run `govlink idp serve --dev`"
        )
    if args.dev and not _loopback(args.host):
        raise ConfigError("--dev serves plain HTTP with development secrets: loopback host only")
    listen(args.host, args.port).close()  # before any work: a busy port is one clear line
    try:
        import uvicorn  # the `server` extra
    except ImportError:
        raise ConfigError("uvicorn is not installed: pip install 'govlink[server]'") from None
    recorder: Any = None
    if args.metrics_port is not None:
        # Checked before any work, like --port: a missing extra or a busy port is one line.
        from .. import metrics

        recorder = metrics.IdentityMetrics()
        listen(args.metrics_host, args.metrics_port).close()
    ctx.note_development_default()
    # In development the issuer is the URL actually served (a client such as openid-client
    # refuses discovery whose issuer differs from the URL it fetched); an explicit
    # GOVLINK_IDENTITY_ISSUER always wins.
    issuer = settings.identity_issuer
    if args.dev and "identity_issuer" not in settings.model_fields_set:
        issuer = f"http://{args.host}:{args.port}"
    config: ProviderConfig | None = None
    if settings.idp_clients_file is not None:
        config = load_provider_config(settings.idp_clients_file)
        halls = config.halls
    elif args.dev:
        halls = dev_halls(settings.city)
    else:
        raise ConfigError(
            "no halls configured: set idp_clients_file in govlink.toml (or "
            "GOVLINK_IDP_CLIENTS_FILE) to the identity provider's file (see docs/identity.md); "
            "for a development server only, run `govlink idp serve --dev`"
        )
    city = open_city_identity(
        settings,
        ctx.store(),
        clock=ctx.clock,
        dev=args.dev,
        create_dev_passphrase=args.dev,
        halls=halls,
        issuer=issuer,
    )
    if not city.keys.list_keys():
        if not args.dev:
            raise ConfigError("no signing keys: run `govlink keys init` first")
        city.keys.init(["ES256", "RS256"])  # RS256 for ID tokens (OIDC clients expect it)
    configured = {k: v.get_secret_value() for k, v in settings.idp_client_secrets.items()}
    needs_secret = [c.client_id for c in halls if c.auth_method != "private_key_jwt"]
    if configured:
        try:
            client_secrets = ClientSecrets.from_config(configured)
        except ValidationError as exc:
            raise ConfigError(f"setting {exc.message}") from None
        missing = [c for c in needs_secret if c not in client_secrets.hashes]
        if missing:
            raise ConfigError(
                f"setting idp_client_secrets: required: no secret for client {missing[0]!r} "
                "(its token_endpoint_auth_method needs one)"
            )
    elif args.dev:
        client_secrets, plain = ClientSecrets.generate(needs_secret)
        ctx.err.print(
            "[yellow]DEVELOPMENT client secrets (generated for this run, shown once, kept "
            "nowhere; set GOVLINK_IDP_CLIENT_SECRETS for production):[/yellow]"
        )
        for client_id, secret in plain.items():
            ctx.err.print(f"  {client_id}  {secret}", markup=False)
    elif needs_secret:
        raise ConfigError(
            "no client secrets: set GOVLINK_IDP_CLIENT_SECRETS (JSON: client id -> secret or "
            "'sha256:<hex>') or idp_client_secrets in govlink.toml"
        )
    else:
        client_secrets = ClientSecrets({})
    dev_province: DevProvince | None = None
    if args.province_identity is not None:
        dev_province = served_province(args.province_identity, settings, ctx.store(), ctx.clock)
        provinces = [dev_province.mapping]
        ctx.err.print(
            f"[yellow]mock provincial identity platform at {args.province_identity}: sign-in page "
            f"{args.province_identity}/login[/yellow]",
        )
    else:
        provinces = provincial_sign_in(settings, ctx.store(), ctx.clock, issuer)
    if not provinces and args.dev:
        # Development signs people in out of the box: the mock's identity face, in-process.
        dev_province = in_process_province(ctx.clock, issuer, args.host, args.port)
        provinces = [dev_province.mapping]
        ctx.err.print(
            "[yellow]no provincial identity platform configured: using the mock one "
            f"(development default), sign-in page {issuer.rstrip('/')}{MOCK_IDENTITY_PATH}/login"
            "[/yellow]"
        )
    if not provinces:
        ctx.err.print(
            "[yellow]no provincial identity platform configured "
            "(GOVLINK_PROVINCE_IDENTITY_ISSUER, GOVLINK_PROVINCE_IDENTITY_JWKS_URL): "
            "/authorize can sign no one in; refresh, exchange and logout still work[/yellow]"
        )
    if config is not None:
        policy = config.exchange_policy(issuer, [p.issuer for p in provinces])
    else:
        # Development: every hall may exchange within the city, and provincial tokens
        # (trust level 3 and up) become city tokens.
        policy = ExchangePolicy(
            (ExchangeRule(issuer), *(ExchangeRule(p.issuer, min_acr=3) for p in provinces))
        )
    exchange = TokenExchange(city.issuer, policy, provinces=provinces)
    authenticator: Authenticator | None = None
    throttle: dict[str, Any] = {}
    if config is not None:
        throttle = {"max_failures": config.max_failures, "failure_window": config.failure_window}
        if config.authenticator == "dev_password":
            if not args.dev:
                raise ConfigError(
                    "identity provider file: sign_in.authenticator: development_only: the "
                    "built-in password page is for `govlink idp serve --dev` only"
                )
            try:
                authenticator = DevPasswordAuthenticator(config.dev_users)
            except ValidationError as exc:
                raise ConfigError(f"identity provider file: sign_in.users: {exc.message}") from None
    app = create_provider_app(
        city,
        client_secrets=client_secrets,
        exchange=exchange,
        secure_cookies=not args.dev,
        authenticator=authenticator,
        province_sign_in=dev_province.sign_in if dev_province is not None else None,
        metrics=recorder,
        **throttle,
    )
    if dev_province is not None and dev_province.app is not None:
        app.mount(MOCK_IDENTITY_PATH, dev_province.app)
    sock = listen(args.host, args.port)  # an address in use: one line, exit 2
    exporter: Any = None
    if recorder is not None:
        from ..metrics import serve_metrics

        try:
            exporter = serve_metrics(recorder, args.metrics_port, args.metrics_host)
        except ConfigError:
            sock.close()
            raise
        ctx.err.print(f"metrics at {exporter.url}", markup=False)
    ctx.err.print(
        f"identity provider {issuer} serving on http://{args.host}:{args.port} "
        f"({len(halls)} halls, {len(policy.rules)} exchange rules)",
        markup=False,
    )
    server_config = uvicorn.Config(
        app,
        log_level="warning",
        # The sign-in throttle counts failures per client address: behind a load balancer,
        # trust its X-Forwarded-For (only from the addresses named here).
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    try:
        uvicorn.Server(server_config).run(sockets=[sock])
    finally:
        sock.close()
        if exporter is not None:
            exporter.close()
    return 0


def _logout_status(ctx: CliContext) -> int:
    from datetime import UTC, datetime

    rows = LogoutOutbox(ctx.store(), clock=ctx.clock).status(include_delivered=ctx.args.all)
    data = [
        {
            "hall": r.client_id,
            "state": r.state,
            "attempts": r.attempts,
            "next_at": r.next_at,
            "expires_at": r.expires_at,
            "last_error": r.last_error,
        }
        for r in rows
    ]
    lines = [
        f"{r.state:9} {r.client_id:24} attempts={r.attempts} "
        f"next={datetime.fromtimestamp(r.next_at, UTC):%Y-%m-%d %H:%M:%S}Z "
        f"error={r.last_error or '-'}"
        for r in rows
    ]
    ctx.emit(data, "\n".join(lines) or "no back-channel logout pending or failed")
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
    serve.add_argument("--port", type=fixed_port, default=8600, help="port to bind (8600)")
    serve.add_argument(
        "--dev",
        action="store_true",
        help="development server: generated key passphrase and client secrets, cookies "
        "without Secure (loopback only)",
    )
    serve.add_argument(
        "--province-identity",
        type=_url,
        metavar="URL",
        help="with --dev: sign people in at this served mock identity face (e.g. "
        "http://127.0.0.1:8700/identity) instead of the one --dev mounts at "
        f"{MOCK_IDENTITY_PATH} when no province is configured",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        metavar="IPS",
        help="comma-separated proxy addresses whose X-Forwarded-For names the client "
        "(127.0.0.1; '*' trusts any)",
    )
    serve.add_argument(
        "--metrics-port",
        type=port,
        default=None,
        metavar="PORT",
        help="serve Prometheus metrics on this port (/metrics; needs govlink[metrics])",
    )
    serve.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address the metrics port binds (default 127.0.0.1)",
    )
    serve.set_defaults(func=_serve)
    status = sub.add_parser(
        "logout-status",
        parents=[common],
        help="back-channel logout notices pending or failed (from the store)",
    )
    status.add_argument("--all", action="store_true", help="include delivered notices")
    status.set_defaults(func=_logout_status)
