"""The async dispatcher: claims, sends, settles — concurrent across cases, ordered within each.

One dispatch::

    DB thread:  claim head entries (lease) → adapter.encode → journal "send"   (one transaction)
    event loop: PlatformCaller.call: rate limit → breaker / hold → adapter.send → adapter.decode
                (inner loop: tenacity on the injected clock, budgeted, 401 → refresh once)
    DB thread:  acknowledge / reschedule (persisted backoff) / park → journal "ack"|"fail"

All store work runs on one dedicated thread (SQLite releases the GIL while it works, so the
next batch's claim overlaps the current batch's HTTP round trip); ``concurrency`` workers keep
that many requests in flight. Every decision — which outcome means what, how long to wait, when
the breaker opens — is made by the pure objects of :mod:`govlink.sync._policy` and the adapter's
pure ``encode``/``decode``.

Graceful shutdown: :meth:`Dispatcher.stop` (wired to SIGTERM/SIGINT by the CLI) lets in-flight
requests finish and settle; nothing new is claimed. A crash instead leaves leases that expire.

A refusal retrying cannot fix (:class:`~govlink.sync.PlatformRefused`: credentials refused after
the one refresh, a refused signature, an endpoint the platform does not have) stops the run the
same way and :meth:`Dispatcher.run` raises it: the refused batch's claims are released (the
entries stay pending, in order, nothing parked), so the next run resends them once fixed.

One cohesive concept, hence one module despite its length: the dispatcher loop (claim, send,
settle, wake, retain).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from .._clock import Clock
from .._errors import ConfigError, StoreError, ValidationError
from ..metrics import SyncRecorder
from ..store import WAKE_CHANNEL
from ._adapter import CASE_EVENT, Delivery, ItemResult, Outcome, ProvinceAdapter, WireRequest
from ._adapter import batch_limit as _batch_limit
from ._caller import CallAnswer, EndpointGuard, PlatformCaller, SyncCounters
from ._errors import PlatformError, PlatformRefused
from ._journal import JournalRecord, append_journal
from ._masking import mask_text
from ._outbox import Claim, LaneFailure, Outbox, keys_digest
from ._policy import BreakerState, CircuitBreaker, FairShare, RetryBudget, RetryPolicy

__all__ = ["Dispatcher"]

log = logging.getLogger("govlink.sync")
_T = TypeVar("_T")


class Dispatcher:
    """Deliver the outbox to a province through ``adapter``.

    ``kinds``: entry kinds to carry (case events by default). ``concurrency``: requests in
    flight. ``batch_size``: at most the adapter's limit. ``rate_limit``: requests per second
    (default: the adapter's ``requests_per_second``). ``hall_weights``: fair-share weights for
    draining a backlog across halls. ``breaker``/``budget``: factories per endpoint (for
    tuning and tests). ``on_progress(acknowledged_now)`` is called after each settled batch.
    ``wake``: idle workers wake when the store signals new work (PostgreSQL ``LISTEN``, SQLite
    ``data_version``) instead of waiting for the next ``poll_interval``. ``linger``: seconds a
    woken worker waits before claiming, to gather a burst into one batch (0: a lone event goes
    at once). ``store_outage_seconds``: how long workers keep retrying an unreachable store
    (a PostgreSQL restart) before :meth:`run` raises its error. ``retain_every``: seconds
    between retention runs (:meth:`Outbox.retain`, archiving into ``archive_dir`` when given),
    the first one ``retain_every`` after the start; ``None``: never. ``metrics``: told what
    happens (entries sent, acknowledged, retried, parked; each request's latency and outcome;
    breaker and budget), e.g. a :class:`govlink.metrics.SyncMetrics`; the default
    :class:`~govlink.metrics.SyncRecorder` does nothing.

    Every request goes through :attr:`caller` (a :class:`~govlink.sync.PlatformCaller`); pass
    the same caller to :meth:`govlink.sync.CatalogSync.reconcile` to share its breaker, budget
    and rate limit.

    Raises:
        ConfigError: ``batch_size``, ``concurrency`` or ``rate_limit`` not a positive number.

    :meth:`run` raises :class:`govlink.sync.PlatformRefused` when the platform refuses for a
    reason retrying cannot fix (after the in-flight batches settled), :class:`govlink.StoreError`
    when the store fails, and programmer errors; other platform failures are retried or parked,
    never raised.
    """

    def __init__(
        self,
        outbox: Outbox,
        adapter: ProvinceAdapter,
        *,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        kinds: Sequence[str] = (CASE_EVENT,),
        concurrency: int = 4,
        batch_size: int | None = None,
        rate_limit: float | None = None,
        hall_weights: Mapping[str, float] | None = None,
        breaker: Callable[[Clock], CircuitBreaker] | None = None,
        budget: Callable[[Clock], RetryBudget] | None = None,
        rng: random.Random | None = None,
        poll_interval: float = 0.5,
        on_progress: Callable[[int], None] | None = None,
        wake: bool = True,
        linger: float = 0.0,
        store_outage_seconds: float = 300.0,
        retain_every: float | None = None,
        archive_dir: Path | None = None,
        metrics: SyncRecorder | None = None,
    ) -> None:
        _check_positive("concurrency", concurrency, whole=True)
        if batch_size is not None:
            _check_positive("batch_size", batch_size, whole=True)
        if rate_limit is not None:
            _check_positive("rate_limit", rate_limit, whole=False)
        self.outbox = outbox
        self.adapter = adapter
        self.clock = clock or outbox.clock
        self.policy = policy or RetryPolicy()
        self.kinds = tuple(kinds)
        self.concurrency = concurrency
        self.batch_size = batch_size
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.fair = FairShare(hall_weights)
        self.poll_interval = poll_interval
        self.wake = wake
        self.linger = linger
        self.store_outage_seconds = store_outage_seconds
        self.retain_every = retain_every
        self.archive_dir = archive_dir
        self.on_progress = on_progress
        self.counters = SyncCounters()
        self.metrics = metrics if metrics is not None else SyncRecorder()
        #: The short-retry driver every request of this dispatcher goes through.
        self.caller = PlatformCaller(
            adapter,
            clock=self.clock,
            policy=self.policy,
            rate_limit=rate_limit,
            breaker=breaker,
            budget=budget,
            rng=self.rng,
            counters=self.counters,
            metrics=self.metrics,
        )
        #: The refusal that ended the run (``None`` while none happened).
        self.fatal: PlatformRefused | None = None
        self._stopping = asyncio.Event()
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govlink-outbox")
        self._in_flight = 0  # workers claiming or sending
        self._sending = 0  # workers with a batch on the wire (a settlement will follow)
        # Set whenever a batch is settled: an idle worker wakes at once when a lane it could
        # not claim (leased by another worker) becomes ready, instead of polling.
        self._settled = asyncio.Event()
        # Replaced (and the old one set) whenever the store signals new work: idle workers
        # wake at once instead of at the next poll.
        self._arrived = asyncio.Event()

    # --- plumbing -----------------------------------------------------------------------

    def endpoint_state(self, name: str) -> EndpointGuard:
        """The breaker and budget of one endpoint (created on first use)."""
        return self.caller.guard(name)

    async def _db_call(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, lambda: fn(*args, **kwargs))

    def stop(self) -> None:
        """Ask :meth:`run` to finish in-flight work and return (safe from signal handlers)."""
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        # Sleep on the injected clock, but wake early when asked to stop.
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        sleeper = asyncio.ensure_future(self.clock.asleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                if not task.done():
                    task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    # --- the loop -----------------------------------------------------------------------

    async def run(self, *, until_empty: bool = False) -> SyncCounters:
        """Dispatch until :meth:`stop` — or, with ``until_empty``, until no lane is due or
        scheduled any more (parked cases do not count; leases and backoffs are waited out).

        If one worker fails, the others stop claiming and finish (and settle) what they hold
        before the error is raised: nothing is left leased until its lease runs out."""
        loop = asyncio.get_running_loop()
        watcher = self._start_watcher(loop) if self.wake else None
        workers = [
            asyncio.create_task(self._worker(kind, until_empty), name=f"sync-{kind}-{i}")
            for kind in self.kinds
            for i in range(self.concurrency)
        ]
        retention = (
            asyncio.create_task(self._retention(self.retain_every), name="sync-retention")
            if self.retain_every
            else None
        )
        try:
            try:
                await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                self._stopping.set()
                await asyncio.gather(*workers, return_exceptions=True)
            for task in workers:
                if not task.cancelled() and task.exception() is not None:
                    raise cast(BaseException, task.exception())
        finally:
            if retention is not None:
                retention.cancel()
                await asyncio.gather(retention, return_exceptions=True)
            if watcher is not None:
                await loop.run_in_executor(None, watcher)
            self._db.shutdown(wait=True)
        log.info("sync run finished", extra={"govlink": self.counters.to_dict()})
        if self.fatal is not None:
            raise self.fatal
        return self.counters

    async def _retention(self, every: float) -> None:
        """Archive and purge on a schedule, off the store thread (claims go on meanwhile);
        a failed run is logged and tried again at the next turn."""
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            await self._pause(every)
            if self._stopping.is_set():
                return
            try:
                report = await loop.run_in_executor(None, self.outbox.retain, self.archive_dir)
            except (StoreError, OSError) as exc:
                log.warning(
                    "retention run failed; trying again later",
                    extra={"govlink": {"error": mask_text(str(exc))[:300]}},
                )
                continue
            self.counters.purged += report.entries
            log.info("retention run", extra={"govlink": report.to_dict()})

    def _start_watcher(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        """A thread that turns the store's change signal (PostgreSQL NOTIFY, SQLite
        ``data_version``) into a wake-up of the idle workers; returns its stopper."""
        try:
            listener = self.outbox.store.listen(WAKE_CHANNEL)
        except StoreError as exc:
            log.warning(
                "no change listener; idle workers poll",
                extra={"govlink": {"error": str(exc)}},
            )
            return lambda: None
        done = threading.Event()

        def watch() -> None:
            try:
                while not done.is_set():
                    if listener.wait(0.2) and not done.is_set():
                        loop.call_soon_threadsafe(self._wake_idle)
            finally:
                listener.close()

        thread = threading.Thread(target=watch, name="govlink-outbox-watch", daemon=True)
        thread.start()

        def stop() -> None:
            done.set()
            thread.join()

        return stop

    def _wake_idle(self) -> None:
        # A fresh event per signal: a worker waits on the one it saw before its last look at
        # the store, so a signal that came in between is never missed (no clear() race).
        event, self._arrived = self._arrived, asyncio.Event()
        event.set()

    async def _idle(self, seconds: float, arrived: asyncio.Event, *also: asyncio.Event) -> None:
        """Wait ``seconds`` on the injected clock, or less: until work arrives (``arrived``),
        a listed event, or :meth:`stop`."""
        sleeper = asyncio.ensure_future(self.clock.asleep(max(seconds, 0.0)))
        others = [asyncio.ensure_future(e.wait()) for e in (self._stopping, arrived, *also)]
        try:
            await asyncio.wait({sleeper, *others}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, *others):
                if not task.done():
                    task.cancel()
            await asyncio.gather(sleeper, *others, return_exceptions=True)

    async def _claim_guarded(
        self, kind: str, endpoint: str, size: int, carried: list[Delivery]
    ) -> tuple[Claim, WireRequest, int] | None:
        """Claim on the store thread. If this task is cancelled meanwhile, the claim still
        commits there: wait for it and give its lanes back before re-raising."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self._db, lambda: self._claim_and_record(kind, endpoint, size, carried)
        )
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                prepared = await future
                held = prepared[0].deliveries if prepared is not None else carried
                await self._release_quietly(held)
            raise

    async def _release_quietly(self, deliveries: Sequence[Delivery]) -> None:
        """Give leased lanes back (due now) after a failure; if the store is failing too,
        their leases run out instead."""
        if not deliveries:
            return
        try:
            await self._db_call(self.outbox.release_kept, deliveries)
        except Exception as exc:
            log.warning(
                "could not release leased lanes; they are due again when the lease ends",
                extra={"govlink": {"count": len(deliveries), "error": mask_text(str(exc))}},
            )

    async def _worker(self, kind: str, until_empty: bool) -> None:
        endpoint = self.adapter.endpoint(kind)
        state = self.endpoint_state(endpoint)
        limit = self.batch_size or _batch_limit(self.adapter, kind)
        limit = min(limit, _batch_limit(self.adapter, kind))
        # Lanes acknowledged by this worker whose next entry it keeps leased (see
        # Outbox.settle(keep=True)): sent in the next batch without a new claim.
        carry: list[Delivery] = []
        outage_since: float | None = None
        try:
            while not self._stopping.is_set():
                admit = state.breaker.admit()
                if admit == 0:
                    await self._pause(max(state.breaker.wait_time(), 0.01))
                    continue
                size = limit if admit is None else min(limit, admit)
                if admit is not None:
                    self.counters.probes += 1
                arrived = self._arrived  # before looking: a later arrival sets this one
                self._in_flight += 1
                try:
                    batch, carry = carry[:size], carry[size:]
                    try:
                        prepared = await self._claim_guarded(kind, endpoint, size, batch)
                    except StoreError as exc:
                        # The store is unreachable (restart, failover): keep the carried lanes
                        # (still leased to us) and try again shortly, for a bounded outage.
                        carry = batch + carry
                        outage_since = await self._store_outage(exc, outage_since)
                        continue
                    outage_since = None
                    if prepared is None:
                        if admit is not None:
                            state.breaker.release_probe()
                    else:
                        self._sending += 1
                        try:
                            carry += await self._dispatch(kind, endpoint, state, *prepared)
                        except BaseException as exc:
                            # This batch was claimed but not settled: give it back now.
                            await self._release_quietly(prepared[0].deliveries)
                            if not isinstance(exc, StoreError):
                                raise
                            outage_since = await self._store_outage(exc, outage_since)
                            continue
                        finally:
                            self._sending -= 1
                        continue
                finally:
                    self._in_flight -= 1
                    if self._in_flight == 0:
                        self._settled.set()  # idle workers re-check now, not at the poll
                # Nothing to claim now.
                if self._sending > 0:
                    # Other workers' batches are on the wire: their settlements make lanes
                    # ready again (wait for that, not for the clock: with a virtual clock,
                    # sleeping here would move time under the batches in flight). New work
                    # arriving wakes this worker too.
                    self._settled.clear()
                    settled = asyncio.ensure_future(self._settled.wait())
                    woken = asyncio.ensure_future(arrived.wait())
                    try:
                        await asyncio.wait(
                            {settled, woken},
                            timeout=self.poll_interval,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        for task in (settled, woken):
                            task.cancel()
                        await asyncio.gather(settled, woken, return_exceptions=True)
                    continue
                try:
                    due, wake = await self._db_call(self.outbox.pending_work, kind)
                except StoreError as exc:
                    outage_since = await self._store_outage(exc, outage_since)
                    continue
                now = self.clock.time()
                if until_empty and not due and wake is None and self._in_flight == 0:
                    return
                # Due now but not claimed (held by another worker's claim in progress, or it
                # became due after the claim): look again very soon, without spinning.
                delay = self.poll_interval if wake is None else min(self.poll_interval, wake - now)
                if due:
                    delay = min(delay, 0.005)
                await self._idle(max(delay, 0.001), arrived)
                if arrived.is_set() and self.linger > 0:
                    # Woken by new work: let a burst gather into one batch (configurable).
                    await self._pause(self.linger)
        finally:
            if carry:
                await self._release_quietly(carry)

    async def _store_outage(self, exc: StoreError, since: float | None) -> float:
        """Back off after a store failure; raise it once the outage outlasts
        ``store_outage_seconds``. Returns when the outage began (monotonic)."""
        now = self.clock.monotonic()
        since = now if since is None else since
        if now - since > self.store_outage_seconds:
            raise exc
        log.warning(
            "store unavailable; retrying",
            extra={"govlink": {"error": mask_text(str(exc))[:300]}},
        )
        await self._pause(min(1.0, 0.1 + (now - since) / 10))
        return since

    # --- one batch ----------------------------------------------------------------------

    def _claim_and_record(
        self, kind: str, endpoint: str, size: int, carried: Sequence[Delivery] = ()
    ) -> tuple[Claim, WireRequest, int] | None:
        """DB thread: claim (after the carried deliveries), encode (isolating unencodable
        entries), journal the send."""
        with self.outbox.store.transaction() as conn:
            claim = self.outbox.claim(kind, size - len(carried), fair=self.fair, conn=conn)
            if carried:
                claim = Claim(claim.token, (*carried, *claim.deliveries), claim.lease_until)
            if not claim.deliveries:
                return None
            deliveries = list(claim.deliveries)
            bad: list[LaneFailure] = []
            try:
                request = self.adapter.encode(kind, deliveries)
            except ValidationError:
                good = []
                for d in deliveries:
                    try:
                        self.adapter.encode(kind, [d])
                        good.append(d)
                    except ValidationError as exc:
                        bad.append(LaneFailure(d, f"unencodable: {exc.message}"))
                if bad:
                    self.outbox.settle((), bad, conn=conn)
                    self.counters.parked += len(bad)
                    self.metrics.parked(endpoint, len(bad))
                if not good:
                    return None
                deliveries = good
                request = self.adapter.encode(kind, deliveries)
                claim = Claim(claim.token, tuple(deliveries), claim.lease_until)
            keys = [d.idempotency_key for d in deliveries]
            numbers = append_journal(
                conn,
                self.clock.time(),
                [
                    JournalRecord(
                        "send",
                        endpoint,
                        len(keys),
                        hashlib.sha256(request.content).hexdigest(),
                        {"keys": keys, "attempt": max(d.attempt for d in deliveries)},
                    )
                ],
            )
            return claim, request, numbers[0]

    async def _dispatch(
        self,
        kind: str,
        endpoint: str,
        state: EndpointGuard,
        claim: Claim,
        request: WireRequest,
        send_record: int,
    ) -> list[Delivery]:
        """Send one batch and settle it; returns the next entries of acknowledged lanes."""
        deliveries = claim.deliveries
        self.counters.sent += len(deliveries)
        self.metrics.sent(endpoint, len(deliveries))
        try:
            answer: CallAnswer[Sequence[ItemResult]] = await self.caller.call(
                request, lambda response: self.adapter.decode(kind, deliveries, response)
            )
        except PlatformRefused as exc:
            await self._give_back(endpoint, claim, send_record, exc)
            return []
        except PlatformError as exc:
            return await self._settle_failure(
                kind, endpoint, state, claim, request, send_record, exc
            )
        response = answer.response
        return await self._settle_results(
            endpoint,
            deliveries,
            answer.value,
            send_record,
            response.status,
            hashlib.sha256(response.content).hexdigest(),
        )

    async def _give_back(
        self, endpoint: str, claim: Claim, send_record: int, exc: PlatformRefused
    ) -> None:
        """A refusal retrying cannot fix: journal it, release the claim, stop the run."""
        fail = JournalRecord(
            "fail",
            endpoint,
            len(claim.deliveries),
            keys_digest([]),
            {
                "send": send_record,
                "status": exc.status,
                "reason": exc.reason,
                "message": mask_text(exc.message)[:300],
            },
        )
        await self._db_call(self.outbox.journal, [fail])
        await self._db_call(self.outbox.release, claim)
        self._settled.set()
        if self.fatal is None:
            self.fatal = exc
            # Info, not error: the caller reports the raised error itself (the CLI prints it
            # as its one line), and logging's last resort would print it a second time.
            log.info(
                "sync run stopped: %s",
                mask_text(exc.message),
                extra={"govlink": {"endpoint": endpoint, "reason": exc.reason}},
            )
        self.stop()

    async def _settle_results(
        self,
        endpoint: str,
        deliveries: Sequence[Delivery],
        results: Sequence[ItemResult],
        send_record: int,
        status: int,
        body_digest: str,
    ) -> list[Delivery]:
        by_key = {r.idempotency_key: r for r in results}
        now = self.clock.time()
        acked: list[Delivery] = []
        failures: list[LaneFailure] = []
        not_acked: dict[str, str] = {}
        applied = duplicates = 0
        for d in deliveries:
            r = by_key.get(d.idempotency_key)
            if r is None:
                r = ItemResult(d.idempotency_key, Outcome.RETRY, code="no_result")
            if r.outcome is Outcome.APPLIED:
                applied += 1
                acked.append(d)
            elif r.outcome is Outcome.DUPLICATE:
                duplicates += 1
                acked.append(d)
            elif r.outcome is Outcome.RETRY:
                delay = self.policy.outer_delay(d.attempt + 1, r.retry_after, self.rng)
                error = f"{r.code or 'retry'}: {r.message}".strip()
                failures.append(LaneFailure(d, error, now + delay))
                not_acked[d.idempotency_key] = f"retry:{r.code or ''}"
            else:
                error = f"{r.code or 'rejected'}: {r.message}".strip()
                if r.field:
                    error = f"{r.field}: {error}"
                failures.append(LaneFailure(d, error, None))
                not_acked[d.idempotency_key] = f"rejected:{r.code or ''}"
                log.warning(
                    "case parked",
                    extra={"govlink": {"key": d.idempotency_key, "error": mask_text(error)}},
                )
        record = JournalRecord(
            "ack",
            endpoint,
            len(deliveries),
            body_digest,
            {
                "send": send_record,
                "status": status,
                "applied": applied,
                "duplicate": duplicates,
                "not_acknowledged": not_acked,
            },
        )
        kept = await self._db_call(
            self.outbox.settle, acked, failures, journal=[record], keep=not self._stopping.is_set()
        )
        self._settled.set()
        c = self.counters
        c.acknowledged += len(acked)
        c.applied += applied
        c.duplicates += duplicates
        retried = sum(1 for f in failures if f.retry_at is not None)
        c.retried += retried
        c.parked += len(failures) - retried
        recorder = self.metrics
        recorder.acknowledged(endpoint, applied=applied, duplicates=duplicates)
        if failures:
            recorder.retried(endpoint, retried)
            recorder.parked(endpoint, len(failures) - retried)
        c.by_endpoint[endpoint] = c.by_endpoint.get(endpoint, 0) + len(acked)
        if self.on_progress is not None and acked:
            self.on_progress(len(acked))
        return kept

    async def _settle_failure(
        self,
        kind: str,
        endpoint: str,
        state: EndpointGuard,
        claim: Claim,
        request: WireRequest,
        send_record: int,
        exc: PlatformError,
    ) -> list[Delivery]:
        deliveries = claim.deliveries
        now = self.clock.time()
        detail = {
            "send": send_record,
            "status": exc.status,
            "reason": exc.reason,
            "message": mask_text(exc.message)[:300],
        }
        fail = JournalRecord("fail", endpoint, len(deliveries), keys_digest([]), detail)
        if exc.retryable:
            # The whole endpoint failed: the breaker paces the platform from here, so a lane
            # waits no longer than the breaker's cooldown and is due when its probe succeeds.
            ceiling = state.breaker.max_cooldown
            failures = [
                LaneFailure(
                    d,
                    mask_text(exc.message),
                    now
                    + self.policy.outer_delay(
                        d.attempt + 1, exc.retry_after, self.rng, ceiling=ceiling
                    ),
                )
                for d in deliveries
            ]
            await self._db_call(self.outbox.settle, (), failures, journal=[fail])
            self._settled.set()
            self.counters.retried += len(failures)
            self.metrics.retried(endpoint, len(failures))
            if state.breaker.state is not BreakerState.CLOSED or exc.retry_after:
                # Visible without --log-json (logging's last resort prints warnings): an
                # outage or a platform asking to wait is never a silent loop.
                log.warning(
                    "platform failing (%s): %d entr%s rescheduled; %s",
                    exc.reason,
                    len(deliveries),
                    "y" if len(deliveries) == 1 else "ies",
                    mask_text(exc.message)[:200],
                    extra={"govlink": {"endpoint": endpoint, "reason": exc.reason}},
                )
            log.info(
                "batch rescheduled",
                extra={
                    "govlink": {
                        "endpoint": endpoint,
                        "count": len(deliveries),
                        "reason": exc.reason,
                    }
                },
            )
            return []
        # A non-retryable refusal of the whole request: poison somewhere in it. Isolate it by
        # halving; a single entry refused on its own is parked.
        if len(deliveries) == 1:
            await self._db_call(
                self.outbox.settle, (), [LaneFailure(deliveries[0], exc.message)], journal=[fail]
            )
            self.counters.parked += 1
            self.metrics.parked(endpoint, 1)
            return []
        await self._db_call(self.outbox.journal, [fail])
        middle = len(deliveries) // 2
        kept: list[Delivery] = []
        for part in (deliveries[:middle], deliveries[middle:]):
            sub = Claim(claim.token, tuple(part), claim.lease_until)
            sub_request = self.adapter.encode(kind, list(part))
            keys = [d.idempotency_key for d in part]
            numbers = await self._db_call(self._journal_send, endpoint, sub_request, keys)
            kept += await self._dispatch(kind, endpoint, state, sub, sub_request, numbers)
        return kept

    def _journal_send(self, endpoint: str, request: WireRequest, keys: list[str]) -> int:
        with self.outbox.store.transaction() as conn:
            return append_journal(
                conn,
                self.clock.time(),
                [
                    JournalRecord(
                        "send",
                        endpoint,
                        len(keys),
                        hashlib.sha256(request.content).hexdigest(),
                        {"keys": keys, "isolating": True},
                    )
                ],
            )[0]


def _check_positive(name: str, value: float, *, whole: bool) -> None:
    # Refused up front: a batch size of -1 used to claim nothing and loop forever.
    kind = "whole number" if whole else "number"
    if isinstance(value, bool) or (whole and not isinstance(value, int)):
        raise ConfigError(f"{name} {value!r}: must be a positive {kind}")
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} {value!r}: must be a positive {kind}")
