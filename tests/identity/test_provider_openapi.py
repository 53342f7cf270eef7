"""The identity provider's OpenAPI document: committed, served, and fuzzed with schemathesis
(issue 9: no 5xx at any endpoint, every answer in the documented status, type and shape)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from identity_helpers import HOSTILE_CLIENT, HOSTILE_SECRET, hostile_provider
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from govlink._http import httpx
from govlink.identity._openapi import identity_openapi, render_identity_openapi

COMMITTED = Path(__file__).parents[2] / "schemas" / "openapi-identity.json"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_committed_document_matches_the_builder() -> None:
    # Regenerate with: govlink schemas export
    assert COMMITTED.read_text(encoding="utf-8") == render_identity_openapi()


def test_every_route_is_documented(tmp_path: Path) -> None:
    app = hostile_provider(tmp_path)
    served = {route.path for route in app.routes} - {"/openapi.json"}
    assert served == set(identity_openapi()["paths"])


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_provider_serves_the_document(tmp_path: Path, anyio_backend: str) -> None:
    transport = httpx.ASGITransport(app=hostile_provider(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="https://sso.dongying.example") as c:
        response = await c.get("/openapi.json")
    assert response.status_code == 200
    assert response.json() == identity_openapi()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return hostile_provider(tmp_path_factory.mktemp("idp-openapi"))


schema = schemathesis.openapi.from_dict(identity_openapi())


def _known_client(params: Any) -> None:
    # Past the first refusal: a registered client and redirect URI, the rest as generated.
    if isinstance(params, dict):
        if "client_id" in params:
            params["client_id"] = HOSTILE_CLIENT
        for name in ("redirect_uri", "post_logout_redirect_uri"):
            if name in params:
                params[name] = "https://370502.hall.example/callback"


@schema.parametrize()
@SETTINGS
def test_no_server_error_with_a_valid_client_secret(case: schemathesis.Case[Any], app: Any) -> None:
    _known_client(case.query)
    _known_client(case.body)
    case.call_and_validate(
        app=app,
        base_url="https://sso.dongying.example",
        headers={"authorization": _basic(HOSTILE_CLIENT, HOSTILE_SECRET)},
        checks=CHECKS,
    )


@schema.parametrize()
@SETTINGS
def test_no_server_error_with_a_wrong_client_secret(case: schemathesis.Case[Any], app: Any) -> None:
    case.call_and_validate(
        app=app,
        base_url="https://sso.dongying.example",
        headers={"authorization": _basic(HOSTILE_CLIENT, "not-the-secret")},
        checks=CHECKS,
    )


@schema.parametrize()
@SETTINGS
def test_no_server_error_as_generated(case: schemathesis.Case[Any], app: Any) -> None:
    # Whatever schemathesis makes of the security schemes (none, a generated Basic or Bearer).
    case.call_and_validate(app=app, base_url="https://sso.dongying.example", checks=CHECKS)
