"""Adding a province's API to the mock is one face: mounted from a list, counted, faulted,
journaled and refused in its own envelope like the built-in ones (docs/mock-province.md)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass

import pytest

from govlink import VirtualClock
from govlink.adapters.reference import wire as ref
from govlink.testing import (
    BUILTIN_FACES,
    CoreResponse,
    FaceAnswer,
    FaceContext,
    Failure,
    MockProvince,
    PartialFailure,
    ProvinceConfig,
    ProvinceFace,
    ProvinceRequest,
    Reply,
    mounted,
    served_mock,
)


class TicketFace:
    """A made-up provincial API: ``GET /cas/ticket?name=...`` hands out a cookie pair."""

    name = "ticket"

    def __init__(self, context: FaceContext) -> None:
        self.clock = context.clock
        self.issued = 0

    def owns(self, path: str) -> bool:
        return path.startswith("/cas/")

    def handle(self, request: ProvinceRequest, partial: PartialFailure | None) -> FaceAnswer:
        if request.path != "/cas/ticket":
            raise Reply(self.failure(Failure.NOT_FOUND, "nothing here"))
        self.issued += 1
        body = json.dumps({"ok": True, "ticket": f"ST-{self.issued}"}).encode()
        headers = [("content-type", "application/json"), ("set-cookie", "a=1"),
                   ("set-cookie", "b=2")]  # fmt: skip
        slow = CoreResponse(200, body, headers, latency=0.25)  # the face's own slowness
        return FaceAnswer(slow, request.query.get("name", "-"))

    def failure(
        self, failure: Failure, message: str, *, retry_after: int | None = None
    ) -> CoreResponse:
        body = json.dumps({"ok": False, "why": failure.value, "text": message}).encode()
        return CoreResponse(418 if failure is Failure.NOT_FOUND else 503, body)

    def openapi(self) -> str | None:
        return None


def test_a_face_is_a_province_face() -> None:
    assert isinstance(TicketFace(_context()), ProvinceFace)


def _context() -> FaceContext:
    core = MockProvince().core
    return FaceContext(core.platform, core.access, core.quota, core.config, core.clock)


@pytest.mark.parametrize("served", [False, pytest.param(True, marks=pytest.mark.server)])
def test_one_more_face_in_the_list(served: bool) -> None:
    faces = [*BUILTIN_FACES.values(), TicketFace]
    province = MockProvince(clock=VirtualClock(), faces=faces)
    reach = served_mock(province) if served else nullcontext(province)
    with reach as place, place.client(timeout=10) as http:
        before = province.clock.time()
        province.set_faults("latency:ms=500")
        answer = http.get("/cas/ticket", params={"name": "hall-370502"})
        assert province.clock.time() - before == pytest.approx(0.75)  # the face's, plus the fault's
        province.set_faults(None)
        assert answer.json() == {"ok": True, "ticket": "ST-1"}
        assert answer.headers.get_list("set-cookie") == ["a=1", "b=2"]
        assert http.get("/cas/other").json()["why"] == "not_found"
        province.set_faults("outage:path=/cas/")
        assert http.get("/cas/ticket").json() == {
            "ok": False,
            "why": "unavailable",
            "text": "the platform is unavailable (outage)",
        }
        province.set_faults(None)
        # the built-in faces are still there
        token = province.issue_token()
        digest = http.get(ref.CATALOG_DIGEST_PATH, headers={"authorization": f"Bearer {token}"})
        assert digest.status_code == 200
    entries = province.journal.entries
    assert [(e.path, e.status, e.client, e.fault) for e in entries[:3]] == [
        ("/cas/ticket", 200, "hall-370502", "latency"),
        ("/cas/other", 418, "-", ""),
        ("/cas/ticket", 503, "-", "outage:503"),
    ]


def test_apis_selects_faces_by_name_and_refuses_unknown_ones() -> None:
    from govlink import ConfigError

    only = MockProvince(config=ProvinceConfig(apis=("gateway",)))
    assert [face.name for face in only.core.faces] == ["gateway"]
    with pytest.raises(ConfigError, match="unknown mock province API 'ldap'"):
        MockProvince(config=ProvinceConfig(apis=("reference", "ldap")))
    with_identity = MockProvince(config=ProvinceConfig(apis=("reference", "identity")))
    assert [face.name for face in with_identity.core.faces] == ["reference", "identity"]


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: list[tuple[str, str]]
    latency: float = 0.0


class _StandaloneIdentity:
    """Stands in for a face written as its own pure handler (the identity platform's shape)."""

    def __init__(self, clock: object) -> None:
        self.clock = clock
        self.seen: list[str] = []

    def handle(
        self, method: str, path: str, query: object, headers: object, body: bytes
    ) -> _Answer:
        self.seen.append(f"{method} {path}")
        return _Answer(200, b'{"keys": []}', [("content-type", "application/json")], latency=2.0)


def test_a_standalone_handler_is_mounted_by_one_entry() -> None:
    identity = mounted("identity", "/identity", lambda ctx: _StandaloneIdentity(ctx.clock))
    builtin = [factory for name, factory in BUILTIN_FACES.items() if name != "identity"]
    province = MockProvince(clock=VirtualClock(), faces=[*builtin, identity])
    face = province.core.faces[-1]
    assert (face.name, face.openapi()) == ("identity", None)
    with province.client() as http:
        before = province.clock.time()
        assert http.get("/identity/jwks").json() == {"keys": []}
        assert province.clock.time() - before == pytest.approx(2.0)  # its own slowness kept
        province.set_faults("outage:path=/identity,retry_after=5")
        down = http.get("/identity/jwks")
        assert (down.status_code, down.headers["retry-after"]) == (503, "5")
        assert down.json()["error"]["code"] == "unavailable"
    assert face.handler.seen == ["GET /jwks"]  # type: ignore[attr-defined]
    assert [e.status for e in province.journal.entries] == [200, 503]
