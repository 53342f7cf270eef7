"""The ways to reach the mock province: the Starlette app, in-process httpx clients, respx,
and uvicorn.

Every transport drives the same :class:`~govlink.testing._core.ProvinceCore`, so semantics
are written once; they differ only in how they carry out what the core asks (waiting,
dribbling a body, breaking a connection):

==================  =====================  ======================  =========================
fault               in-process (sync,      in-process (async,      served (uvicorn)
                    respx)                 ASGITransport)
==================  =====================  ======================  =========================
503 / 500 / 429     real responses         real responses          real responses
latency, dribble    the mock's clock       the mock's clock        the mock's clock (a
                    sleeps (a virtual      sleeps                  system clock really waits)
                    clock advances)
connection refused  ``httpx.ConnectError`` ``httpx.ConnectError``  new connections are
                                                                   accepted, then reset at
                                                                   once; pooled ones reset on
                                                                   the next request (the client
                                                                   sees a connect/read error,
                                                                   never a true ECONNREFUSED)
connection reset    ``httpx.ReadError``    ``httpx.ReadError``     TCP RST (SO_LINGER 0)
lost response       ``httpx.Remote-        ``httpx.Remote-         connection closed after the
                    ProtocolError`` after  ProtocolError`` after   request was applied, before
                    applying               applying                any response byte
malformed JSON      truncated body         truncated body          truncated body
==================  =====================  ======================  =========================
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from .._clock import Clock, system_clock
from .._http import httpx
from ._config import DEFAULT_CLIENT_ID, ProvinceConfig
from ._core import ProvinceCore
from ._face import FaceFactory
from ._faults import FaultPlan
from ._journal import Journal
from ._messages import CoreResponse, error_response

if TYPE_CHECKING:
    import respx

__all__ = [
    "DEFAULT_BASE_URL",
    "MockProvince",
    "ServedProvince",
    "create_app",
    "make_server",
    "served_mock",
]

#: Base URL of the in-process faces (nothing listens there; the transport routes to the app).
DEFAULT_BASE_URL: Final = "http://province.test"


def _drop_error(kind: str, request: httpx.Request) -> httpx.TransportError:
    if kind == "refused":
        return httpx.ConnectError("[mock province] connection refused", request=request)
    if kind == "reset":
        return httpx.ReadError("[mock province] connection reset by peer", request=request)
    return httpx.RemoteProtocolError(
        "[mock province] server disconnected without sending a response (request applied)",
        request=request,
    )


def _chunks(body: bytes, bytes_per_s: int) -> Iterator[tuple[bytes, float]]:
    size = max(1, bytes_per_s // 10)
    for start in range(0, len(body), size):
        chunk = body[start : start + size]
        yield chunk, len(chunk) / bytes_per_s


class _DribbleStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A slow body for sync and async clients alike (respx serves both with one handler)."""

    def __init__(self, body: bytes, bytes_per_s: int, clock: Clock) -> None:
        self._body, self._rate, self._clock = body, bytes_per_s, clock

    def __iter__(self) -> Iterator[bytes]:
        for chunk, pause in _chunks(self._body, self._rate):
            self._clock.sleep(pause)
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk, pause in _chunks(self._body, self._rate):
            await self._clock.asleep(pause)
            yield chunk


def _hard_close(transport: asyncio.BaseTransport) -> None:
    """Abort with a TCP RST (SO_LINGER 0) rather than a FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it is known to be over ``limit`` bytes.

    Streams it and stops at the limit, so an oversized body never sits in memory; the server
    discards the unread rest before the next request on the connection.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _framework_error(status: int, message: str) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "malformed_request")
    if status >= 500:
        code = "internal_error"
    result = error_response(status, code, message)
    return Response(result.body, status_code=status, media_type=result.content_type)


async def _http_exception(request: Request, exc: Exception) -> Response:
    # Starlette's own refusals (it routes nothing itself, but may still refuse) in the
    # province's JSON envelope rather than plain text.
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    return _framework_error(status, str(detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    return _framework_error(500, "internal error")


def create_app(
    core: ProvinceCore,
    transports: Mapping[tuple[str, int], asyncio.BaseTransport] | None = None,
) -> Starlette:
    """The Starlette application over ``core`` (every path and method goes to the core).

    ``transports`` maps a client address to its connection when served by
    :func:`served_mock`/``govlink mock-province serve``, so faults can break real connections;
    without it (``httpx.ASGITransport``) broken connections become httpx transport errors.
    """
    clock = core.clock
    known = transports if transports is not None else {}
    limit = core.config.max_body_bytes

    async def respond(request: Request) -> Response:
        body = await _bounded_body(request, limit)
        result = core.handle(
            request.method, request.url.path, request.query_params, request.headers, body
        )
        if result.latency:
            await clock.asleep(result.latency)
        if result.drop is not None:
            client = request.scope.get("client")
            transport = known.get((client[0], client[1])) if client else None
            if transport is None:
                raise _drop_error(result.drop, httpx.Request(request.method, str(request.url)))
            if result.drop == "lost_response":
                transport.abort()  # type: ignore[attr-defined]
            else:
                _hard_close(transport)
            await asyncio.sleep(0)  # let the server see the disconnect: nothing is sent
            return Response(b"", status_code=500)
        media_type = result.content_type
        # A list, not a dict: a face may repeat a header (several Set-Cookie lines).
        extra = [(k, v) for k, v in result.headers if k != "content-type"]
        response: Response
        if result.dribble_bytes_per_s:
            rate = result.dribble_bytes_per_s

            async def dribble() -> AsyncIterator[bytes]:
                for chunk, pause in _chunks(result.body, rate):
                    await clock.asleep(pause)
                    yield chunk

            extra.append(("content-length", str(len(result.body))))
            response = StreamingResponse(
                dribble(), status_code=result.status, media_type=media_type
            )
        else:
            response = Response(result.body, status_code=result.status, media_type=media_type)
        for name, value in extra:
            response.headers.append(name, value)
        return response

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        # A plain ASGI app under a catch-all mount: any method, any path reaches the core,
        # which answers 404/405 in the envelope of the API the path belongs to.
        response = await respond(Request(scope, receive))
        await response(scope, receive, send)

    return Starlette(
        routes=[Mount("", app=endpoint)],
        exception_handlers={HTTPException: _http_exception, Exception: _server_error},
    )


class MockProvince:
    """The mock provincial platform: state, rules, journal, faults and every face.

    >>> province = MockProvince(clock=VirtualClock(), faults="error500:rate=0.1", seed=7)
    >>> with province.client() as http:   # in-process httpx.Client
    ...     token = http.post("/oauth/token", data=..., auth=(...)).json()["access_token"]

    ``faults`` is a :class:`FaultPlan` or a spec string (see :mod:`govlink.testing`'s fault
    grammar); ``seed`` seeds it. ``config`` sets credentials, limits and the quota. ``faces``
    mounts these faces (e.g. ``[ReferenceFace, GatewayFace, MyProvinceFace]``) instead of the
    built-in ones ``config.apis`` names.

    Raises:
        ValidationError: a fault spec that cannot be read.
        ConfigError: ``config.apis`` names an unknown face.
    """

    def __init__(
        self,
        *,
        clock: Clock = system_clock,
        config: ProvinceConfig | None = None,
        faults: FaultPlan | str | None = None,
        seed: int = 0,
        base_url: str = DEFAULT_BASE_URL,
        faces: Sequence[FaceFactory] | None = None,
    ) -> None:
        self.clock = clock
        self.base_url = base_url
        plan = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults, seed=seed)
        self.core = ProvinceCore(config, clock=clock, faults=plan, faces=faces)
        self._transports: dict[tuple[str, int], asyncio.BaseTransport] = {}
        self.app = create_app(self.core, self._transports)

    def __repr__(self) -> str:
        return f"MockProvince({self.base_url!r}, faults={self.core.faults.to_spec()!r})"

    # --- state and control ----------------------------------------------------------------------

    @property
    def config(self) -> ProvinceConfig:
        return self.core.config

    @property
    def journal(self) -> Journal:
        """Every request, and the assertion helpers."""
        return self.core.journal

    @property
    def faults(self) -> FaultPlan:
        return self.core.faults

    def set_faults(self, faults: FaultPlan | str | None, *, seed: int = 0) -> FaultPlan:
        """Replace the fault plan (windows count from now).

        Raises:
            ValidationError: a spec that cannot be read.
        """
        plan = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults, seed=seed)
        self.core.set_faults(plan)
        return plan

    def reset(self) -> None:
        """Forget state and journal; restart the fault plan's random sequence."""
        self.core.reset()

    def state(self) -> dict[str, Any]:
        return self.core.state()

    def issue_token(self, client_id: str = DEFAULT_CLIENT_ID) -> str:
        """A bearer token for ``client_id`` without an HTTP round trip (not journaled).

        Raises:
            KeyError: ``client_id`` is not a configured client.
        """
        return self.core.issue_token(client_id)

    # --- in-process faces -----------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer an httpx request in-process (the sync face; also what respx routes call).

        Raises:
            httpx.TransportError: ``ConnectError``/``ReadError``/``RemoteProtocolError`` when a
                fault breaks the connection.
        """
        body = request.read()  # already in memory: the core refuses it if over the limit
        result = self.core.handle(
            request.method, request.url.path, request.url.params, request.headers, body
        )
        if result.latency:
            self.clock.sleep(result.latency)
        if result.drop is not None:
            raise _drop_error(result.drop, request)
        return self._to_httpx(result, request)

    def _to_httpx(self, result: CoreResponse, request: httpx.Request) -> httpx.Response:
        if result.dribble_bytes_per_s:
            return httpx.Response(
                result.status,
                headers=result.headers,
                stream=_DribbleStream(result.body, result.dribble_bytes_per_s, self.clock),
                request=request,
            )
        return httpx.Response(
            result.status, headers=result.headers, content=result.body, request=request
        )

    def transport(self) -> httpx.MockTransport:
        """A sync httpx transport answering from this province."""
        return httpx.MockTransport(self.handle_request)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` wired to this province in-process (``base_url`` preset)."""
        kwargs.setdefault("base_url", self.base_url)
        return httpx.Client(transport=self.transport(), **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` over ``httpx.ASGITransport`` (the Starlette app itself)."""
        kwargs.setdefault("base_url", self.base_url)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), **kwargs)

    def route(self, router: respx.MockRouter, base_url: str | None = None) -> respx.Route:
        """Add a route to a respx router that forwards every request under ``base_url``."""
        return router.route(url__startswith=(base_url or self.base_url).rstrip("/")).mock(
            side_effect=self.handle_request
        )

    @contextlib.contextmanager
    def mock(self, base_url: str | None = None) -> Iterator[respx.MockRouter]:
        """A respx mock (``with province.mock(): any httpx client reaches the province``)."""
        import respx

        with respx.mock(assert_all_called=False) as router:
            self.route(router, base_url)
            yield router


# --- served face ------------------------------------------------------------------------------


def _request_path(data: bytes) -> str:
    """The path of the HTTP/1.1 request line at the start of ``data`` (``""`` if unknown)."""
    line = data.split(b"\r\n", 1)[0]
    parts = line.split(b" ", 2)
    if len(parts) < 3:
        return ""  # not a whole request line yet: treated as a platform request
    target = parts[1].split(b"?", 1)[0]
    if not target.startswith(b"/"):  # absolute form: http://host/path
        slash = target.find(b"/", target.find(b"//") + 2)
        target = target[slash:] if slash >= 0 else b"/"
    return target.decode("latin-1")


def _protocol_class(http: str, province: MockProvince) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, tracking connections so faults can break them."""
    base: type[Any]
    if http == "h11":
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    elif http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    else:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol as base
    transports = province._transports  # the face owns this registry

    class TrackedProtocol(base):  # type: ignore[misc]
        _peer: tuple[str, int] | None = None
        _tracked: asyncio.Transport | None = None
        _first_data = True

        def connection_made(self, transport: asyncio.Transport) -> None:
            # uvicorn writes a response's headers and body separately: without TCP_NODELAY
            # Nagle's algorithm holds the body until the client's delayed ACK (~40 ms).
            # asyncio sets it only for sockets created with proto=IPPROTO_TCP, so set it here.
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)
            self._tracked = transport
            peer = transport.get_extra_info("peername")
            if peer is not None:
                self._peer = (peer[0], peer[1])
                transports[self._peer] = transport

        def data_received(self, data: bytes) -> None:
            # A refused connection is refused before its first request reaches the core, but
            # only once that request's line shows it is a platform request: admin calls and the
            # OpenAPI documents are never refused, nor counted as platform requests.
            if self._first_data:
                self._first_data = False
                if (
                    self._tracked is not None
                    and ProvinceCore.is_platform_path(_request_path(data))
                    and province.core.refusing()
                ):
                    _hard_close(self._tracked)
                    return
            super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._peer is not None:
                transports.pop(self._peer, None)
            super().connection_lost(exc)

    return TrackedProtocol


def make_server(
    province: MockProvince,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    http: str = "auto",
    log_level: str = "warning",
) -> Any:
    """A configured ``uvicorn.Server`` for ``province`` (access log off: it is hot).

    Raises:
        ConfigError: uvicorn is not installed (``pip install govlink[server]``).
    """
    try:
        import uvicorn
    except ImportError:
        from .._errors import ConfigError

        raise ConfigError(
            "serving the mock province needs uvicorn: pip install 'govlink[server]'"
        ) from None
    config = uvicorn.Config(
        province.app,
        host=host,
        port=port,
        http=_protocol_class(http, province),
        lifespan="off",
        access_log=False,
        log_level=log_level,
        loop="asyncio",
        timeout_keep_alive=30,
        # A stop (Ctrl-C, SIGTERM) waits at most this long for requests in flight.
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


@dataclass
class ServedProvince:
    """A mock province served on a loopback port (from :func:`served_mock`)."""

    province: MockProvince
    base_url: str
    host: str
    port: int

    def client(self, **kwargs: Any) -> httpx.Client:
        """A real-network ``httpx.Client`` to the served mock."""
        kwargs.setdefault("base_url", self.base_url)
        return httpx.Client(**kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("base_url", self.base_url)
        return httpx.AsyncClient(**kwargs)

    @property
    def journal(self) -> Journal:
        return self.province.journal


@contextlib.contextmanager
def served_mock(
    province: MockProvince | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    http: str = "auto",
    startup_timeout: float = 10.0,
) -> Iterator[ServedProvince]:
    """Serve ``province`` (default: a fresh one) with uvicorn in a background thread.

    ``port=0`` picks a free port. Stops the server on exit.

    Raises:
        ConfigError: uvicorn is not installed.
        RuntimeError: the server did not start within ``startup_timeout`` seconds.
    """
    province = province or MockProvince()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = make_server(province, host=host, port=bound_port, http=http)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="govlink-mock-province", daemon=True
    )
    thread.start()
    waited = 0.0
    while not server.started:
        if not thread.is_alive() or waited > startup_timeout:
            sock.close()
            raise RuntimeError("the mock province server did not start")
        threading.Event().wait(0.01)
        waited += 0.01
    try:
        yield ServedProvince(province, f"http://{host}:{bound_port}", host, bound_port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
