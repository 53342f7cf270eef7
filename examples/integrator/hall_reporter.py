"""An integrator's own code: a hall system that reports case status to the provincial platform.

This is what a hall's developers might write without govlink's sync engine: plain httpx against
the reference API (OAuth2 client credentials, batches of status events, per-event results).
``test_hall_reporter.py`` tests it against govlink's mock province with the pytest plugin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

BATCH = 500  # the reference API's limit per request
RETRYABLE = {429, 500, 502, 503, 504}


class Refused(Exception):
    """The platform refused an event for good (invalid, out of order, illegal transition)."""

    def __init__(self, event: dict[str, Any], result: dict[str, Any]) -> None:
        super().__init__(f"case {event['case_number']} event {event['sequence']}: {result}")
        self.event = event
        self.result = result


@dataclass
class StatusReporter:
    """Sends case status events in order, retrying what the platform says may succeed later."""

    http: httpx.Client
    client_id: str
    client_secret: str
    attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    _token: str | None = field(default=None, repr=False)

    def _authorization(self) -> dict[str, str]:
        if self._token is None:
            response = self.http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.client_secret),
            )
            response.raise_for_status()
            self._token = response.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def _post(self, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.http.post(
                    "/v1/cases/events:batch",
                    json={"events": list(events)},
                    headers=self._authorization(),
                )
            except httpx.TransportError:
                if attempt == self.attempts:
                    raise
                self.sleep(0.1 * attempt)
                continue
            if response.status_code == 401:
                self._token = None  # expired: fetch a new one and resend
                continue
            if response.status_code in RETRYABLE and attempt < self.attempts:
                self.sleep(float(response.headers.get("retry-after", 0.1 * attempt)))
                continue
            response.raise_for_status()
            results: list[dict[str, Any]] = response.json()["results"]
            return results
        raise RuntimeError("no answer after every attempt")

    def report(self, events: Sequence[dict[str, Any]]) -> int:
        """Send ``events`` (already in per-case sequence order); returns how many were applied.

        Raises:
            Refused: the platform refused an event for good.
            httpx.HTTPError: the platform kept failing.
        """
        applied = 0
        pending = list(events)
        while pending:
            batch, pending = pending[:BATCH], pending[BATCH:]
            results = self._post(batch)
            again: list[dict[str, Any]] = []
            held: set[str] = set()  # cases with an event to resend in this batch
            for event, result in zip(batch, results, strict=True):
                case = event["case_number"]
                if case in held and result["status"] == "out_of_order":
                    # Its predecessor was not applied (unavailable): resend it after that one.
                    again.append(event)
                elif result["status"] in ("applied", "duplicate"):
                    applied += result["status"] == "applied"
                elif result["status"] == "unavailable":
                    again.append(event)
                    held.add(case)
                else:
                    raise Refused(event, result)
            if again:
                self.sleep(1.0)
                pending = again + pending
        return applied
