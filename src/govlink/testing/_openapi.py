"""The OpenAPI document of the reference provincial API, built from the wire models.

Generated, never hand-written, so it cannot drift from :mod:`govlink.adapters.reference.wire`;
``schemas/openapi-reference.json`` is this document as committed (a test compares them;
regenerate with ``govlink mock-province openapi > schemas/openapi-reference.json``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ..adapters.reference import wire as ref
from ..domain import CaseStatusEvent, Item

__all__ = ["reference_openapi", "render_reference_openapi"]

#: Where a component schema is referenced from (both mocked APIs' documents).
REF: Final = "#/components/schemas/{model}"
_MODELS: Final[tuple[type[BaseModel], ...]] = (
    ref.TokenResponse,
    ref.OAuthError,
    ref.ErrorResponse,
    ref.CatalogBatchRequest,
    ref.CatalogBatchResponse,
    ref.CaseEventsBatchRequest,
    ref.CaseEventsBatchResponse,
    ref.CatalogDigestPage,
    ref.CatalogItemsPage,
    ref.CaseState,
    CaseStatusEvent,
    Item,
)


def json_content(schema_name: str) -> dict[str, Any]:
    """A JSON ``content`` answering the component schema ``schema_name``."""
    return {"application/json": {"schema": {"$ref": REF.format(model=schema_name)}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Malformed request (not JSON, or not the envelope).",
        401: "Missing, unknown or expired bearer token.",
        404: "Not found.",
        413: "More elements than the batch limit.",
        429: "Over the request quota; see Retry-After.",
        500: "Internal error; retry with backoff.",
        503: "Platform unavailable; Retry-After when known.",
    }
    return error_responses({status: text[status] for status in statuses}, "ErrorResponse")


def error_responses(descriptions: Mapping[int, str], schema_name: str) -> dict[str, Any]:
    """OpenAPI ``responses`` for these error statuses, each answering ``schema_name``.

    429 and 503 carry a ``Retry-After`` header, as every mocked province API sends one there.
    """
    out: dict[str, Any] = {}
    for status, description in descriptions.items():
        response: dict[str, Any] = {
            "description": description,
            "content": json_content(schema_name),
        }
        if status in (429, 503):
            response["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 0},
                }
            }
        out[str(status)] = response
    return out


_PAGING: Final = [
    {
        "name": "page_size",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "default": ref.DEFAULT_PAGE_SIZE},
        "description": f"Entries per page (clamped to {ref.MAX_PAGE_SIZE}).",
    },
    {
        "name": "page_token",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "next_page_token of the previous page.",
    },
]


@cache
def _document() -> str:
    _, top = models_json_schema([(m, "validation") for m in _MODELS], ref_template=REF)
    schemas: dict[str, Any] = top.get("$defs", {})
    # Elements: the domain models' own schemas (validated one by one by the platform); an event
    # may also carry its idempotency key.
    event = copy.deepcopy(schemas["CaseStatusEvent"])
    event["properties"]["idempotency_key"] = {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "description": "Default: {hall}:case:{case_number}:{sequence}.",
    }
    schemas["CaseStatusEventElement"] = event
    schemas["CaseEventsBatchRequest"]["properties"]["events"]["items"] = {
        "$ref": REF.format(model="CaseStatusEventElement")
    }
    schemas["CaseEventsBatchRequest"]["properties"]["events"]["maxItems"] = ref.MAX_EVENT_BATCH
    schemas["CatalogBatchRequest"]["properties"]["items"]["items"] = {
        "$ref": REF.format(model="Item")
    }
    schemas["CatalogBatchRequest"]["properties"]["items"]["maxItems"] = ref.MAX_CATALOG_BATCH
    bearer: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "govlink reference provincial API",
            "version": "1",
            "description": (
                "The reference provincial government service platform API that govlink's "
                "`reference` adapter speaks and `govlink mock-province serve` implements. "
                "Batches answer HTTP 200 with one result per element, in request order."
            ),
        },
        "servers": [{"url": "http://127.0.0.1:8000"}],
        "paths": {
            ref.TOKEN_PATH: {
                "post": {
                    "operationId": "token",
                    "summary": "OAuth2 client credentials (RFC 6749 §4.4)",
                    "security": [{"basicAuth": []}, {}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/x-www-form-urlencoded": {
                                "schema": {
                                    "type": "object",
                                    "required": ["grant_type"],
                                    "properties": {
                                        "grant_type": {
                                            "type": "string",
                                            "enum": ["client_credentials"],
                                        },
                                        "scope": {"type": "string"},
                                        "client_id": {"type": "string"},
                                        "client_secret": {"type": "string"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "A bearer token.",
                            "content": json_content("TokenResponse"),
                        },
                        "400": {
                            "description": "Bad request.",
                            "content": json_content("OAuthError"),
                        },
                        "401": {
                            "description": "Bad client.",
                            "content": json_content("OAuthError"),
                        },
                        **_errors(500, 503),
                    },
                }
            },
            ref.CATALOG_ITEMS_BATCH_PATH: {
                "post": {
                    "operationId": "upsertItems",
                    "summary": f"Upsert up to {ref.MAX_CATALOG_BATCH} catalog items",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": json_content("CatalogBatchRequest"),
                    },
                    "responses": {
                        "200": {
                            "description": "One result per item.",
                            "content": json_content("CatalogBatchResponse"),
                        },
                        **_errors(400, 401, 413, 429, 500, 503),
                    },
                }
            },
            ref.CATALOG_DIGEST_PATH: {
                "get": {
                    "operationId": "catalogDigest",
                    "summary": "Implementation code → content hash, version, revision",
                    "security": bearer,
                    "parameters": _PAGING,
                    "responses": {
                        "200": {
                            "description": "One page.",
                            "content": json_content("CatalogDigestPage"),
                        },
                        **_errors(400, 401, 429, 500, 503),
                    },
                }
            },
            ref.CATALOG_ITEMS_PATH: {
                "get": {
                    "operationId": "listItems",
                    "summary": "The stored items",
                    "security": bearer,
                    "parameters": _PAGING,
                    "responses": {
                        "200": {
                            "description": "One page.",
                            "content": json_content("CatalogItemsPage"),
                        },
                        **_errors(400, 401, 429, 500, 503),
                    },
                }
            },
            ref.CASE_EVENTS_BATCH_PATH: {
                "post": {
                    "operationId": "pushCaseEvents",
                    "summary": f"Push up to {ref.MAX_EVENT_BATCH} case status events",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": json_content("CaseEventsBatchRequest"),
                    },
                    "responses": {
                        "200": {
                            "description": "One result per event.",
                            "content": json_content("CaseEventsBatchResponse"),
                        },
                        **_errors(400, 401, 413, 429, 500, 503),
                    },
                }
            },
            ref.CASE_PATH: {
                "get": {
                    "operationId": "getCase",
                    "summary": "What the platform holds for one case",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "case_number",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "The case.", "content": json_content("CaseState")},
                        **_errors(401, 404, 429, 500, 503),
                    },
                }
            },
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "basicAuth": {"type": "http", "scheme": "basic"},
                "oauth2": {
                    "type": "oauth2",
                    "flows": {"clientCredentials": {"tokenUrl": ref.TOKEN_PATH, "scopes": {}}},
                },
            },
        },
    }
    return render(document)


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def render_reference_openapi() -> str:
    """The document as committed (sorted keys, two-space indent, trailing newline)."""
    return _document()


def reference_openapi() -> dict[str, Any]:
    """The document as a fresh dict."""
    result: dict[str, Any] = json.loads(_document())
    return result
