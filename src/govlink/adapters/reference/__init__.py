"""The ``reference`` provincial API: JSON REST with OAuth2 client credentials.

:mod:`govlink.adapters.reference.wire` is the protocol (paths, limits, request and response
models), shared by the client adapter and by the mock province.
"""

from __future__ import annotations

from . import wire
from .adapter import ReferenceAdapter, ReferenceSettings

__all__ = ["ReferenceAdapter", "ReferenceSettings", "wire"]
