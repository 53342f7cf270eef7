"""The ``gateway`` provincial convention (domain reference §8).

Signed requests and a ``{code, msg, data}`` envelope.

:mod:`govlink.adapters.gateway.wire` is the protocol (paths, signing, envelope, pinyin field
tables, SM4 field encryption), shared by the client adapter and by the mock province.

Errors::

    GovlinkError
    └── SignatureRejected             gateway_signature_rejected (a request's signature headers)
"""

from __future__ import annotations

from . import wire
from .adapter import GatewayAdapter, GatewaySettings

__all__ = ["GatewayAdapter", "GatewaySettings", "wire"]
