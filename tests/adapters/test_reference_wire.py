"""The reference API's wire models and helpers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError as PydanticValidationError

from govlink.adapters.reference import wire


def test_result_status_classification() -> None:
    acknowledged = {s for s in wire.ResultStatus if s.acknowledged}
    assert acknowledged == {wire.ResultStatus.APPLIED, wire.ResultStatus.DUPLICATE}
    assert {s for s in wire.ResultStatus if s.retryable} == {wire.ResultStatus.UNAVAILABLE}


def test_page_tokens_round_trip_and_refuse_garbage() -> None:
    token = wire.encode_page_token("11370500MB2856743W0001")
    assert wire.decode_page_token(token) == "11370500MB2856743W0001"
    with pytest.raises(ValueError, match="page_token"):
        wire.decode_page_token("!!!")


def test_requests_are_strict_and_responses_lenient() -> None:
    with pytest.raises(PydanticValidationError):
        wire.CaseEventsBatchRequest.model_validate({"events": [{}], "unexpected": 1})
    with pytest.raises(PydanticValidationError):
        wire.CaseEventsBatchRequest.model_validate({"events": []})
    response = wire.CaseEventsBatchResponse.model_validate(
        {"results": [{"index": 0, "status": "applied", "new_member": True}], "failed": 0}
    )
    assert response.results[0].status is wire.ResultStatus.APPLIED


def test_case_path() -> None:
    assert wire.case_path("C-1") == "/v1/cases/C-1"
