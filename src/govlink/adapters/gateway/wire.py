"""The provincial gateway convention (domain reference §8).

The wire contract of the ``gateway`` adapter.

Shared by the client adapter and the mock province, so both sign, encode and decode with the
same code. Everything here is pure: time and nonces are passed in, never read.

Endpoints (all ``POST``, JSON body, HTTP/1.1)
=============================================
=============================  ================================================================
:data:`CATALOG_PUSH_PATH`      ``{"sxlb": [item, ...]}``: upsert up to :data:`MAX_CATALOG_BATCH`
                               items (事项列表); ``data`` = :class:`BatchResultData`
:data:`CATALOG_DIGEST_PATH`    ``{"ym": page_token|null, "mytss": page_size}``: ``data`` =
                               :class:`DigestData` (实施编码 → 内容哈希/版本/修订号)
:data:`CASE_STATUS_PUSH_PATH`  ``{"bjztlb": [event, ...]}``: up to :data:`MAX_EVENT_BATCH`
                               case status events (办件状态列表); ``data`` =
                               :class:`BatchResultData`
=============================  ================================================================

Authentication: request signing
===============================
Every request carries four headers: :data:`HEADER_APP_ID` (the app id issued by the platform),
:data:`HEADER_TIMESTAMP` (milliseconds since the Unix epoch, decimal), :data:`HEADER_NONCE`
(16–64 characters ``[0-9A-Za-z_-]``, never reused) and :data:`HEADER_SIGNATURE`; optionally
:data:`HEADER_SIGN_METHOD` (``HMAC-SHA256`` or ``HMAC-SM3``; when present it must equal the
app's configured method). The string to sign is, with ``\\n`` (LF) separators and no trailing
newline::

    METHOD            upper case, e.g. POST
    PATH              the request path exactly as sent, without query string
    TIMESTAMP         the X-Timestamp header value
    NONCE             the X-Nonce header value
    APP_ID            the X-App-Id header value
    BODY_DIGEST       lower-case hex digest of the raw body bytes (SHA-256 for HMAC-SHA256,
                      SM3 for HMAC-SM3; the digest of the empty string for an empty body)

and the signature is the lower-case hex HMAC of that UTF-8 string keyed with the app secret's
UTF-8 bytes (:func:`canonical_string`, :func:`sign`, :func:`signed_headers`). The platform
refuses (:func:`verify_signature`, :class:`SignatureRejected`) a missing header, an unknown app,
a timestamp more than ``skew_seconds`` (default 300) away from its clock, a nonce already seen
from that app within the window (:class:`NonceCache`), and a wrong signature (compared in
constant time).

Envelope
========
Every response body is ``{"code": str, "msg": str, "data": ...}`` (:class:`Envelope`). ``code``
equals the configured success code (default ``"000000"``) on success; the failure codes are
:class:`GatewayCode`. Request-level failures also use the matching HTTP status (400, 401, 413,
429 with ``Retry-After``, 500, 503), so generic HTTP retry logic works; a batch whose elements
failed individually is a success (HTTP 200, success code) with per-element results.

Field names and values
======================
Elements are the canonical JSON of govlink's domain models with field names translated to the
pinyin abbreviations of the field tables (:data:`EVENT_FIELDS`, :data:`ITEM_FIELDS`, keyed by
dotted canonical path; members of lists keep their element's table). Fields not in a table
travel under their canonical name. Values are canonical except: the event time (办理时间
``blsj``) is ``yyyy-MM-dd HH:mm:ss`` in China time (UTC+8); the case status (办理状态 ``blzt``) is
the numeric code of domain reference §5 (``GatewayConfig.status_codes`` renumbers); the item type
(事项类型 ``sxlx``) is its two-digit code (``"01"`` 行政许可 … ``"20"`` 公共服务). An event may
carry ``wybs`` (唯一标识, its idempotency key); without it the platform uses the event's own key
``{hall}:case:{case_number}:{sequence}``.

Personal data encryption (optional)
===================================
With an SM4 key configured (:class:`FieldCipher`), the values of the personal-data fields
(:data:`DEFAULT_ENCRYPTED_EVENT_FIELDS`: the handler 办理人; configurable) are replaced by
``base64(iv || ciphertext || tag)`` of their UTF-8 text: SM4-GCM with a random 12-byte IV and a
16-byte tag (default), or SM4-CBC with a random 16-byte IV, PKCS#7 padding and no tag (for
platforms that demand CBC). Keys are 16 bytes, configured as 32 hex characters. The field name
is unchanged; the receiver decrypts before validating.

Per-element results
===================
``data`` of a push is ``{"jg": [result, ...], "sbs": failed_count}`` with one
:class:`GatewayResult` per element in request order: ``xh`` 序号 (index), ``cljg`` 处理结果 (the
same vocabulary as the reference API: ``applied``, ``duplicate``, ``rejected``,
``out_of_order``, ``illegal_transition``, ``unavailable``), ``wybs`` 唯一标识 (idempotency key)
or ``ssbm`` 实施编码, ``qwxh`` 期望序号 (expected sequence), ``dqzt`` 当前状态 (current status
code), ``xdh`` 修订号 (revision), ``nrhx`` 内容哈希 (content hash), ``ddms`` 等待秒数 (retry
after) and ``wtlb`` 问题列表 (problems: ``zd`` 字段 field, ``gz`` 规则 rule, ``sm`` 说明
message; ``zd`` names the canonical field path).

One cohesive concept, hence one module despite its length: the gateway's wire contract (signing,
envelope, field tables, SM4).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives import padding as crypto_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import BaseModel, ConfigDict, Field

from ... import CHINA_TZ, ConfigError, GovlinkError, ValidationError
from ...domain import CaseStatus, ItemType, StatusCodeTable
from ...sync.adapter import ElementStatus

__all__ = [
    "CASE_STATUS_PUSH_PATH",
    "CATALOG_DIGEST_PATH",
    "CATALOG_PUSH_PATH",
    "DEFAULT_ENCRYPTED_EVENT_FIELDS",
    "DEFAULT_SKEW_SECONDS",
    "DEFAULT_SUCCESS_CODE",
    "DEMO_APP_ID",
    "DEMO_APP_SECRET",
    "EVENT_FIELDS",
    "HEADER_APP_ID",
    "HEADER_NONCE",
    "HEADER_SIGNATURE",
    "HEADER_SIGN_METHOD",
    "HEADER_TIMESTAMP",
    "ITEM_FIELDS",
    "MAX_CATALOG_BATCH",
    "MAX_EVENT_BATCH",
    "WIRE_TIME_FORMAT",
    "BatchResultData",
    "CaseStatusPushRequest",
    "CatalogPushRequest",
    "DigestData",
    "DigestRecord",
    "DigestRequest",
    "Envelope",
    "FieldCipher",
    "GatewayCode",
    "GatewayConfig",
    "GatewayProblem",
    "GatewayResult",
    "NonceCache",
    "ResultStatus",
    "SignMethod",
    "SignatureRejected",
    "body_digest",
    "canonical_string",
    "decode_event",
    "decode_item",
    "encode_event",
    "encode_item",
    "envelope",
    "http_status_for",
    "sign",
    "signed_headers",
    "verify_signature",
]

# --- paths, headers, limits ---------------------------------------------------------------------

CATALOG_PUSH_PATH: Final = "/gw/v1/sx/push"  # 事项推送
CATALOG_DIGEST_PATH: Final = "/gw/v1/sx/digest"  # 事项摘要
CASE_STATUS_PUSH_PATH: Final = "/gw/v1/bj/zt/push"  # 办件状态推送

HEADER_APP_ID: Final = "X-App-Id"
HEADER_TIMESTAMP: Final = "X-Timestamp"
HEADER_NONCE: Final = "X-Nonce"
HEADER_SIGNATURE: Final = "X-Signature"
HEADER_SIGN_METHOD: Final = "X-Sign-Method"

MAX_CATALOG_BATCH: Final = 100
MAX_EVENT_BATCH: Final = 500
DEFAULT_SUCCESS_CODE: Final = "000000"
DEFAULT_SKEW_SECONDS: Final = 300
#: Wall-clock format of times on the gateway wire (China time, UTC+8).
WIRE_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

#: Credentials the govlink mock province accepts out of the box (development only).
DEMO_APP_ID: Final = "govlink-demo"
DEMO_APP_SECRET: Final = "govlink-demo-gateway-secret"  # noqa: S105 - documented development credential

#: Event fields encrypted when an SM4 key is configured (canonical paths; personal data).
DEFAULT_ENCRYPTED_EVENT_FIELDS: Final[tuple[str, ...]] = ("handler",)

_DEFAULT_STATUS_TABLE: Final = StatusCodeTable()
_NONCE_RE = re.compile(r"[0-9A-Za-z_-]{16,64}", re.ASCII)
# ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,16}", re.ASCII)
# Both HMACs (SHA-256, SM3) are 32 bytes: 64 hex characters, either case.
_SIGNATURE_RE = re.compile(r"[0-9A-Fa-f]{64}", re.ASCII)


class SignMethod(StrEnum):
    """How requests are signed (configured per app on both sides)."""

    HMAC_SHA256 = "HMAC-SHA256"
    HMAC_SM3 = "HMAC-SM3"


class GatewayCode(StrEnum):
    """Envelope ``code`` values for failures (success is the configured success code)."""

    MISSING_AUTH = "100001"  # a signing header is missing or malformed
    UNKNOWN_APP = "100002"
    TIMESTAMP_SKEW = "100003"
    NONCE_REPLAYED = "100004"
    BAD_SIGNATURE = "100005"
    MALFORMED_REQUEST = "200001"
    BATCH_TOO_LARGE = "200002"
    RATE_LIMITED = "429001"
    INTERNAL_ERROR = "500001"
    UNAVAILABLE = "503001"


_HTTP_STATUS: Final[dict[GatewayCode, int]] = {
    GatewayCode.MISSING_AUTH: 401,
    GatewayCode.UNKNOWN_APP: 401,
    GatewayCode.TIMESTAMP_SKEW: 401,
    GatewayCode.NONCE_REPLAYED: 401,
    GatewayCode.BAD_SIGNATURE: 401,
    GatewayCode.MALFORMED_REQUEST: 400,
    GatewayCode.BATCH_TOO_LARGE: 413,
    GatewayCode.RATE_LIMITED: 429,
    GatewayCode.INTERNAL_ERROR: 500,
    GatewayCode.UNAVAILABLE: 503,
}


def http_status_for(code: GatewayCode) -> int:
    """The HTTP status that accompanies a failure ``code``."""
    return _HTTP_STATUS[code]


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatewayConfig:
    """One app's gateway settings, the same on the client and on the platform.

    ``app_secret`` and ``sm4_key`` are never shown in ``repr``.

    Raises:
        ConfigError: an SM4 key that is not 32 hex characters, or a non-positive skew.
    """

    app_id: str = DEMO_APP_ID
    app_secret: str = field(default=DEMO_APP_SECRET, repr=False)
    sign_method: SignMethod = SignMethod.HMAC_SHA256
    success_code: str = DEFAULT_SUCCESS_CODE
    skew_seconds: int = DEFAULT_SKEW_SECONDS
    #: 32 hex characters (16 bytes) to SM4-encrypt personal-data fields; ``None``: plain text.
    sm4_key: str | None = field(default=None, repr=False)
    sm4_mode: Literal["GCM", "CBC"] = "GCM"
    #: The platform's numbering of case statuses (default: domain reference §5).
    status_codes: StatusCodeTable = field(default_factory=StatusCodeTable, compare=False)
    #: Canonical event paths encrypted when ``sm4_key`` is set.
    encrypted_event_fields: tuple[str, ...] = DEFAULT_ENCRYPTED_EVENT_FIELDS

    def __post_init__(self) -> None:
        if self.skew_seconds <= 0:
            raise ConfigError("gateway skew_seconds must be positive")
        if self.sm4_key is not None:
            FieldCipher.from_hex(self.sm4_key, self.sm4_mode)  # validates the key early

    def cipher(self) -> FieldCipher | None:
        """The SM4 field cipher, or ``None`` when encryption is off."""
        if self.sm4_key is None:
            return None
        return FieldCipher.from_hex(self.sm4_key, self.sm4_mode)


# --- signing ------------------------------------------------------------------------------------


class SignatureRejected(GovlinkError):
    """The platform refused a request's signing headers.

    ``gateway_code`` is the envelope code to answer with; ``reason`` is a stable short name
    (``missing_header``, ``unknown_app``, ``timestamp_skew``, ``nonce_replayed``,
    ``bad_signature``, ``sign_method``).
    """

    code = "gateway_signature_rejected"

    def __init__(self, gateway_code: GatewayCode, reason: str, message: str) -> None:
        super().__init__(message)
        self.gateway_code = gateway_code
        self.reason = reason


def _hash_algorithm(method: SignMethod) -> hashes.HashAlgorithm:
    return hashes.SM3() if method is SignMethod.HMAC_SM3 else hashes.SHA256()


def body_digest(body: bytes, method: SignMethod) -> str:
    """Lower-case hex digest of the raw body (SHA-256, or SM3 for ``HMAC-SM3``)."""
    if method is SignMethod.HMAC_SHA256:
        return hashlib.sha256(body).hexdigest()
    digest = hashes.Hash(hashes.SM3())
    digest.update(body)
    return digest.finalize().hex()


def canonical_string(
    http_method: str,
    path: str,
    timestamp: str,
    nonce: str,
    app_id: str,
    body: bytes,
    sign_method: SignMethod,
) -> str:
    """The exact string that is signed (see the module docstring)."""
    return "\n".join(
        (http_method.upper(), path, timestamp, nonce, app_id, body_digest(body, sign_method))
    )


def sign(secret: str, canonical: str, method: SignMethod) -> str:
    """Lower-case hex HMAC (SHA-256 or SM3) of ``canonical`` keyed with ``secret``."""
    key = secret.encode("utf-8")
    message = canonical.encode("utf-8")
    if method is SignMethod.HMAC_SHA256:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(message)
    return mac.finalize().hex()


def signed_headers(
    config: GatewayConfig,
    http_method: str,
    path: str,
    body: bytes,
    *,
    timestamp_ms: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The signing headers for one request (``nonce`` defaults to 32 random hex characters).

    Pass the time from the caller's clock (``int(clock.time() * 1000)``).
    """
    nonce = nonce if nonce is not None else os.urandom(16).hex()
    timestamp = str(timestamp_ms)
    canonical = canonical_string(
        http_method, path, timestamp, nonce, config.app_id, body, config.sign_method
    )
    return {
        HEADER_APP_ID: config.app_id,
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGN_METHOD: config.sign_method.value,
        HEADER_SIGNATURE: sign(config.app_secret, canonical, config.sign_method),
    }


class NonceCache:
    """Nonces seen per app within the timestamp window (the platform's replay guard).

    Bounded: entries older than the window are dropped as time passes, since a request that old
    is refused for its timestamp anyway. Thread-safe.
    """

    def __init__(self, window_seconds: float = DEFAULT_SKEW_SECONDS) -> None:
        self._window = float(window_seconds)
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, app_id: str, nonce: str, now: float) -> bool:
        """Record ``nonce``; False when it was already seen within the window."""
        key = (app_id, nonce)
        with self._lock:
            horizon = now - 2 * self._window
            while self._seen:
                oldest_key, seen_at = next(iter(self._seen.items()))
                if seen_at >= horizon:
                    break
                del self._seen[oldest_key]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True

    def __len__(self) -> int:
        return len(self._seen)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value


def verify_signature(
    apps: Mapping[str, GatewayConfig],
    http_method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    nonces: NonceCache | None = None,
) -> GatewayConfig:
    """Check a request's signing headers; returns the caller's app configuration.

    ``apps`` maps app id → configuration; ``now`` is POSIX seconds from the platform's clock;
    ``headers`` is case-insensitive (httpx/Starlette headers) or uses the canonical spelling.
    The nonce is remembered only once the signature is good, so a forger cannot burn nonces.
    Any header text (non-ASCII digits, odd bytes decoded as Latin-1) ends in a refusal, never
    in ``ValueError``/``TypeError``.

    Raises:
        SignatureRejected: with the gateway code and a reason naming the broken rule.
    """
    values: dict[str, str] = {}
    for name in (HEADER_APP_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE):
        value = _header(headers, name)
        if not value:
            raise SignatureRejected(
                GatewayCode.MISSING_AUTH, "missing_header", f"header {name} is required"
            )
        values[name] = value
    app_id, timestamp = values[HEADER_APP_ID], values[HEADER_TIMESTAMP]
    nonce, signature = values[HEADER_NONCE], values[HEADER_SIGNATURE]
    config = apps.get(app_id)
    if config is None:
        raise SignatureRejected(GatewayCode.UNKNOWN_APP, "unknown_app", "unknown app id")
    method = _header(headers, HEADER_SIGN_METHOD)
    if method is not None and method != config.sign_method.value:
        raise SignatureRejected(
            GatewayCode.BAD_SIGNATURE,
            "sign_method",
            f"{HEADER_SIGN_METHOD} must be {config.sign_method.value} for this app",
        )
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise SignatureRejected(
            GatewayCode.MISSING_AUTH,
            "missing_header",
            f"{HEADER_TIMESTAMP} must be milliseconds since the epoch",
        )
    if abs(int(timestamp) / 1000.0 - now) > config.skew_seconds:
        raise SignatureRejected(
            GatewayCode.TIMESTAMP_SKEW,
            "timestamp_skew",
            f"{HEADER_TIMESTAMP} is more than {config.skew_seconds} s from the platform's clock",
        )
    if not _NONCE_RE.fullmatch(nonce):
        raise SignatureRejected(
            GatewayCode.MISSING_AUTH,
            "missing_header",
            f"{HEADER_NONCE} must be 16-64 characters of [0-9A-Za-z_-]",
        )
    if not _SIGNATURE_RE.fullmatch(signature):
        raise SignatureRejected(
            GatewayCode.BAD_SIGNATURE, "bad_signature", f"{HEADER_SIGNATURE} is not 64 hex digits"
        )
    try:
        expected = sign(
            config.app_secret,
            canonical_string(http_method, path, timestamp, nonce, app_id, body, config.sign_method),
            config.sign_method,
        )
    except UnicodeError:
        # A path or method that cannot be UTF-8 (a lone surrogate from a careless caller):
        # nothing a signature could have been computed over.
        raise SignatureRejected(
            GatewayCode.MISSING_AUTH, "missing_header", "request line is not valid UTF-8"
        ) from None
    # Both sides are ASCII hex here, so the constant-time comparison cannot refuse them.
    if not hmac.compare_digest(expected.encode("ascii"), signature.lower().encode("ascii")):
        raise SignatureRejected(GatewayCode.BAD_SIGNATURE, "bad_signature", "bad signature")
    if nonces is not None and not nonces.remember(app_id, nonce, now):
        raise SignatureRejected(GatewayCode.NONCE_REPLAYED, "nonce_replayed", "nonce already used")
    return config


# --- SM4 field encryption -----------------------------------------------------------------------


class FieldCipher:
    """SM4 encryption of single text values (GCM by default, CBC on demand).

    Raises:
        ConfigError: (``from_hex``) a key that is not 32 hex characters.
    """

    def __init__(self, key: bytes, mode: Literal["GCM", "CBC"] = "GCM") -> None:
        if len(key) != 16:
            raise ConfigError("an SM4 key is 16 bytes (32 hex characters)")
        self._key = key
        self.mode = mode

    @classmethod
    def from_hex(cls, key_hex: str, mode: Literal["GCM", "CBC"] = "GCM") -> FieldCipher:
        try:
            key = bytes.fromhex(key_hex)
        except ValueError:
            raise ConfigError("sm4_key must be 32 hex characters") from None
        return cls(key, mode)

    def __repr__(self) -> str:
        return f"FieldCipher(mode={self.mode!r})"

    def encrypt(self, plaintext: str, *, iv: bytes | None = None) -> str:
        """``base64(iv || ciphertext || tag)`` (no tag for CBC); ``iv`` is random by default."""
        data = plaintext.encode("utf-8")
        if self.mode == "GCM":
            iv = iv if iv is not None else os.urandom(12)
            sealer = Cipher(algorithms.SM4(self._key), modes.GCM(iv)).encryptor()
            sealed = sealer.update(data) + sealer.finalize() + sealer.tag
        else:
            iv = iv if iv is not None else os.urandom(16)
            padder = crypto_padding.PKCS7(128).padder()
            padded = padder.update(data) + padder.finalize()
            encryptor = Cipher(algorithms.SM4(self._key), modes.CBC(iv)).encryptor()
            sealed = encryptor.update(padded) + encryptor.finalize()
        return base64.b64encode(iv + sealed).decode("ascii")

    def decrypt(self, token: str, *, field_name: str = "value") -> str:
        """The plain text of :meth:`encrypt`'s output.

        Raises:
            ValidationError: rule ``sm4_decrypt`` when the value is not a valid ciphertext
                under this key.
        """
        try:
            raw = base64.b64decode(token.encode("ascii"), validate=True)
            if self.mode == "GCM":
                iv, body, tag = raw[:12], raw[12:-16], raw[-16:]
                if len(raw) < 28:
                    raise ValueError("too short")
                opener = Cipher(algorithms.SM4(self._key), modes.GCM(iv, tag)).decryptor()
                data = opener.update(body) + opener.finalize()
            else:
                iv, body = raw[:16], raw[16:]
                decryptor = Cipher(algorithms.SM4(self._key), modes.CBC(iv)).decryptor()
                padded = decryptor.update(body) + decryptor.finalize()
                unpadder = crypto_padding.PKCS7(128).unpadder()
                data = unpadder.update(padded) + unpadder.finalize()
            return data.decode("utf-8")
        except (ValueError, binascii.Error, UnicodeError, TypeError):
            raise ValidationError(
                "not an SM4 ciphertext under the configured key",
                field=field_name,
                rule="sm4_decrypt",
            ) from None
        except Exception as exc:  # cryptography's InvalidTag and friends
            raise ValidationError(
                f"SM4 decryption failed ({type(exc).__name__})",
                field=field_name,
                rule="sm4_decrypt",
            ) from None


# --- field tables -------------------------------------------------------------------------------

#: Canonical ``CaseStatusEvent`` JSON path → gateway (pinyin) name. ``idempotency_key`` is
#: an optional wire member (default: the event's own key, ``{hall}:case:{case_number}:{sequence}``).
EVENT_FIELDS: Final[dict[str, str]] = {
    "case_number": "bjbh",  # 办件编号
    "sequence": "xh",  # 序号
    "status": "blzt",  # 办理状态 (numeric code, domain reference §5)
    "time": "blsj",  # 办理时间
    "hall": "xzqhdm",  # 行政区划代码 (the hall's region)
    "handler": "blr",  # 办理人
    "office": "blcs",  # 办理处室
    "opinion": "blyj",  # 办理意见
    "special_procedure": "tbcxzl",  # 特别程序种类
    "organisation_name": "bljgmc",  # 办理机构名称
    "organisation_credit_code": "bljgdm",  # 办理机构统一社会信用代码
    "idempotency_key": "wybs",  # 唯一标识
}

_LIMIT = {"amount": "ts", "unit": "dw"}  # 天数, 单位
_DEPARTMENT = {"credit_code": "tyshxydm", "name": "jgmc"}  # 统一社会信用代码, 机构名称


def _nested(parent: str, wire_name: str, children: Mapping[str, str]) -> dict[str, str]:
    return {parent: wire_name, **{f"{parent}.{k}": v for k, v in children.items()}}


#: Canonical ``Item`` JSON path → gateway (pinyin) name (members of lists: the element's path).
ITEM_FIELDS: Final[dict[str, str]] = {
    "catalog_code": "jbbm",  # 基本编码
    "implementation_code": "ssbm",  # 实施编码
    "handling_item_code": "ywblxbm",  # 业务办理项编码
    "name": "sxmc",  # 事项名称
    "item_type": "sxlx",  # 事项类型 (two-digit code 01–10, 20)
    **_nested("department", "ssjg", _DEPARTMENT),  # 实施机构
    **_nested("entrusted_department", "stjg", _DEPARTMENT),  # 受托机构
    "region_code": "xzqhdm",  # 行政区划代码
    "exercise_levels": "xscj",  # 行使层级
    **_nested("legal_limit", "fdsx", _LIMIT),  # 法定时限
    **_nested("promised_limit", "cnsx", _LIMIT),  # 承诺时限
    "case_kind": "bjlx",  # 办件类型
    "on_site_visits": "dxccs",  # 到办事现场次数
    "visits_reason": "dxcly",  # 必须现场办理原因
    "handling_forms": "blxs",  # 办理形式
    "online_depth": "wsblsd",  # 网上办理深度
    "unified_login": "sftydl",  # 是否统一身份认证
    **_nested("fee", "sf", {"charged": "sfsf", "basis": "sfyj", "standard": "sfbz"}),  # 收费
    **_nested(
        "special_procedures",
        "tbcx",  # 特别程序
        {"kind": "zl", "name": "mc", "limit": "sx", "limit.amount": "ts", "limit.unit": "dw"},
    ),
    "accept_conditions": "sltj",  # 受理条件
    **_nested(
        "materials",
        "sqcl",  # 申请材料
        {
            "name": "clmc",  # 材料名称
            "required": "sfbx",  # 是否必须
            "form": "clxs",  # 材料形式
            "copies": "zzfs",  # 纸质份数
            "source": "lyqd",  # 来源渠道
            "note": "bz",  # 备注
        },
    ),
    "legal_basis": "sdyj",  # 设定依据
    "state": "sxzt",  # 事项状态
    "version": "bbh",  # 版本号
    "effective_date": "sxrq",  # 生效日期
    "cancel_date": "qxrq",  # 取消日期
}

#: Canonical paths whose values are times (ISO 8601 canonically, wall clock on the wire).
_TIME_PATHS: Final = frozenset({"time"})


def _to_wire_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return value  # left as is: the receiver's validation names the field
    if instant.tzinfo is None:
        return value
    return instant.astimezone(CHINA_TZ).strftime(WIRE_TIME_FORMAT)


def _from_wire_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        wall = datetime.strptime(value, WIRE_TIME_FORMAT)  # noqa: DTZ007 - zone set next line
    except ValueError:
        return value
    return wall.replace(tzinfo=CHINA_TZ).isoformat()


Codec = Callable[[Any], Any]


def _item_type_to_code(value: Any) -> Any:
    try:
        return ItemType(value).code
    except ValueError:
        return value  # left as is: the receiver's validation names the field


def _item_type_from_code(value: Any) -> Any:
    try:
        return ItemType.from_code(value).value
    except (KeyError, TypeError):
        return value


def _translate(
    value: Any,
    table: Mapping[str, str],
    path: str,
    encode_codecs: Mapping[str, Codec],
) -> Any:
    if isinstance(value, list):
        return [_translate(v, table, path, encode_codecs) for v in value]
    if not isinstance(value, dict):
        codec = encode_codecs.get(path)
        return codec(value) if codec is not None else value
    out: dict[str, Any] = {}
    for key, member in value.items():
        child = f"{path}.{key}" if path else key
        out[table.get(child, key)] = _translate(member, table, child, encode_codecs)
    return out


def _inverse(table: Mapping[str, str]) -> dict[str, str]:
    # (parent canonical path + "." + wire name) → canonical child path
    inverse: dict[str, str] = {}
    for canonical, wire_name in table.items():
        parent, _, _ = canonical.rpartition(".")
        inverse[f"{parent}.{wire_name}" if parent else wire_name] = canonical
    return inverse


def _untranslate(
    value: Any,
    inverse: Mapping[str, str],
    path: str,
    decode_codecs: Mapping[str, Codec],
) -> Any:
    if isinstance(value, list):
        return [_untranslate(v, inverse, path, decode_codecs) for v in value]
    if not isinstance(value, dict):
        codec = decode_codecs.get(path)
        return codec(value) if codec is not None else value
    out: dict[str, Any] = {}
    for key, member in value.items():
        lookup = f"{path}.{key}" if path else key
        child = inverse.get(lookup, lookup)
        name = child.rpartition(".")[2]
        out[name] = _untranslate(member, inverse, child, decode_codecs)
    return out


_EVENT_INVERSE: Final = _inverse(EVENT_FIELDS)
_ITEM_INVERSE: Final = _inverse(ITEM_FIELDS)
_ITEM_ENCODERS: Final[dict[str, Codec]] = {"item_type": _item_type_to_code}
_ITEM_DECODERS: Final[dict[str, Codec]] = {"item_type": _item_type_from_code}


def _event_encoders(config: GatewayConfig | None) -> dict[str, Codec]:
    table = config.status_codes if config is not None else _DEFAULT_STATUS_TABLE

    def status_to_code(value: Any) -> Any:
        try:
            return table.code(CaseStatus(value))
        except ValueError:
            return value

    return {"status": status_to_code, "time": _to_wire_time}


def _event_decoders(config: GatewayConfig | None) -> dict[str, Codec]:
    table = config.status_codes if config is not None else _DEFAULT_STATUS_TABLE

    def status_from_code(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(
                f"{value!r} is not a numeric status code", field="status", rule="status_code"
            )
        return table.status(value).value

    return {"status": status_from_code, "time": _from_wire_time}


def _apply_cipher(
    data: dict[str, Any], paths: tuple[str, ...], transform: Callable[[str, str], str]
) -> None:
    for canonical_path in paths:
        parts = canonical_path.split(".")
        node: Any = data
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        leaf = parts[-1]
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            node[leaf] = transform(node[leaf], canonical_path)


def encode_event(
    canonical: Mapping[str, Any], config: GatewayConfig | None = None
) -> dict[str, Any]:
    """Canonical ``CaseStatusEvent`` JSON (``model_dump(mode="json")``) → gateway element.

    Personal-data fields are SM4-encrypted when ``config`` has a key.
    """
    data = dict(canonical)
    cipher = config.cipher() if config is not None else None
    if cipher is not None and config is not None:
        data = _deep_copy(data)
        _apply_cipher(data, config.encrypted_event_fields, lambda v, _p: cipher.encrypt(v))
    result: dict[str, Any] = _translate(data, EVENT_FIELDS, "", _event_encoders(config))
    return result


def decode_event(wire: Mapping[str, Any], config: GatewayConfig | None = None) -> dict[str, Any]:
    """Gateway element → canonical ``CaseStatusEvent`` JSON (validate it with the domain).

    Raises:
        ValidationError: field ``status`` with rule ``status_code`` (not a number) or
            ``unknown_status_code``; rule ``sm4_decrypt`` for an encrypted field that does not
            decrypt.
    """
    data: dict[str, Any] = _untranslate(dict(wire), _EVENT_INVERSE, "", _event_decoders(config))
    cipher = config.cipher() if config is not None else None
    if cipher is not None and config is not None:
        _apply_cipher(
            data,
            config.encrypted_event_fields,
            lambda v, p: cipher.decrypt(v, field_name=p),
        )
    return data


def encode_item(canonical: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical ``Item`` JSON (``model_dump(mode="json")``) → gateway element."""
    result: dict[str, Any] = _translate(dict(canonical), ITEM_FIELDS, "", _ITEM_ENCODERS)
    return result


def decode_item(wire: Mapping[str, Any]) -> dict[str, Any]:
    """Gateway element → canonical ``Item`` JSON (validate it with the domain)."""
    result: dict[str, Any] = _untranslate(dict(wire), _ITEM_INVERSE, "", _ITEM_DECODERS)
    return result


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


# --- envelope and results -----------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(_Wire):
    """``{code, msg, data}``: every gateway response body."""

    code: str
    msg: str
    data: Any = None


def envelope(
    data: Any = None, *, code: str = DEFAULT_SUCCESS_CODE, msg: str = "成功"
) -> dict[str, Any]:
    """A response body as a plain dict (ready for ``json.dumps``)."""
    return {"code": code, "msg": msg, "data": data}


class GatewayProblem(_Wire):
    """One broken rule: ``zd`` 字段 (canonical field path), ``gz`` 规则 (rule), ``sm`` 说明."""

    zd: str
    gz: str
    sm: str


#: The per-element statuses (``cljg`` 处理结果): the adapter kit's common vocabulary.
ResultStatus = ElementStatus


class GatewayResult(_Wire):
    """The outcome for one pushed element (see the module docstring for the names)."""

    xh: int  # 序号: index in the request
    cljg: ResultStatus  # 处理结果
    wybs: str | None = None  # 唯一标识 (events)
    ssbm: str | None = None  # 实施编码 (items)
    qwxh: int | None = None  # 期望序号
    dqzt: int | None = None  # 当前状态
    xdh: int | None = None  # 修订号
    nrhx: str | None = None  # 内容哈希
    ddms: int | None = None  # 等待秒数
    wtlb: list[GatewayProblem] = Field(default_factory=list)  # 问题列表


class BatchResultData(_Wire):
    """``data`` of a push: ``jg`` 结果 (one per element, in order), ``sbs`` 失败数."""

    jg: list[GatewayResult]
    sbs: int = 0


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogPushRequest(_Request):
    """Body of :data:`CATALOG_PUSH_PATH`: ``sxlb`` 事项列表 (gateway-encoded items)."""

    sxlb: list[dict[str, Any]] = Field(min_length=1)


class CaseStatusPushRequest(_Request):
    """Body of :data:`CASE_STATUS_PUSH_PATH`: ``bjztlb`` 办件状态列表 (gateway-encoded events)."""

    bjztlb: list[dict[str, Any]] = Field(min_length=1)


class DigestRequest(_Request):
    """Body of :data:`CATALOG_DIGEST_PATH`: ``ym`` 页码 (page token), ``mytss`` 每页条数."""

    ym: str | None = None
    mytss: int = Field(default=1000, ge=1)


class DigestRecord(_Wire):
    """One digest entry: ``ssbm`` 实施编码, ``nrhx`` 内容哈希, ``bbh`` 版本号, ``xdh`` 修订号."""

    ssbm: str
    nrhx: str
    bbh: int | str | None = None
    xdh: int


class DigestData(_Wire):
    """``data`` of the digest: ``sxlb`` 事项列表, ``xyym`` 下一页 (page token), ``zs`` 总数."""

    sxlb: list[DigestRecord]
    xyym: str | None = None
    zs: int
