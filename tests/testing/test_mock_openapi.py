"""The reference API's OpenAPI document: committed, served, and fuzzed with schemathesis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from govlink.testing import MockProvince, ProvinceConfig, render_reference_openapi

COMMITTED = Path(__file__).parents[2] / "schemas" / "openapi-reference.json"


def test_committed_document_matches_the_wire_models() -> None:
    # Regenerate with: govlink mock-province openapi > schemas/openapi-reference.json
    assert COMMITTED.read_text(encoding="utf-8") == render_reference_openapi()


# A quota-free province: schemathesis sends hundreds of requests without a clock moving.
PROVINCE = MockProvince(config=ProvinceConfig(rate_limit=None))
TOKEN = PROVINCE.issue_token()
schema = schemathesis.openapi.from_asgi("/openapi.json", PROVINCE.app)


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_schemathesis_finds_no_server_error(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(
        headers={"authorization": f"Bearer {TOKEN}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
