"""HTTP for adapters: the platform URL check and the mapping of httpx failures to govlink's.

httpx is imported only through :mod:`govlink._http`. An adapter sends with its own httpx client
and wraps the call in :func:`transport_errors`, which turns what httpx raises into the errors
the core understands:

=====================================  =========================================================
httpx raises                           the adapter raises
=====================================  =========================================================
``TimeoutException``                   :class:`PlatformUnreachable` reason ``timeout`` (retried)
``UnsupportedProtocol``, ``InvalidURL`` :class:`PlatformRefused` (the URL is not usable: the run
                                       ends, retrying cannot fix it)
any other ``HTTPError``                :class:`PlatformUnreachable` reason ``transport``
=====================================  =========================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

from .._errors import ConfigError
from .._http import httpx
from ._adapter import WireResponse
from ._errors import PlatformRefused, PlatformUnreachable

__all__ = ["check_base_url", "to_wire_response", "transport_errors"]

_URL_FIX = (
    "give the platform's base URL as http(s)://host[:port][/path] (--province / "
    "GOVLINK_PROVINCE_URL)"
)


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, when it is an absolute ``http``/``https`` URL.

    Adapters call it in their constructor, so a platform URL that is not a URL stops a run
    before anything is claimed.

    Raises:
        ConfigError: not an absolute http(s) URL with a host (the message says what to give).
    """
    text = url.strip() if isinstance(url, str) else ""
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        host = None
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in text):
        shown = text[:80] if text else "(empty)"
        raise ConfigError(f"platform URL {shown!r} is not an http(s) URL: {_URL_FIX}")
    return text.rstrip("/")


@contextlib.contextmanager
def transport_errors(what: str) -> Iterator[None]:
    """Map httpx failures inside the block to :class:`PlatformUnreachable` /
    :class:`PlatformRefused` (see the module docstring); ``what`` names the endpoint in the
    message."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise PlatformUnreachable(
            f"{what}: timed out ({type(exc).__name__})", reason="timeout"
        ) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise PlatformRefused(
            f"{what}: the platform URL is not usable ({type(exc).__name__})",
            fix=_URL_FIX,
            reason="bad_url",
        ) from None
    except httpx.HTTPError as exc:
        raise PlatformUnreachable(
            f"{what}: no answer ({type(exc).__name__})", reason="transport"
        ) from None


def to_wire_response(response: httpx.Response) -> WireResponse:
    """The core's :class:`WireResponse` (header names lower-case) of an httpx response."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    return WireResponse(response.status_code, headers, response.content)
