"""govlink: one network (一张网) for a city's government service halls.

Single sign-on for the city hall and every county hall, and durable, retrying delivery of the
item catalog and of case status to the provincial government service platform.

Concepts are modules: ``from govlink import domain, identity, sync, store, testing``.
The package root re-exports the error tree, the clock and the settings.
"""

from __future__ import annotations

from ._clock import CHINA_TZ, Clock, SystemClock, VirtualClock, system_clock
from ._errors import (
    CalendarDataMissing,
    ConfigError,
    ConsistencyError,
    FieldProblem,
    GovlinkError,
    IdentifierError,
    MigrationError,
    StoreError,
    TransitionError,
    ValidationError,
)
from ._settings import AdapterSettings, Settings, load_settings

__version__ = "0.1.0"

__all__ = [
    "CHINA_TZ",
    "AdapterSettings",
    "CalendarDataMissing",
    "Clock",
    "ConfigError",
    "ConsistencyError",
    "FieldProblem",
    "GovlinkError",
    "IdentifierError",
    "MigrationError",
    "Settings",
    "StoreError",
    "SystemClock",
    "TransitionError",
    "ValidationError",
    "VirtualClock",
    "__version__",
    "load_settings",
    "system_clock",
]
