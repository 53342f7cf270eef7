"""Sample data for the demo, tests and benchmarks: seeded, documented generators.

``generate_catalog()`` builds a realistic item catalog for a city's halls (54 departments, about
400 items by default; 10,000 items for benchmarks); ``load_sample_catalog()`` reads the bundled
copy made with the documented seed. ``generate_cases()`` streams cases with realistic status
histories over such a catalog (``year_of_cases()``: 130,000 cases, ~650,000 events);
``load_sample_cases()`` reads the bundled sample. See ``docs/samples.md``.
"""

from __future__ import annotations

from ._cases import (
    SAMPLE_CASES_PERIOD,
    SAMPLE_CASES_SEED,
    CaseProfile,
    SampleCase,
    generate_cases,
    iter_events,
    load_sample_cases,
    read_case_records,
    sample_case_records,
    write_sample_cases,
    year_of_cases,
)
from ._catalog import (
    CATALOG_FORMAT,
    DEFAULT_SEED,
    SampleCatalog,
    SampleDepartment,
    generate_catalog,
    load_sample_catalog,
)

__all__ = [
    "CATALOG_FORMAT",
    "DEFAULT_SEED",
    "SAMPLE_CASES_PERIOD",
    "SAMPLE_CASES_SEED",
    "CaseProfile",
    "SampleCase",
    "SampleCatalog",
    "SampleDepartment",
    "generate_cases",
    "generate_catalog",
    "iter_events",
    "load_sample_cases",
    "load_sample_catalog",
    "read_case_records",
    "sample_case_records",
    "write_sample_cases",
    "year_of_cases",
]
