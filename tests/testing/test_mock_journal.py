"""Journal assertions: they pass on a correct run and fail, clearly, on each kind of mistake."""

from __future__ import annotations

import pytest
from province_helpers import HALL, case_events, event, item

from govlink.domain import parse_case_event, parse_item
from govlink.testing import JournalAssertionError, MockProvince


def push(province: MockProvince, events: list[dict[str, object]]) -> None:
    with province.client() as http:
        response = http.post(
            "/v1/cases/events:batch",
            json={"events": events},
            headers={"authorization": f"Bearer {province.issue_token()}"},
        )
        assert response.status_code == 200


def test_applied_once_in_order_passes_for_objects_and_dicts(mock_province: MockProvince) -> None:
    events = case_events("C1", 3) + case_events("C2", 2)
    push(mock_province, events)
    mock_province.journal.assert_each_event_applied_once_in_order(events)
    mock_province.journal.assert_each_event_applied_once_in_order(
        [parse_case_event(e) for e in reversed(events)]
    )
    mock_province.journal.assert_no_duplicate_applied()


def test_missing_and_unexpected_events_fail(mock_province: MockProvince) -> None:
    push(mock_province, case_events("C1", 2))
    with pytest.raises(JournalAssertionError, match=r"1 event\(s\) never applied: .*C1:3"):
        mock_province.journal.assert_each_event_applied_once_in_order(case_events("C1", 3))
    with pytest.raises(JournalAssertionError, match=r"applied but not expected: 370502:case:C1:2"):
        mock_province.journal.assert_each_event_applied_once_in_order(case_events("C1", 1))
    mock_province.journal.assert_each_event_applied_once_in_order(case_events("C1", 1), exact=False)


def test_out_of_order_and_doubled_application_are_caught(mock_province: MockProvince) -> None:
    # The mock never does this itself; corrupt its log to prove the assertions would notice.
    push(mock_province, case_events("C1", 2))
    core = mock_province.core.platform  # the platform holds the applied log
    core._applied_log.reverse()
    with pytest.raises(JournalAssertionError, match="out of per-case order: C1"):
        mock_province.journal.assert_each_event_applied_once_in_order(case_events("C1", 2))
    core._applied_log.append(f"{HALL}:case:C1:1")
    with pytest.raises(JournalAssertionError, match="applied more than once"):
        mock_province.journal.assert_no_duplicate_applied()


def test_catalog_equals(mock_province: MockProvince) -> None:
    with mock_province.client() as http:
        http.post(
            "/v1/catalog/items:batch",
            json={"items": [item(1), item(2)]},
            headers={"authorization": f"Bearer {mock_province.issue_token()}"},
        )
    mock_province.journal.assert_catalog_equals([item(2), parse_item(item(1))])
    with pytest.raises(JournalAssertionError) as info:
        mock_province.journal.assert_catalog_equals([item(1, name="改名"), item(3)])
    message = str(info.value)
    assert "1 missing" in message
    assert "1 extra" in message
    assert "1 different" in message


def test_entries_are_compact_unless_bodies_are_captured(mock_province: MockProvince) -> None:
    push(mock_province, [event()])
    assert mock_province.journal.entries[-1].body is None
    mock_province.journal.capture_bodies = True
    push(mock_province, [event("C2")])
    entry = mock_province.journal.entries[-1]
    assert entry.body is not None
    assert b'"C2"' in entry.body
    assert entry.to_dict()["outcomes"] == "A"
    assert [o.value for o in entry.outcome_list()] == ["applied"]
    assert mock_province.journal.to_list(since=entry.index)[0]["body"].startswith("{")
