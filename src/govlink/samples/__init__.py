"""Sample data for the demo, tests and benchmarks: seeded, documented generators.

``generate_catalog()`` builds a realistic item catalog for a city's halls (54 departments, about
400 items by default; 10,000 items for benchmarks); ``load_sample_catalog()`` reads the bundled
copy made with the documented seed. See ``docs/samples.md``.
"""

from __future__ import annotations

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
    "SampleCatalog",
    "SampleDepartment",
    "generate_catalog",
    "load_sample_catalog",
]
