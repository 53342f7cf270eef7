"""Test support that is a library feature: the mock provincial platform, fault plans, journal
assertions and the pytest plugin (``govlink.testing.plugin``: ``virtual_clock``,
``mock_province``, ``mock_province_router``, ``served_province``).

The mock province is one Starlette application over one pure core (:class:`ProvinceCore`),
reached in-process (:meth:`MockProvince.client`, :meth:`MockProvince.async_client`,
:meth:`MockProvince.mock` for respx) or served by uvicorn (:func:`served_mock`,
``govlink mock-province serve``). See docs/mock-province.md.
"""

from __future__ import annotations

from ._core import ProvinceConfig, ProvinceCore
from ._faults import Decision, FaultKind, FaultPlan, FaultRule, OutageMode, parse_duration
from ._journal import Journal, JournalAssertionError, JournalEntry
from ._messages import CoreResponse
from ._openapi import reference_openapi, render_reference_openapi
from ._province import (
    DEFAULT_BASE_URL,
    MockProvince,
    ServedProvince,
    create_app,
    make_server,
    served_mock,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "CoreResponse",
    "Decision",
    "FaultKind",
    "FaultPlan",
    "FaultRule",
    "Journal",
    "JournalAssertionError",
    "JournalEntry",
    "MockProvince",
    "OutageMode",
    "ProvinceConfig",
    "ProvinceCore",
    "ServedProvince",
    "create_app",
    "make_server",
    "parse_duration",
    "reference_openapi",
    "render_reference_openapi",
    "served_mock",
]
