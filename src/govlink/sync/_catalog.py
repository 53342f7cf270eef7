"""Catalog sync (事项目录同步): incremental by content hash, reconciliation, state changes.

Catalog changes travel through the same durable outbox as case events (kind
:data:`~govlink.sync.CATALOG_ITEM`, one lane per implementation code 实施编码, the lane's
sequence counting the item's changes), so they get the same leases, retries, circuit breaker,
parking and evidence journal from the dispatcher. What this module adds is deciding *what* to
send, and knowing what the platform has acknowledged:

* **Incremental push** (:meth:`CatalogSync.push`): each item's content hash
  (:meth:`govlink.domain.Item.content_hash`) is compared with the hash of the last change
  enqueued for it; only new or changed items are enqueued. Each change is classified
  (:class:`govlink.domain.CatalogChange`): added 新增, adjusted 调整, and the state changes
  cancelled 取消, delegated down 下放, accepted from the province 承接, suspended 暂停, restored.
  A state change is pushed *as such*: the item goes up with its new state (never as a deletion)
  and the change kind is recorded and reported.
* **Progress only on acknowledgement**: the table ``catalog_change`` records every enqueued
  change (code, sequence, hash, kind); an item counts as acknowledged at a hash only when the
  outbox lane has moved past that change's sequence, which happens in the same transaction that
  records the platform's ``applied`` or ``duplicate`` answer. A lost response leaves the lane
  where it was; the resend is answered ``duplicate`` and only then does progress move.
* **Full reconciliation** (:meth:`CatalogSync.reconcile`), on demand or when
  :meth:`CatalogSync.reconcile_due` says the schedule has come round: the platform's digest
  (implementation code → content hash) is read page by page and compared with the local
  catalog. Items the platform lacks or holds differently are enqueued again (unless the same
  content is already on its way); items the platform (or an earlier push) knows but the local
  catalog no longer has are *reported* as gone locally — never deleted, since withdrawing an
  item from the catalog is a cancellation 取消 that must be pushed explicitly.

Tables (component ``catalog_sync``, next to the outbox's ``sync`` tables in the same store)::

    catalog_item    code (PK), hall, lane, last_seq, last_hash, state — the last change enqueued
    catalog_change  (lane, seq) -> code, hash, change kind, state, version, reason, enqueued_at
    catalog_meta    name (PK) -> value (the time of the last reconciliation)

The only thing read from the outbox is each lane's ``head_seq`` (the next sequence to deliver;
everything below it is acknowledged) and ``parked`` flag. An entry an operator skipped
(``govlink outbox skip``) also moves the head: it counts as passed here, and the next
reconciliation re-sends whatever the platform then lacks.

One cohesive concept, hence one module despite its length: incremental catalog sync (diff by
content hash, push, reconcile against the digest).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from .._clock import Clock
from ..domain import CatalogChange, Item, ItemState
from ..store import Connection, Migration, Schema
from ._adapter import CATALOG_ITEM, CatalogDigestEntry, CatalogDigestSource, ProvinceAdapter
from ._caller import PlatformCaller
from ._errors import SyncError
from ._outbox import EnqueueResult, NewEntry, Outbox, lane_name
from ._policy import RetryPolicy

__all__ = [
    "CATALOG_SCHEMA",
    "CatalogChangeRecord",
    "CatalogItemProgress",
    "CatalogPushReport",
    "CatalogSync",
    "ReconcileReport",
    "fetch_catalog_digest",
]

_V1: Final = """
CREATE TABLE catalog_item (
    code      TEXT PRIMARY KEY,
    hall      TEXT NOT NULL,
    lane      TEXT NOT NULL,
    last_seq  INTEGER NOT NULL,
    last_hash TEXT NOT NULL,
    state     TEXT NOT NULL
);
CREATE TABLE catalog_change (
    lane         TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    code         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    change       TEXT NOT NULL,
    state        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    enqueued_at  REAL NOT NULL,
    PRIMARY KEY (lane, seq)
);
CREATE INDEX catalog_change_code ON catalog_change (code);
CREATE TABLE catalog_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

#: The catalog sync tables (migrated by :class:`CatalogSync`).
CATALOG_SCHEMA: Final = Schema(
    "catalog_sync",
    (
        Migration(
            1, "catalog item state and change log", _V1, _V1.replace("REAL", "DOUBLE PRECISION")
        ),
    ),
)

#: Why a change was enqueued.
REASON_PUSH: Final = "push"
REASON_RECONCILE: Final = "reconcile"

_LAST_RECONCILE: Final = "last_reconcile_at"
_DEFAULT_INTERVAL: Final = 24 * 3600.0

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CatalogChangeRecord:
    """One change enqueued for the platform: which item, its lane sequence and what changed."""

    implementation_code: str
    hall: str
    sequence: int
    change: CatalogChange
    content_hash: str
    state: ItemState
    reason: str = REASON_PUSH

    def to_dict(self) -> dict[str, Any]:
        return {
            "implementation_code": self.implementation_code,
            "hall": self.hall,
            "sequence": self.sequence,
            "change": self.change.value,
            "content_hash": self.content_hash,
            "state": self.state.value,
            "reason": self.reason,
        }


def _unique_hashed(items: Iterable[Item], seen: set[str]) -> Iterator[tuple[Item, str, str]]:
    """Each item with its implementation code and content hash; every code goes into ``seen``.

    Raises:
        ValueError: two items with the same implementation code (a catalog lists an item once).
    """
    for item in items:
        code = item.implementation_code
        if code in seen:
            raise ValueError(f"implementation code {code} appears twice in the catalog")
        seen.add(code)
        yield item, code, item.content_hash()


def _count_changes(changes: Iterable[CatalogChangeRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in changes:
        counts[record.change.value] = counts.get(record.change.value, 0) + 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True, slots=True)
class CatalogPushReport:
    """What an incremental push enqueued.

    ``changes`` lists every enqueued change; ``unchanged`` counts items whose content equals
    the last change enqueued for them; ``gone_locally`` lists implementation codes pushed
    before but absent from this (complete) catalog — reported, never deleted.
    """

    changes: tuple[CatalogChangeRecord, ...]
    unchanged: int
    gone_locally: tuple[str, ...] = ()
    enqueue: EnqueueResult = field(default_factory=EnqueueResult)

    @property
    def by_change(self) -> dict[str, int]:
        """Enqueued changes per kind (``{"adjusted": 98, "cancelled": 1, ...}``)."""
        return _count_changes(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enqueued": len(self.changes),
            "unchanged": self.unchanged,
            "by_change": self.by_change,
            "gone_locally": list(self.gone_locally),
            "changes": [c.to_dict() for c in self.changes],
        }


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """The outcome of a full reconciliation against the platform's digest.

    ``matching`` items are held by the platform with the local content; ``resent`` were
    enqueued again (missing or different on the platform); ``in_flight`` differ but the local
    content is already queued; ``gone_locally`` are known to the platform (or pushed earlier)
    but absent locally — reported for an operator, never deleted.
    """

    local_items: int
    platform_items: int
    matching: int
    resent: tuple[CatalogChangeRecord, ...]
    in_flight: tuple[str, ...]
    gone_locally: tuple[str, ...]
    at: float

    @property
    def differences(self) -> int:
        return len(self.resent) + len(self.in_flight)

    def to_dict(self) -> dict[str, Any]:
        return {
            "local_items": self.local_items,
            "platform_items": self.platform_items,
            "matching": self.matching,
            "resent": len(self.resent),
            "resent_by_change": _count_changes(self.resent),
            "resent_codes": [c.implementation_code for c in self.resent],
            "in_flight": list(self.in_flight),
            "gone_locally": list(self.gone_locally),
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class CatalogItemProgress:
    """Where one item stands: the last change enqueued and the last one acknowledged.

    ``acknowledged_hash`` is ``None`` until the platform acknowledged some change of the
    item; ``parked`` is true when the platform refused the lane's head as invalid.
    """

    implementation_code: str
    last_sequence: int
    last_hash: str
    acknowledged_sequence: int | None
    acknowledged_hash: str | None
    parked: bool

    @property
    def in_sync(self) -> bool:
        """Whether the last enqueued content is acknowledged."""
        return self.acknowledged_sequence == self.last_sequence

    def to_dict(self) -> dict[str, Any]:
        return {
            "implementation_code": self.implementation_code,
            "last_sequence": self.last_sequence,
            "acknowledged_sequence": self.acknowledged_sequence,
            "in_sync": self.in_sync,
            "parked": self.parked,
        }


def classify(previous_state: ItemState | None, item: Item) -> CatalogChange:
    """The kind of a change to ``item`` whose last pushed state was ``previous_state``.

    Mirrors :func:`govlink.domain.classify_change` from stored state alone (the previous
    content is not kept): the state wins over content, so an item both edited and cancelled is
    a cancellation 取消.
    """
    if previous_state is None:
        if item.state is ItemState.IN_FORCE:
            return CatalogChange.ADDED
        return CatalogChange(item.state.value)
    if item.state is not previous_state:
        if item.state is ItemState.IN_FORCE:
            return CatalogChange.RESTORED
        return CatalogChange(item.state.value)
    return CatalogChange.ADJUSTED


@dataclass(slots=True)
class _Known:
    hall: str
    lane: str
    last_seq: int
    last_hash: str
    state: ItemState


class CatalogSync:
    """Decides which catalog changes go to the platform and tracks what it acknowledged.

    ``outbox`` carries the changes (the dispatcher delivers them); ``reconcile_interval`` is
    the schedule of full reconciliation in seconds (``None``: on demand only).

    Raises :class:`govlink.StoreError` when the store fails and
    :class:`govlink.MigrationError` when its tables cannot be brought up to date.
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        clock: Clock | None = None,
        reconcile_interval: float | None = _DEFAULT_INTERVAL,
    ) -> None:
        self.outbox = outbox
        self.store = outbox.store
        self.clock = clock or outbox.clock
        self.reconcile_interval = reconcile_interval
        self.store.migrate(CATALOG_SCHEMA)

    # --- reading state ----------------------------------------------------------------------

    @staticmethod
    def _known(conn: Connection) -> dict[str, _Known]:
        return {
            str(code): _Known(str(hall), str(lane), int(seq), str(h), ItemState(state))
            for code, hall, lane, seq, h, state in conn.fetchall(
                "SELECT code, hall, lane, last_seq, last_hash, state FROM catalog_item"
            )
        }

    def progress(self) -> dict[str, CatalogItemProgress]:
        """Every known item's progress, by implementation code.

        An item is acknowledged at the newest change whose sequence its outbox lane has moved
        past (the outbox moves a lane only when the platform answered applied or duplicate).
        """
        with self.store.transaction(write=False) as conn:
            known = self._known(conn)
            heads = {
                str(lane): (int(head), bool(parked))
                for lane, head, parked in conn.fetchall(
                    "SELECT lane, head_seq, parked FROM sync_lane WHERE kind = ?",
                    (CATALOG_ITEM,),
                )
            }
            acked: dict[str, tuple[int, str]] = {}
            for code, seq, content_hash in conn.fetchall(
                "SELECT c.code, c.seq, c.content_hash FROM catalog_change c "
                "JOIN sync_lane l ON l.lane = c.lane AND c.seq < l.head_seq "
                "JOIN catalog_item i ON i.code = c.code AND i.lane = c.lane "
                "ORDER BY c.code, c.seq"
            ):
                acked[str(code)] = (int(seq), str(content_hash))
        result: dict[str, CatalogItemProgress] = {}
        for code, info in known.items():
            _, parked = heads.get(info.lane, (0, False))
            seq_hash = acked.get(code)
            result[code] = CatalogItemProgress(
                code,
                info.last_seq,
                info.last_hash,
                seq_hash[0] if seq_hash else None,
                seq_hash[1] if seq_hash else None,
                parked,
            )
        return result

    def acknowledged_hashes(self) -> dict[str, str]:
        """Implementation code → the content hash the platform last acknowledged."""
        return {
            code: p.acknowledged_hash
            for code, p in self.progress().items()
            if p.acknowledged_hash is not None
        }

    def pending(self) -> list[str]:
        """Implementation codes whose last enqueued change is not acknowledged yet (sorted)."""
        return sorted(code for code, p in self.progress().items() if not p.in_sync)

    # --- incremental push -------------------------------------------------------------------

    def push(
        self,
        items: Iterable[Item],
        *,
        complete: bool = True,
        conn: Connection | None = None,
    ) -> CatalogPushReport:
        """Enqueue every item whose content differs from the last change enqueued for it.

        ``complete``: ``items`` is the whole local catalog, so previously pushed items missing
        from it are reported in ``gone_locally``. Pass ``conn`` to enqueue inside the caller's
        transaction (a hall sharing the database). Nothing is sent here: the dispatcher
        delivers, and progress moves only on the platform's acknowledgement.

        Raises:
            ValueError: two items with the same implementation code.
            SyncError: the catalog tables and the outbox disagree about an item's lane (the
                transaction is rolled back; nothing is enqueued).
        """
        if conn is None:
            with self.store.transaction() as own:
                return self.push(items, complete=complete, conn=own)
        known = self._known(conn)
        seen: set[str] = set()
        planned: list[tuple[Item, CatalogChange, str]] = []
        unchanged = 0
        for item, code, content_hash in _unique_hashed(items, seen):
            info = known.get(code)
            if info is not None and info.last_hash == content_hash:
                unchanged += 1
                continue
            change = classify(info.state if info is not None else None, item)
            planned.append((item, change, content_hash))
        records, enqueued = self._enqueue(conn, known, planned, REASON_PUSH)
        gone = tuple(sorted(set(known) - seen)) if complete else ()
        return CatalogPushReport(tuple(records), unchanged, gone, enqueued)

    def _enqueue(
        self,
        conn: Connection,
        known: Mapping[str, _Known],
        planned: Sequence[tuple[Item, CatalogChange, str]],
        reason: str,
    ) -> tuple[list[CatalogChangeRecord], EnqueueResult]:
        if not planned:
            return [], EnqueueResult()
        now = self.clock.time()
        entries: list[NewEntry] = []
        records: list[CatalogChangeRecord] = []
        item_rows: list[tuple[str, str, str, int, str, str]] = []
        change_rows: list[tuple[Any, ...]] = []
        for item, change, content_hash in planned:
            code = item.implementation_code
            hall = item.region_code
            info = known.get(code)
            lane = lane_name(hall, CATALOG_ITEM, code)
            if info is not None and info.lane == lane:
                sequence = info.last_seq + 1
            else:
                # A new item, or one that moved to another hall's lane: lanes count from 1.
                last = conn.scalar("SELECT MAX(seq) FROM catalog_change WHERE lane = ?", (lane,))
                sequence = int(last or 0) + 1
            entries.append(
                NewEntry(hall, CATALOG_ITEM, code, sequence, item.canonical_json().decode("utf-8"))
            )
            records.append(
                CatalogChangeRecord(code, hall, sequence, change, content_hash, item.state, reason)
            )
            item_rows.append((code, hall, lane, sequence, content_hash, item.state.value))
            change_rows.append(
                (
                    code,
                    sequence,
                    lane,
                    content_hash,
                    change.value,
                    item.state.value,
                    item.version,
                    reason,
                    now,
                )
            )
        enqueued = self.outbox.enqueue(entries, conn=conn)
        if enqueued.accepted != len(entries):
            # The catalog tables and the outbox disagree about a lane (e.g. one of them was
            # restored from an older backup). Enqueueing anyway could leave a lane waiting for a
            # sequence that never comes, or send old content: refuse, roll back, say where.
            shown = "; ".join(p.message for p in enqueued.problems[:3])
            raise SyncError(
                f"catalog state and outbox disagree: {len(entries) - enqueued.accepted} of "
                f"{len(entries)} catalog change(s) not accepted by the outbox"
                + (f" ({shown})" if shown else " (sequence already present)")
            )
        conn.executemany(
            "INSERT INTO catalog_item (code, hall, lane, last_seq, last_hash, state) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET hall = excluded.hall, "
            "lane = excluded.lane, last_seq = excluded.last_seq, "
            "last_hash = excluded.last_hash, state = excluded.state",
            item_rows,
        )
        conn.executemany(
            "INSERT INTO catalog_change (code, seq, lane, content_hash, change, state, version, "
            "reason, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (lane, seq) DO NOTHING",
            change_rows,
        )
        return records, enqueued

    # --- reconciliation ---------------------------------------------------------------------

    def reconcile_due(self) -> bool:
        """Whether the reconciliation schedule has come round (always false when on demand)."""
        if self.reconcile_interval is None:
            return False
        last = self.last_reconciled_at()
        return last is None or self.clock.time() - last >= self.reconcile_interval

    def last_reconciled_at(self) -> float | None:
        """POSIX time of the last completed reconciliation (``None``: never)."""
        with self.store.transaction(write=False) as conn:
            value = conn.scalar("SELECT value FROM catalog_meta WHERE name = ?", (_LAST_RECONCILE,))
        return None if value is None else float(value)

    def reconcile_against(
        self, items: Iterable[Item], digest: Mapping[str, CatalogDigestEntry]
    ) -> ReconcileReport:
        """Compare the local catalog with a platform digest already read; enqueue differences.

        An item the platform lacks or holds with another hash is enqueued again — unless its
        last enqueued change carries the local content and is not acknowledged yet (it is on
        its way; listed in ``in_flight``).

        Raises:
            ValueError: two items with the same implementation code.
        """
        progress = self.progress()
        now = self.clock.time()
        with self.store.transaction() as conn:
            known = self._known(conn)
            seen: set[str] = set()
            planned: list[tuple[Item, CatalogChange, str]] = []
            in_flight: list[str] = []
            matching = 0
            for item, code, content_hash in _unique_hashed(items, seen):
                remote = digest.get(code)
                if remote is not None and remote.content_hash == content_hash:
                    matching += 1
                    continue
                info = known.get(code)
                mine = progress.get(code)
                if (
                    info is not None
                    and info.last_hash == content_hash
                    and mine is not None
                    and not mine.in_sync
                ):
                    in_flight.append(code)
                    continue
                if remote is None:
                    change = classify(None, item)
                elif info is not None and info.last_hash != content_hash:
                    change = classify(info.state, item)
                else:
                    change = classify(item.state, item)  # same state: adjusted
                planned.append((item, change, content_hash))
            records, _ = self._enqueue(conn, known, planned, REASON_RECONCILE)
            gone = sorted((set(digest) | set(known)) - seen)
            conn.execute(
                "INSERT INTO catalog_meta (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (_LAST_RECONCILE, repr(now)),
            )
        return ReconcileReport(
            local_items=len(seen),
            platform_items=len(digest),
            matching=matching,
            resent=tuple(records),
            in_flight=tuple(sorted(in_flight)),
            gone_locally=tuple(gone),
            at=now,
        )

    async def reconcile(
        self,
        items: Iterable[Item],
        adapter: ProvinceAdapter,
        *,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        caller: PlatformCaller | None = None,
    ) -> ReconcileReport:
        """Read the platform's whole digest through ``adapter`` and reconcile against it.

        ``caller``: the short-retry driver to read through (e.g. ``Dispatcher.caller``);
        default a new one with ``policy`` (see :func:`fetch_catalog_digest`).

        Raises:
            TypeError: the adapter serves no digest (not a ``CatalogDigestSource``).
            PlatformRefused: the platform refuses this client (retrying cannot fix it).
            PlatformError: the digest could not be read (after the policy's inner retries
                and one credential refresh on 401).
        """
        digest = await fetch_catalog_digest(
            adapter, clock=self.clock, policy=policy, rng=rng, caller=caller
        )
        return self.reconcile_against(items, digest)


async def fetch_catalog_digest(
    adapter: ProvinceAdapter,
    *,
    clock: Clock,
    policy: RetryPolicy | None = None,
    rng: random.Random | None = None,
    caller: PlatformCaller | None = None,
) -> dict[str, CatalogDigestEntry]:
    """The platform's whole catalog digest, implementation code → entry, page by page.

    Every page is read through ``caller`` (default: a new :class:`PlatformCaller` with
    ``policy``, five inner attempts unless given), so digest reads are rate limited, budgeted,
    guarded by the circuit breaker and refresh the token once on a 401, exactly like pushes.
    Pass the dispatcher's ``caller`` to share its breaker and rate limit.

    Raises:
        TypeError: ``adapter`` is not a :class:`~govlink.sync.adapter.CatalogDigestSource`.
        PlatformRefused: the platform refuses this client for a reason retrying cannot fix.
        PlatformError: a page could not be read after the retries.
    """
    if not isinstance(adapter, CatalogDigestSource):
        raise TypeError(f"adapter {adapter.name!r} serves no catalog digest")
    source: CatalogDigestSource = adapter
    if caller is None:
        caller = PlatformCaller(
            adapter, clock=clock, policy=policy or RetryPolicy(inner_attempts=5), rng=rng
        )
    entries: dict[str, CatalogDigestEntry] = {}
    token: str | None = None
    while True:
        answer = await caller.call(source.encode_digest_request(token), source.decode_digest_page)
        page = answer.value
        for entry in page.entries:
            entries[entry.implementation_code] = entry
        if page.next_page_token is None or not page.entries:
            return entries
        token = page.next_page_token
