"""Test support that is a library feature: the mock provincial platform, fault plans, journal
assertions and the pytest plugin (``govlink.testing.plugin``: ``virtual_clock``,
``mock_province``, ``mock_province_router``, ``served_province``).

The mock province is one Starlette application over one pure core (:class:`ProvinceCore`):
the platform's state and rules (:class:`Platform`), and one face per provincial API
(:class:`ReferenceFace`, :class:`GatewayFace`; add one with :class:`ProvinceFace`), reached
in-process (:meth:`MockProvince.client`, :meth:`MockProvince.async_client`,
:meth:`MockProvince.mock` for respx) or served by uvicorn (:func:`served_mock`,
``govlink mock-province serve``). See docs/mock-province.md.
"""

from __future__ import annotations

from ._core import BUILTIN_FACES, ProvinceConfig, ProvinceCore, openapi_documents
from ._directory import served_directory
from ._face import FaceAnswer, FaceContext, FaceFactory, Failure, ProvinceFace, Reply
from ._faults import Decision, FaultKind, FaultPlan, FaultRule, OutageMode, parse_duration
from ._gateway_face import GatewayFace
from ._gateway_openapi import gateway_openapi, render_gateway_openapi
from ._identity_face import IDENTITY_PREFIX, identity_face
from ._identity_people import TEST_PEOPLE, TestPeople, TestPerson
from ._identity_platform import (
    DEFAULT_CITY_AUDIENCE,
    DEMO_IDENTITY_APP_ID,
    DEMO_IDENTITY_APP_SECRET,
    IdentityApp,
    IdentityFaults,
    IdentityPlatform,
    IdentityPlatformConfig,
    served_identity,
    signed_headers,
)
from ._journal import Journal, JournalAssertionError, JournalEntry
from ._messages import CoreResponse, ProvinceRequest
from ._mounted import mounted
from ._openapi import reference_openapi, render_reference_openapi
from ._platform import (
    ElementOutcome,
    ElementStatus,
    ItemOutcome,
    PartialFailure,
    Platform,
)
from ._province import (
    DEFAULT_BASE_URL,
    MockProvince,
    ServedProvince,
    create_app,
    make_server,
    served_mock,
)
from ._reference_face import ReferenceFace

__all__ = [
    "BUILTIN_FACES",
    "DEFAULT_BASE_URL",
    "DEFAULT_CITY_AUDIENCE",
    "DEMO_IDENTITY_APP_ID",
    "DEMO_IDENTITY_APP_SECRET",
    "IDENTITY_PREFIX",
    "TEST_PEOPLE",
    "CoreResponse",
    "Decision",
    "ElementOutcome",
    "ElementStatus",
    "FaceAnswer",
    "FaceContext",
    "FaceFactory",
    "Failure",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "GatewayFace",
    "IdentityApp",
    "IdentityFaults",
    "IdentityPlatform",
    "IdentityPlatformConfig",
    "ItemOutcome",
    "Journal",
    "JournalAssertionError",
    "JournalEntry",
    "MockProvince",
    "OutageMode",
    "PartialFailure",
    "Platform",
    "ProvinceConfig",
    "ProvinceCore",
    "ProvinceFace",
    "ProvinceRequest",
    "ReferenceFace",
    "Reply",
    "ServedProvince",
    "TestPeople",
    "TestPerson",
    "create_app",
    "gateway_openapi",
    "identity_face",
    "make_server",
    "mounted",
    "openapi_documents",
    "parse_duration",
    "reference_openapi",
    "render_gateway_openapi",
    "render_reference_openapi",
    "served_directory",
    "served_identity",
    "served_mock",
    "signed_headers",
]
