"""The OpenAPI 3.1 document of the city identity provider's HTTP face (统一身份认证平台接口).

Written once here, in code (the provider speaks fixed RFC shapes, not pydantic models), and
committed as ``schemas/openapi-identity.json`` by ``govlink schemas export`` (``--check``
reports drift; a test compares the two). The provider serves the same document at
``/openapi.json``: it names no hall, key or secret, only the protocol, so serving it discloses
nothing beyond the discovery document.

Every error is described in the shape the client meets: RFC 6749 §5.2 JSON at ``/token``,
``/revoke`` and ``/introspect`` (``401`` with a ``WWW-Authenticate`` challenge for client
authentication), RFC 6750 §3 at ``/userinfo``, and an HTML page (or an ``error`` redirect to a
registered URI) where a browser is talking: ``/authorize``, ``/sign-in``, ``/logout``. A body
larger than :data:`MAX_FORM_BYTES` is refused with ``413`` before it is parsed.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any, Final

__all__ = ["MAX_FORM_BYTES", "identity_openapi", "render_identity_openapi"]

#: The largest form body the provider reads (bytes); more is refused with 413.
MAX_FORM_BYTES: Final = 64 * 1024

_FORM: Final = "application/x-www-form-urlencoded"
_REF: Final = "#/components/schemas/{name}"
_GRANTS: Final = {
    "authorization_code": "authorization_code",
    "refresh_token": "refresh_token",
    "token_exchange": "urn:ietf:params:oauth:grant-type:token-exchange",
    "client_credentials": "client_credentials",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(name=name)}


def _json(name: str, media: str = "application/json") -> dict[str, Any]:
    return {media: {"schema": _ref(name)}}


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


_NO_STORE: Final = {
    "Cache-Control": {"description": "no-store", "schema": {"type": "string"}},
}
_REDIRECT: Final = {
    "description": (
        "Redirect (303) to the registered redirect URI with ``code``/``state``/``iss`` or an "
        "RFC 6749 §4.1.2.1 ``error``."
    ),
    "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
}
_TOO_LARGE_JSON: Final = {
    "description": f"Body larger than {MAX_FORM_BYTES} bytes (error ``invalid_request``).",
    "content": _json("OAuthError"),
}


def _oauth_errors(*, auth: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "400": {
            "description": (
                "RFC 6749 §5.2 error: not a form body, a repeated parameter, a missing or "
                "invalid parameter, a refused grant."
            ),
            "content": _json("OAuthError"),
            "headers": _NO_STORE,
        },
        "413": _TOO_LARGE_JSON,
    }
    if auth:
        out["401"] = {
            "description": "``invalid_client``: client authentication missing or wrong.",
            "content": _json("OAuthError"),
            "headers": {
                "WWW-Authenticate": {"required": True, "schema": {"type": "string"}},
                **_NO_STORE,
            },
        }
    return out


def _form_body(name: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {_FORM: {"schema": _ref(name)}}}


_STR: Final = {"type": "string"}
_CLIENT_AUTH_FIELDS: Final = {
    "client_id": {**_STR, "description": "With client_secret_post or private_key_jwt."},
    "client_secret": {**_STR, "description": "client_secret_post."},
    "client_assertion": {**_STR, "description": "private_key_jwt (RFC 7523 §2.2)."},
    "client_assertion_type": {
        "type": "string",
        "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
    },
}


def _token_request(grant: str, required: list[str], **fields: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["grant_type", *required],
        "properties": {
            "grant_type": {"type": "string", "enum": [grant]},
            **fields,
            **_CLIENT_AUTH_FIELDS,
        },
    }


def _schemas() -> dict[str, Any]:
    scope = {**_STR, "description": "Space-separated scopes."}
    audience = {**_STR, "description": "Target hall (client id or audience)."}
    return {
        "OAuthError": {
            "type": "object",
            "description": "RFC 6749 §5.2 error response.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "string",
                    "enum": [
                        "invalid_request",
                        "invalid_client",
                        "invalid_grant",
                        "unauthorized_client",
                        "unsupported_grant_type",
                        "invalid_scope",
                        "invalid_target",
                        "invalid_token",
                        "insufficient_scope",
                    ],
                },
                "error_description": _STR,
            },
        },
        "TokenResponse": {
            "type": "object",
            "description": "RFC 6749 §5.1 (and RFC 8693 §2.2.1 for the exchange).",
            "required": ["access_token", "token_type", "expires_in"],
            "properties": {
                "access_token": _STR,
                "token_type": {"type": "string", "enum": ["Bearer", "N_A"]},
                "expires_in": {"type": "integer", "minimum": 0},
                "scope": _STR,
                "id_token": _STR,
                "refresh_token": _STR,
                "issued_token_type": _STR,
            },
        },
        "TokenRequestAuthorizationCode": _token_request(
            _GRANTS["authorization_code"],
            ["code", "redirect_uri", "code_verifier"],
            code=_STR,
            redirect_uri=_STR,
            code_verifier={**_STR, "description": "PKCE (RFC 7636), S256 only."},
        ),
        "TokenRequestRefreshToken": _token_request(
            _GRANTS["refresh_token"], ["refresh_token"], refresh_token=_STR, scope=scope
        ),
        "TokenRequestTokenExchange": _token_request(
            _GRANTS["token_exchange"],
            ["subject_token"],
            subject_token=_STR,
            subject_token_type=_STR,
            requested_token_type=_STR,
            audience=audience,
            resource=audience,
            scope=scope,
        ),
        "TokenRequestClientCredentials": _token_request(
            _GRANTS["client_credentials"], [], audience=audience, resource=audience, scope=scope
        ),
        "TokenRequest": {
            "oneOf": [
                _ref("TokenRequestAuthorizationCode"),
                _ref("TokenRequestRefreshToken"),
                _ref("TokenRequestTokenExchange"),
                _ref("TokenRequestClientCredentials"),
            ]
        },
        "TokenRequestByToken": {
            "type": "object",
            "description": "RFC 7009 §2.1 / RFC 7662 §2.1.",
            "required": ["token"],
            "properties": {"token": _STR, "token_type_hint": _STR, **_CLIENT_AUTH_FIELDS},
        },
        "Introspection": {
            "type": "object",
            "description": "RFC 7662 §2.2; only ``active`` for a token not meant for the caller.",
            "required": ["active"],
            "properties": {"active": {"type": "boolean"}},
        },
        "UserInfo": {
            "type": "object",
            "required": ["sub"],
            "properties": {"sub": _STR},
        },
        "BearerError": {
            "type": "object",
            "description": "RFC 6750 §3.1.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "string",
                    "enum": ["invalid_request", "invalid_token", "insufficient_scope"],
                },
            },
        },
        "ServerMetadata": {
            "type": "object",
            "description": "OpenID Connect Discovery 1.0 §3 / RFC 8414 §2.",
            "required": [
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "jwks_uri",
                "response_types_supported",
                "subject_types_supported",
                "id_token_signing_alg_values_supported",
            ],
            "properties": {
                "issuer": _STR,
                "authorization_endpoint": _STR,
                "token_endpoint": _STR,
                "jwks_uri": _STR,
                "response_types_supported": {"type": "array", "items": _STR},
                "subject_types_supported": {"type": "array", "items": _STR},
                "id_token_signing_alg_values_supported": {"type": "array", "items": _STR},
                "grant_types_supported": {"type": "array", "items": _STR},
            },
        },
        "JWKS": {
            "type": "object",
            "description": "RFC 7517 §5: the public keys, current and next.",
            "required": ["keys"],
            "properties": {
                "keys": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["kty", "kid"],
                        "properties": {"kty": _STR, "kid": _STR, "alg": _STR, "use": _STR},
                    },
                }
            },
        },
        "AuthorizeRequest": {
            "type": "object",
            "description": "OIDC Core §3.1.2.1 (code flow with PKCE S256 only).",
            "required": [
                "client_id",
                "redirect_uri",
                "response_type",
                "scope",
                "code_challenge",
                "code_challenge_method",
            ],
            "properties": {
                "client_id": _STR,
                "redirect_uri": _STR,
                "response_type": {"type": "string", "enum": ["code"]},
                "scope": scope,
                "state": _STR,
                "nonce": _STR,
                "code_challenge": {
                    "type": "string",
                    "pattern": "^[A-Za-z0-9_-]{43}$",
                    "description": "PKCE S256: BASE64URL(SHA-256(code_verifier)).",
                },
                "code_challenge_method": {"type": "string", "enum": ["S256"]},
                "prompt": _STR,
                "max_age": {"type": "string", "pattern": "^[0-9]{1,10}$"},
                "acr_values": _STR,
                "ticket": {**_STR, "description": "A provincial one-time sign-in ticket."},
            },
        },
        "SignInForm": {
            "type": "object",
            "required": ["request", "csrf"],
            "properties": {
                "request": _STR,
                "csrf": _STR,
                "username": _STR,
                "password": _STR,
            },
        },
        "LogoutRequest": {
            "type": "object",
            "description": "OIDC RP-Initiated Logout 1.0 §2.",
            "properties": {
                "id_token_hint": _STR,
                "client_id": _STR,
                "post_logout_redirect_uri": _STR,
                "state": _STR,
            },
        },
    }


def _query(schema: str) -> list[dict[str, Any]]:
    props = _schemas()[schema]["properties"]
    required = set(_schemas()[schema].get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in props.items()
    ]


def _paths() -> dict[str, Any]:
    discovery = {
        "get": {
            "summary": "Server metadata (one document for both well-known names).",
            "responses": {"200": {"description": "Metadata.", "content": _json("ServerMetadata")}},
        }
    }
    authorize_responses = {
        "200": _html("The sign-in page (an interactive authenticator, no session yet)."),
        "303": _REDIRECT,
        "400": _html("Refused before the redirect URI is trusted (unknown client, bad URI)."),
        "413": _html(f"Body larger than {MAX_FORM_BYTES} bytes."),
    }
    sign_in_responses = {
        "303": _REDIRECT,
        "400": _html("Expired or used sign-in page, or not a form body."),
        "401": _html("Sign-in failed (the page again, with a message)."),
        "403": _html("CSRF token missing or wrong."),
        "413": _html(f"Body larger than {MAX_FORM_BYTES} bytes."),
        "429": _html("Too many failed sign-ins."),
    }
    logout_responses = {
        "200": _html("Signed out."),
        "303": {
            "description": "Redirect to a registered post-logout URI.",
            "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
        },
        "400": _html("Malformed request (repeated parameter, not a form body)."),
        "413": _html(f"Body larger than {MAX_FORM_BYTES} bytes."),
    }
    bearer_errors = {
        status: {
            "description": text,
            "content": _json("BearerError"),
            "headers": {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
        }
        for status, text in (
            ("401", "No bearer token, or an invalid one."),
            ("403", "A valid token without the openid scope."),
        )
    }
    userinfo_ok = {
        "description": "Claims the token's scopes release.",
        "content": _json("UserInfo"),
    }
    client_auth: list[dict[str, list[str]]] = [{"clientBasic": []}, {}]
    return {
        "/.well-known/openid-configuration": discovery,
        "/.well-known/oauth-authorization-server": discovery,
        "/jwks": {
            "get": {
                "summary": "The city's public signing keys.",
                "responses": {
                    "200": {
                        "description": "JWK Set.",
                        "content": _json("JWKS", "application/jwk-set+json"),
                    }
                },
            }
        },
        "/authorize": {
            "get": {
                "summary": "Authorization endpoint (query parameters).",
                "parameters": _query("AuthorizeRequest"),
                "responses": authorize_responses,
            },
            "post": {
                "summary": "Authorization endpoint (form body).",
                "requestBody": _form_body("AuthorizeRequest"),
                "responses": authorize_responses,
            },
        },
        "/sign-in": {
            "post": {
                "summary": "The development sign-in page's form post.",
                "requestBody": _form_body("SignInForm"),
                "responses": sign_in_responses,
            }
        },
        "/token": {
            "post": {
                "summary": "Token endpoint: every grant.",
                "security": client_auth,
                "requestBody": _form_body("TokenRequest"),
                "responses": {
                    "200": {
                        "description": "Tokens.",
                        "content": _json("TokenResponse"),
                        "headers": _NO_STORE,
                    },
                    **_oauth_errors(auth=True),
                },
            }
        },
        "/revoke": {
            "post": {
                "summary": "RFC 7009 revocation.",
                "security": client_auth,
                "requestBody": _form_body("TokenRequestByToken"),
                "responses": {
                    "200": {"description": "Revoked, or not a valid token (no body)."},
                    **_oauth_errors(auth=True),
                },
            }
        },
        "/introspect": {
            "post": {
                "summary": "RFC 7662 introspection.",
                "security": client_auth,
                "requestBody": _form_body("TokenRequestByToken"),
                "responses": {
                    "200": {"description": "Token state.", "content": _json("Introspection")},
                    **_oauth_errors(auth=True),
                },
            }
        },
        "/userinfo": {
            "get": {
                "summary": "OIDC UserInfo (bearer token in the Authorization header).",
                "security": [{"bearer": []}, {}],
                "responses": {"200": userinfo_ok, **bearer_errors},
            },
            "post": {
                "summary": "OIDC UserInfo (token in the header or the form body).",
                "security": [{"bearer": []}, {}],
                "requestBody": {
                    "required": False,
                    "content": {
                        _FORM: {
                            "schema": {
                                "type": "object",
                                "properties": {"access_token": _STR},
                            }
                        }
                    },
                },
                "responses": {"200": userinfo_ok, **bearer_errors, "413": _TOO_LARGE_JSON},
            },
        },
        "/logout": {
            "get": {
                "summary": "RP-initiated logout; back-channel notices to every hall.",
                "parameters": _query("LogoutRequest"),
                "responses": logout_responses,
            },
            "post": {
                "summary": "RP-initiated logout (form body).",
                "requestBody": _form_body("LogoutRequest", required=False),
                "responses": logout_responses,
            },
        },
    }


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "govlink city identity provider",
            "version": "1",
            # Not taken from __doc__: `python -OO` strips docstrings, and the document must not
            # change with the interpreter's flags.
            "description": (
                "OAuth 2.0 / OpenID Connect provider of the city (统一身份认证平台): discovery, "
                "JWKS, the code flow with PKCE, every token grant, revocation, introspection, "
                "userinfo and logout."
            ),
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "clientBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": (
                        "client_secret_basic; client_secret_post and private_key_jwt travel "
                        "in the form body instead."
                    ),
                },
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def identity_openapi() -> dict[str, Any]:
    """The identity provider's OpenAPI document (a fresh copy, free to modify)."""
    return copy.deepcopy(_document())


def render_identity_openapi() -> str:
    """The document as committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(_document(), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
