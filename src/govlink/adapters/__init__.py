"""Provincial platform adapters shipped with govlink.

Each subpackage is one provincial platform's wire protocol (``reference``: JSON REST with OAuth2
client credentials; ``gateway``: the signed ``{code, msg, data}`` gateway convention of
domain reference §8). The core never imports a specific adapter: adapters are found by name
through the
``govlink.adapters`` entry-point group, so a third party can ship one without touching govlink.

In each subpackage, ``wire`` holds the protocol itself (paths, limits, request and response
models, pure encoding and signing functions) and is shared by the client adapter and by the mock
province (:mod:`govlink.testing`), so the two can never drift apart.
"""

from __future__ import annotations

__all__: list[str] = []
