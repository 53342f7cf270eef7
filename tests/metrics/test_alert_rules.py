"""deploy/prometheus/govlink-alerts.yml: well-formed, only metrics govlink exposes, and every
alert has its section in the runbook (docs/operations.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest

from govlink import VirtualClock, metrics
from govlink.store import Store
from govlink.sync import CASE_EVENT, CircuitBreaker, NewEntry, Outbox, RetryBudget

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "govlink-alerts.yml"
RUNBOOK = ROOT / "docs" / "operations.md"


@pytest.fixture(scope="module")
def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def _exposed_names(store: Store) -> set[str]:
    clock = VirtualClock()
    outbox = Outbox(store, clock=clock)
    outbox.enqueue([NewEntry("370500", CASE_EVENT, "C1", 1, '{"case_number": "C1"}')])
    sync = metrics.SyncMetrics(outbox=outbox)
    sync.enqueued(1, hall="370500")
    sync.sent("cases", 1)
    sync.acknowledged("cases", applied=1)
    sync.retried("cases", 1)
    sync.parked("cases", 1)
    sync.endpoint_health("cases", CircuitBreaker(clock), RetryBudget(clock))
    with sync.request("cases") as obs:
        obs.set_status(200)
    identity = metrics.IdentityMetrics()
    identity.token_request("client_credentials", "invalid_client", 0.01)
    identity.jwks_fetch("error")
    identity.jwks_served()
    text = (generate_latest(sync.registry) + generate_latest(identity.registry)).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def test_rules_are_complete(rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for wanted in (
        "GovlinkOutboxLagHigh",
        "GovlinkParkedCases",
        "GovlinkBreakerOpen",
        "GovlinkTokenEndpointErrors",
    ):
        assert wanted in names
    for rule in rules:
        assert rule["expr"].strip()
        assert rule["labels"]["severity"] in {"page", "ticket", "info"}
        assert rule["annotations"]["summary"]


def test_rules_use_only_exposed_metrics(rules: list[dict[str, Any]], sqlite_store: Store) -> None:
    exposed = _exposed_names(sqlite_store)
    for rule in rules:
        for name in re.findall(r"\bgovlink_[a-z_]+", rule["expr"]):
            assert name in exposed, (rule["alert"], name)


def test_every_alert_has_a_runbook_section(rules: list[dict[str, Any]]) -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    for rule in rules:
        path, anchor = rule["annotations"]["runbook"].split("#")
        assert path == "docs/operations.md"
        assert anchor in headings, rule["alert"]
        assert anchor == f"alert-{rule['alert'].lower()}"


def test_the_runbook_documents_every_metric(sqlite_store: Store) -> None:
    documented = set(re.findall(r"^\| `(govlink_[a-z_]+)`", RUNBOOK.read_text("utf-8"), re.M))
    exposed = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for name in _exposed_names(sqlite_store)
        if not name.endswith("_created")
    }
    assert documented == exposed
