"""The provincial identity platform (省统一身份认证平台) as a face of the mock province.

:class:`~govlink.testing.IdentityPlatform` is a standalone handler; this module mounts it at
``/identity`` beside the case and catalog APIs, so ``govlink mock-province serve`` offers the
sign-in page, the one-time tickets, the ticket → token → user-info calls and the JWKS on the same
port, on the province's clock and under the province's fault plan.
"""

from __future__ import annotations

from typing import Final

from ._face import FaceContext, FaceFactory
from ._identity_platform import DEFAULT_IDENTITY_BASE_URL, IdentityPlatform, IdentityPlatformConfig
from ._mounted import mounted

__all__ = ["IDENTITY_PREFIX", "identity_face"]

#: Where the identity face is mounted on the mock province.
IDENTITY_PREFIX: Final = "/identity"
#: The in-process province's base URL (``MockProvince``'s default).
_IN_PROCESS_BASE: Final = DEFAULT_IDENTITY_BASE_URL.removesuffix(IDENTITY_PREFIX)


def identity_face(base_url: str = _IN_PROCESS_BASE) -> FaceFactory:
    """A face factory serving a fresh :class:`IdentityPlatform` under ``base_url/identity``.

    ``base_url`` is where the province is reached (the served URL, e.g.
    ``http://127.0.0.1:8700``): tickets name ``{base_url}/identity`` as their issuer and the
    sign-in page posts back there.
    """
    root = base_url.rstrip("/") + IDENTITY_PREFIX

    def build(context: FaceContext) -> IdentityPlatform:
        return IdentityPlatform(
            clock=context.clock, config=IdentityPlatformConfig(issuer=root), base_url=root
        )

    return mounted("identity", IDENTITY_PREFIX, build)
