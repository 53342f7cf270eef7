"""The integrator's tests: their StatusReporter against govlink's mock provincial platform.

The ``mock_province`` and ``mock_province_router`` fixtures come from govlink's pytest plugin
(installed with govlink, nothing to configure). The mock runs on a virtual clock, so waits and
outages cost no real time.

    python -m pytest examples/integrator
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hall_reporter import Refused, StatusReporter

from govlink.testing import MockProvince

CLIENT_ID, SECRET = "govlink-demo", "govlink-demo-secret"  # the mock's development credentials


def events(cases: int, hall: str = "370502") -> list[dict[str, Any]]:
    """Each case received, accepted and approved, in per-case order."""
    out = []
    for n in range(1, cases + 1):
        for sequence, (status, minute) in enumerate(
            [("received", 0), ("accepted", 10), ("approved", 50)], start=1
        ):
            out.append(
                {
                    "case_number": f"HALL{hall}2026{n:06d}",
                    "sequence": sequence,
                    "status": status,
                    "time": f"2026-03-02T09:{minute:02d}:00+08:00",
                    "hall": hall,
                }
            )
    return out


@pytest.fixture
def reporter(mock_province: MockProvince, mock_province_router: Any) -> StatusReporter:
    # Any httpx client aimed at the mock's base URL reaches it: the router is active.
    http = httpx.Client(base_url=mock_province.base_url)
    return StatusReporter(http, CLIENT_ID, SECRET, sleep=mock_province.core.clock.sleep)


def test_every_event_applied_once_in_order(
    reporter: StatusReporter, mock_province: MockProvince
) -> None:
    sent = events(250)  # 750 events: two batches
    assert reporter.report(sent) == 750
    mock_province.journal.assert_each_event_applied_once_in_order(sent)


def test_resending_is_harmless(reporter: StatusReporter, mock_province: MockProvince) -> None:
    sent = events(3)
    reporter.report(sent)
    assert reporter.report(sent) == 0  # all duplicates: nothing applied twice
    mock_province.journal.assert_no_duplicate_applied()


def test_survives_server_errors_and_element_failures(
    reporter: StatusReporter, mock_province: MockProvince
) -> None:
    mock_province.set_faults("error500:rate=0.3;partial:rate=0.1", seed=11)
    sent = events(40)
    reporter.report(sent)
    mock_province.journal.assert_each_event_applied_once_in_order(sent)
    assert mock_province.journal.faults()  # the faults really fired


def test_an_expired_token_is_renewed(reporter: StatusReporter, mock_province: MockProvince) -> None:
    reporter.report(events(1))
    mock_province.core.clock.advance(2 * 3600)  # the mock's tokens last an hour
    assert reporter.report(events(2)[3:]) == 3


def test_a_refused_event_is_reported(reporter: StatusReporter) -> None:
    bad = events(1)
    bad[1]["status"] = "processing"  # processing before acceptance: illegal
    with pytest.raises(Refused) as info:
        reporter.report(bad)
    assert info.value.event["sequence"] == 2
    assert info.value.result["status"] == "illegal_transition"
