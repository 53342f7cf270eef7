"""What a served mock province offers, per face: URLs and development credentials.

``govlink mock-province serve`` prints this (and ``--json`` emits it) so an integrator can
configure a hall system without reading source. It lives beside the faces, which own the wire
contracts, so the command itself never imports an adapter.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..adapters.gateway import wire as gw
from ..adapters.reference import wire as ref
from ._identity_face import IDENTITY_PREFIX
from ._identity_platform import DEMO_IDENTITY_APP_ID, DEMO_IDENTITY_APP_SECRET

__all__ = ["served_directory"]


def served_directory(apis: Iterable[str], base: str) -> dict[str, dict[str, str]]:
    """``{face: {what: value}}`` for the faces in ``apis`` served at ``base``."""
    directory: dict[str, dict[str, str]] = {}
    for api in apis:
        if api == "reference":
            directory[api] = {
                "api_url": f"{base}/v1/",
                "events_url": base + ref.CASE_EVENTS_BATCH_PATH,
                "max_batch": str(ref.MAX_EVENT_BATCH),
                "token_url": base + ref.TOKEN_PATH,
                "client_id": ref.DEMO_CLIENT_ID,
                "client_secret": ref.DEMO_CLIENT_SECRET,
            }
        elif api == "gateway":
            directory[api] = {
                "events_url": base + gw.CASE_STATUS_PUSH_PATH,
                "app_id": gw.DEMO_APP_ID,
                "app_secret": gw.DEMO_APP_SECRET,
                "sign_method": gw.SignMethod.HMAC_SHA256.value,
            }
        elif api == "identity":
            root = base + IDENTITY_PREFIX
            directory[api] = {
                "issuer": root,
                "sign_in_url": f"{root}/login",
                "jwks_url": f"{root}/jwks",
                "app_id": DEMO_IDENTITY_APP_ID,
                "app_secret": DEMO_IDENTITY_APP_SECRET,
            }
    return directory
