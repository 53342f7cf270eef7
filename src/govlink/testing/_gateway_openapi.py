"""The OpenAPI document of the provincial gateway API, built from the gateway wire models.

Generated, never hand-written, so it cannot drift from :mod:`govlink.adapters.gateway.wire`;
``schemas/openapi-gateway.json`` is this document as committed (``govlink schemas export
--check`` compares them; regenerate with ``govlink schemas export``). Served by the mock at
``/openapi/gateway.json``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..adapters.gateway import wire as gw
from ._openapi import REF, error_responses, json_content, render

__all__ = ["gateway_openapi", "render_gateway_openapi"]

_MODELS: Final[tuple[type[BaseModel], ...]] = (
    gw.Envelope,
    gw.BatchResultData,
    gw.DigestData,
    gw.CaseStatusPushRequest,
    gw.CatalogPushRequest,
    gw.DigestRequest,
)
_ERROR_TEXT: Final = {
    400: "Malformed request (code 200001; data.wtlb lists the problems).",
    401: "Signature refused: 100001 missing/malformed header, 100002 unknown app, "
    "100003 timestamp skew, 100004 nonce replayed, 100005 bad signature.",
    413: "More elements than the batch limit, or a body over the size limit (200002).",
    429: "Over the request quota (429001); see Retry-After.",
    500: "Internal error (500001); retry with backoff.",
    503: "Platform unavailable (503001); Retry-After when known.",
}


def _envelope_of(data_schema: str) -> dict[str, Any]:
    return {
        "application/json": {
            "schema": {
                "allOf": [{"$ref": REF.format(model="Envelope")}],
                "properties": {"data": {"$ref": REF.format(model=data_schema)}},
            }
        }
    }


def _errors() -> dict[str, Any]:
    return error_responses(_ERROR_TEXT, "Envelope")


def _signing_headers() -> list[dict[str, Any]]:
    def header(name: str, schema: dict[str, Any], text: str, required: bool = True) -> Any:
        return {"name": name, "in": "header", "required": required, "schema": schema,
                "description": text}  # fmt: skip

    return [
        header(gw.HEADER_APP_ID, {"type": "string", "minLength": 1}, "The caller's app id."),
        header(
            gw.HEADER_TIMESTAMP,
            {"type": "string", "pattern": "^[0-9]{1,16}$"},
            "Milliseconds since the Unix epoch (at most 300 s from the platform's clock).",
        ),
        header(
            gw.HEADER_NONCE,
            {"type": "string", "pattern": "^[0-9A-Za-z_-]{16,64}$"},
            "Single use within the timestamp window.",
        ),
        header(
            gw.HEADER_SIGNATURE,
            {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "Lower-case hex HMAC of: method, path, timestamp, nonce, app id, hex digest of the "
            "body, joined by newlines.",
        ),
        header(
            gw.HEADER_SIGN_METHOD,
            {"type": "string", "enum": [m.value for m in gw.SignMethod]},
            "Must equal the app's configured method when present.",
            required=False,
        ),
    ]


def _element(fields: dict[str, str], what: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"A {what} with pinyin member names (canonical name in each description).",
        "properties": {
            wire: {"description": f"canonical: {canonical}"}
            for canonical, wire in sorted(fields.items(), key=lambda kv: kv[1])
        },
    }


def _operation(operation_id: str, summary: str, request: str, data: str) -> dict[str, Any]:
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": _signing_headers(),
            "requestBody": {"required": True, "content": json_content(request)},
            "responses": {
                "200": {"description": "Success (code 000000).", "content": _envelope_of(data)},
                **_errors(),
            },
        }
    }


@cache
def _document() -> str:
    _, top = models_json_schema([(m, "validation") for m in _MODELS], ref_template=REF)
    schemas: dict[str, Any] = top.get("$defs", {})
    schemas["GatewayEvent"] = _element(gw.EVENT_FIELDS, "case status event (办件状态)")
    schemas["GatewayItem"] = _element(gw.ITEM_FIELDS, "catalog item (事项)")
    events = schemas["CaseStatusPushRequest"]["properties"]["bjztlb"]
    events["items"] = {"$ref": REF.format(model="GatewayEvent")}
    events["maxItems"] = gw.MAX_EVENT_BATCH
    items = schemas["CatalogPushRequest"]["properties"]["sxlb"]
    items["items"] = {"$ref": REF.format(model="GatewayItem")}
    items["maxItems"] = gw.MAX_CATALOG_BATCH
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "govlink provincial gateway API",
            "version": "1",
            "description": (
                "The provincial gateway convention (签名网关) that govlink's `gateway` adapter "
                "speaks and `govlink mock-province serve` implements: signed POST requests, "
                "pinyin field names, every answer in the {code, msg, data} envelope."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "paths": {
            gw.CASE_STATUS_PUSH_PATH: _operation(
                "pushCaseStatus",
                f"办件状态推送: push up to {gw.MAX_EVENT_BATCH} case status events",
                "CaseStatusPushRequest",
                "BatchResultData",
            ),
            gw.CATALOG_PUSH_PATH: _operation(
                "pushItems",
                f"事项推送: upsert up to {gw.MAX_CATALOG_BATCH} catalog items",
                "CatalogPushRequest",
                "BatchResultData",
            ),
            gw.CATALOG_DIGEST_PATH: _operation(
                "catalogDigest",
                "事项摘要: implementation code → content hash, version, revision",
                "DigestRequest",
                "DigestData",
            ),
        },
        "components": {"schemas": dict(sorted(schemas.items()))},
    }
    return render(document)


def render_gateway_openapi() -> str:
    """The document as committed (sorted keys, two-space indent, trailing newline)."""
    return _document()


def gateway_openapi() -> dict[str, Any]:
    """The document as a fresh dict."""
    result: dict[str, Any] = json.loads(_document())
    return result
