"""Test support that is a library feature: the virtual clock fixture, the mock provincial
platform, fault plans and journal assertions (see the pytest plugin in ``govlink.testing.plugin``).
"""

from __future__ import annotations

__all__: list[str] = []
