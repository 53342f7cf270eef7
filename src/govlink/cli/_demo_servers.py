"""Serving ASGI apps on free loopback ports for the demo (uvicorn in background threads).

The sockets are bound first (port 0: any free port) so that every URL is known before the apps
that name each other (the provider's registered redirect URIs, the halls' provider URL) are
built; each server stops when its ``with`` block ends, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from .._errors import ConfigError

__all__ = ["loopback_socket", "serve_app", "socket_url"]

#: Seconds a server may take to start on a busy machine before the demo gives up.
START_TIMEOUT = 30.0
#: Seconds a server may take to stop (its thread is a daemon: it never holds the process).
STOP_TIMEOUT = 30.0


def loopback_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to a free port of ``host`` (not yet listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def socket_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@contextlib.contextmanager
def serve_app(app: Any, sock: socket.socket, name: str) -> Iterator[None]:
    """Serve ``app`` on ``sock`` under uvicorn in a daemon thread until the block ends.

    Raises:
        ConfigError: uvicorn is not installed (the ``server`` extra).
        RuntimeError: the server did not start within :data:`START_TIMEOUT` seconds.
    """
    try:
        import uvicorn
    except ImportError:
        raise ConfigError("uvicorn is not installed: pip install 'govlink[server]'") from None
    config = uvicorn.Config(app, lifespan="on", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        waited = threading.Event()
        for _ in range(int(START_TIMEOUT * 100)):
            if server.started or not thread.is_alive():
                break
            waited.wait(0.01)
        if not server.started:
            raise RuntimeError(f"{name} did not start on {socket_url(sock)}")
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT)
        if not thread.is_alive():  # never pull the socket from under a running server
            sock.close()
