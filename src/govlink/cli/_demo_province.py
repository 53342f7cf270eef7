"""Demo step "province": start the mock provincial platform on embedded defaults.

In-process (no port is opened) on the demo's virtual clock, with the development credentials
and no faults; later steps (sync) reach it through ``demo.state.province``
(:class:`govlink.testing.MockProvince`: ``.client()``, ``.async_client()``, ``.transport()``,
``.journal``).
"""

from __future__ import annotations

from ._demo import Demo

__all__ = ["step"]


def step(demo: Demo) -> None:
    """Start the mock province and say what it serves (two lines)."""
    from ..testing import MockProvince, served_directory

    demo.section("Provincial platform (省级平台): the built-in mock")
    province = MockProvince(clock=demo.clock)
    with province.client() as http:
        document = http.get("/openapi.json")
    if document.status_code != 200 or len(document.json().get("paths", {})) < 6:
        demo.fail(
            "serve", f"the mock province does not answer (/openapi.json: {document.status_code})"
        )
        return
    demo.state.province = province
    served = served_directory(("reference", "gateway"), province.base_url)
    demo.ok(
        "serve",
        f"mock province running in-process at {province.base_url}: reference API "
        f"({served['reference']['events_url']}, batches of {served['reference']['max_batch']}) "
        "and gateway API "
        f"({served['gateway']['events_url']}, {served['gateway']['sign_method']})",
    )
    demo.info(
        "no faults yet; every request is journaled for the exactly-once, in-order checks "
        "(serve it for other languages: govlink mock-province serve)"
    )
    demo.summary["province"] = {
        "base_url": province.base_url,
        "apis": list(province.config.apis),
        "faults": province.faults.to_spec(),
    }
