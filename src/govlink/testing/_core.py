"""The mock province in pure code: one request pipeline in front of its faces.

:class:`ProvinceCore` answers one HTTP request at a time with a
:class:`~govlink.testing._messages.CoreResponse`. A platform request (anything but
``/admin/...`` and the OpenAPI documents) is counted, checked against the fault plan, refused
when its body is over the size limit, handed to the face (front end) that owns its path, and
journaled. The core does no I/O and never sleeps: latency, slow bodies and dropped connections
are described in the response and carried out by the transport (Starlette app, httpx transport,
respx route).

The pieces, one concern each: the platform's state and rules (``_platform``), access (token
endpoint, bearer check, quota: ``_access``), one face per provincial API (``_reference_face``,
``_gateway_face``; the protocol is ``_face``), the admin endpoints (``_admin``), the journal
(``_journal``), fault plans (``_faults``) and the configuration (``_config``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

from .._clock import Clock, system_clock
from .._errors import ConfigError
from ._access import Access, Quota
from ._admin import answer_admin
from ._config import ProvinceConfig
from ._face import FAILURE_STATUS, FaceContext, FaceFactory, Failure, ProvinceFace, Reply
from ._faults import Decision, FaultPlan
from ._gateway_face import GatewayFace
from ._identity_face import identity_face
from ._journal import OUTCOME_CHARS, Journal, JournalEntry
from ._messages import CoreResponse, ProvinceRequest, error_response
from ._platform import PartialFailure, Platform
from ._reference_face import ReferenceFace

# CoreResponse lived here before the split; faces written against that keep importing it.
__all__ = ["BUILTIN_FACES", "CoreResponse", "ProvinceConfig", "ProvinceCore", "openapi_documents"]

#: The faces ``ProvinceConfig.apis`` (and ``govlink mock-province serve --adapter``) can name.
#: Adding a provincial API to the mock is one face module and one entry here.
BUILTIN_FACES: Final[dict[str, FaceFactory]] = {
    "reference": ReferenceFace,
    "gateway": GatewayFace,
    "identity": identity_face(),
}
#: Where each face's OpenAPI document is served (``/openapi.json``: the first face's).
OPENAPI_PREFIX: Final = "/openapi/"


def _plain_failure(failure: Failure, message: str, retry_after: int | None = None) -> CoreResponse:
    """A failure outside every face (unknown path, admin, documents): the mock's envelope."""
    response = error_response(FAILURE_STATUS[failure], failure.value, message)
    if retry_after is not None:
        response.headers.append(("retry-after", str(retry_after)))
    return response


class ProvinceCore:
    """The mock province's request pipeline over its state, faces, journal and faults.

    Thread-safe: one lock around each request. ``clock`` drives token lifetimes, the quota,
    fault windows and journal times. ``faces`` mounts these faces (factories such as
    ``ReferenceFace``, in routing order) instead of the ones ``config.apis`` names.

    Raises:
        ConfigError: ``config.apis`` names a face that does not exist.
    """

    def __init__(
        self,
        config: ProvinceConfig | None = None,
        *,
        clock: Clock = system_clock,
        faults: FaultPlan | None = None,
        faces: Sequence[FaceFactory] | None = None,
    ) -> None:
        self.config = config = config or ProvinceConfig()
        self.clock = clock
        self._lock = threading.RLock()
        self.platform = Platform(check_items=config.check_items)
        self.access = Access(config.clients, config.token_lifetime, clock)
        self.quota = Quota(config.rate_limit, config.burst, clock)
        self.journal = Journal(self, capture_bodies=config.capture_bodies)
        self._requests = 0
        if faces is None:
            unknown = [name for name in config.apis if name not in BUILTIN_FACES]
            if unknown:
                raise ConfigError(
                    f"unknown mock province API {unknown[0]!r}; known: {', '.join(BUILTIN_FACES)}"
                )
            faces = [BUILTIN_FACES[name] for name in config.apis]
        context = FaceContext(self.platform, self.access, self.quota, config, clock)
        self.faces: list[ProvinceFace] = [factory(context) for factory in faces]
        self.set_faults(faults or FaultPlan())

    # --- state ----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget items, cases, applied keys and the journal; restart the fault plan.

        Issued tokens stay valid (clients keep working across a reset).
        """
        with self._lock:
            self.platform.reset()
            self._requests = 0
            self.journal.clear()
            self.faults.reseed()
            self._plan_origin = (0, self.clock.time())

    def set_faults(self, plan: FaultPlan) -> None:
        """Install a fault plan; its windows count from now (time and request number)."""
        with self._lock:
            self.faults = plan
            self._plan_origin = (self._requests, self.clock.time())

    def applied_event_log(self) -> list[str]:
        """Idempotency keys of applied events, in the order they were applied."""
        with self._lock:
            return self.platform.applied_event_log()

    def applied_event_slots(self) -> list[tuple[str, int]]:
        """(case number, sequence) of each applied event, in apply order."""
        with self._lock:
            return self.platform.applied_event_slots()

    def catalog_hashes(self) -> dict[str, str]:
        """Implementation code → content hash of every stored item."""
        with self._lock:
            return self.platform.catalog_hashes()

    def catalog(self) -> list[dict[str, Any]]:
        """The stored items' canonical JSON, ordered by implementation code."""
        with self._lock:
            return self.platform.catalog()

    def case_status(self, case_number: str) -> tuple[int | None, int]:
        """(status code or ``None``, last sequence) of a case."""
        with self._lock:
            return self.platform.case_status(case_number)

    def state(self) -> dict[str, Any]:
        """A summary of what the platform holds (``GET /admin/state``)."""
        with self._lock:
            return {
                "items": self.platform.item_count,
                "cases": self.platform.case_count,
                "events_applied": self.platform.events_applied,
                "requests": self._requests,
                "journal_entries": len(self.journal),
                "outcomes": {s.value: n for s, n in self.journal.outcome_counts().items()},
                "faults_fired": dict(self.journal.faults()),
                "faults": self.faults.to_json(),
                "clock": self.clock.now().isoformat(),
                "limits": {
                    "max_event_batch": self.config.max_event_batch,
                    "max_catalog_batch": self.config.max_catalog_batch,
                    "max_body_bytes": self.config.max_body_bytes,
                    "rate_limit": self.config.rate_limit,
                    "burst": self.config.burst,
                    "token_lifetime": self.config.token_lifetime,
                },
            }

    def issue_token(self, client_id: str) -> str:
        """A bearer token for ``client_id`` without a request (not journaled).

        Raises:
            KeyError: ``client_id`` is not a configured client.
        """
        with self._lock:
            return self.access.issue_token(client_id)

    @staticmethod
    def is_platform_path(path: str) -> bool:
        """Whether a request to ``path`` is a platform request (counted, faulted, journaled)."""
        return not (
            path.startswith("/admin/") or path == "/openapi.json" or path.startswith(OPENAPI_PREFIX)
        )

    def refusing(self) -> bool:
        """Whether an ``outage:mode=refused`` window refuses a new platform connection now.

        A refused connection counts as a request attempt (it takes the next request number,
        without a journal entry), so a refusal window given by request count (``after``/``count``)
        closes after ``count`` refused attempts, as it does on the in-process transports.
        """
        with self._lock:
            origin_requests, origin_time = self._plan_origin
            refused = self.faults.refusing(
                self._requests - origin_requests + 1, self.clock.time() - origin_time
            )
            if refused:
                self._requests += 1
            return refused

    # --- entry point ----------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> CoreResponse:
        """Answer one HTTP request (``headers`` must be case-insensitive or lower-case).

        ``body`` is ``None`` when the transport stopped reading it over
        ``config.max_body_bytes``; such a request, like one with a longer body, is refused
        with 413.
        """
        oversized = body is None or len(body) > self.config.max_body_bytes
        request = ProvinceRequest(method.upper(), path, query, headers, body or b"")
        if path == "/openapi.json" or path.startswith(OPENAPI_PREFIX):
            return self._document(request)
        if path.startswith("/admin/"):
            if oversized:
                return _plain_failure(Failure.BODY_TOO_LARGE, self._too_large_message())
            with self._lock:
                return answer_admin(self, request)
        with self._lock:
            return self._platform_request(request, oversized)

    def _document(self, request: ProvinceRequest) -> CoreResponse:
        if request.method != "GET":
            response = _plain_failure(Failure.METHOD_NOT_ALLOWED, "use GET")
            response.headers.append(("allow", "GET"))
            return response
        wanted = request.path.removeprefix(OPENAPI_PREFIX).removesuffix(".json")
        for face in self.faces:
            if request.path == "/openapi.json" or face.name == wanted:
                document = face.openapi()
                if document is not None:
                    return CoreResponse(
                        200, document.encode("utf-8"), [("content-type", "application/json")]
                    )
        return _plain_failure(Failure.NOT_FOUND, f"no OpenAPI document at {request.path}")

    def _too_large_message(self) -> str:
        return f"the body is over {self.config.max_body_bytes} bytes"

    def _face_for(self, path: str) -> ProvinceFace | None:
        for face in self.faces:
            if face.owns(path):
                return face
        return None

    def _failure(
        self,
        face: ProvinceFace | None,
        failure: Failure,
        message: str,
        retry_after: int | None = None,
    ) -> CoreResponse:
        if face is None:
            return _plain_failure(failure, message, retry_after)
        return face.failure(failure, message, retry_after=retry_after)

    # --- platform requests ----------------------------------------------------------------------

    def _platform_request(self, request: ProvinceRequest, oversized: bool) -> CoreResponse:
        self._requests += 1
        index = self._requests
        now = self.clock.time()
        origin_requests, origin_time = self._plan_origin
        decision = (
            self.faults.decide(index - origin_requests, now - origin_time, request.path)
            if self.faults
            else Decision()
        )
        face = self._face_for(request.path)
        client = "-"
        outcomes = ""
        if decision.abort is not None:
            response = self._aborted(decision, face)
        else:
            try:
                if oversized:
                    raise Reply(
                        self._failure(face, Failure.BODY_TOO_LARGE, self._too_large_message())
                    )
                if face is None:
                    raise Reply(_plain_failure(Failure.NOT_FOUND, f"no endpoint {request.path}"))
                partial = (
                    PartialFailure(
                        decision.partial_rate,
                        decision.partial_retry_after,
                        self.faults.random.random,
                    )
                    if decision.partial_rate
                    else None
                )
                answer = face.handle(request, partial)
                response, client = answer.response, answer.client
                outcomes = "".join(map(OUTCOME_CHARS.__getitem__, answer.outcomes))
            except Reply as reply:
                response, client = reply.response, reply.client
            if "U" in outcomes:
                decision.labels.append("partial")
            if decision.after_apply == "lost_response":
                response = CoreResponse(0, drop="lost_response")
            elif decision.after_apply == "malformed_json" and response.body:
                response.body = response.body[: max(1, len(response.body) // 2)]
        # A face may slow its own answers (an identity platform's slow JWKS): faults add to it.
        response.latency += decision.latency
        if decision.dribble_bytes_per_s is not None:
            response.dribble_bytes_per_s = decision.dribble_bytes_per_s
        self.journal.entries.append(
            JournalEntry(
                index,
                now,
                request.method,
                request.path,
                response.status,
                decision.label,
                client,
                outcomes,
                request.body if self.journal.capture_bodies else None,
            )
        )
        return response

    def _aborted(self, decision: Decision, face: ProvinceFace | None) -> CoreResponse:
        kind = decision.abort
        if kind in ("refused", "reset"):
            return CoreResponse(0, drop=kind)
        if kind == "error500":
            return self._failure(face, Failure.INTERNAL_ERROR, "internal error (injected)")
        return self._failure(
            face,
            Failure.UNAVAILABLE,
            "the platform is unavailable (outage)",
            decision.retry_after,
        )


def openapi_documents() -> dict[str, str]:
    """Face name → OpenAPI document of every built-in face that has one (as committed under
    ``schemas/openapi-<name>.json`` and served at ``/openapi/<name>.json``)."""
    core = ProvinceCore(ProvinceConfig(apis=tuple(BUILTIN_FACES)))
    documents = {}
    for face in core.faces:
        document = face.openapi()
        if document is not None:
            documents[face.name] = document
    return documents
