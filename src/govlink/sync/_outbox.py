"""The durable outbox: lanes (one per case or catalog item), entries, leases, parking.

Data model (schema ``sync``)::

    sync_lane   one row per (hall, kind, key): a case (办件) or a catalog item
                head_seq   the sequence of the next entry to deliver; entries below it are
                           acknowledged (kept for audit until purged), so an acknowledgement is
                           one UPDATE of the lane, never a write to the entry
                ready_at   when the head may be claimed; NULL = nothing to do or parked.
                           While claimed it holds the lease expiry: a crashed worker's lane is
                           simply due again when its lease runs out. A claim writes nothing
                           else (no token): settlements are conditional on head_seq instead
                attempts / last_error   the outer retry loop, persisted
                parked     1 when the head was refused as poison (the case waits for an operator)
    sync_entry  (lane, seq) -> idempotency key, canonical payload, enqueue time, state
                (NULL, 'skipped' or 'repaired')
    sync_hall   halls with work, and their fair-share weight

Per-case FIFO falls out of the shape: a claim joins each ready lane to exactly its head entry,
so a case's next event cannot be claimed before the previous one is acknowledged, while one
claim still gathers the heads of hundreds of different cases for one request.

Claims on PostgreSQL use ``FOR UPDATE OF l SKIP LOCKED`` so several workers on several machines
take disjoint lanes; on SQLite the write transaction serialises claims.

Enqueue inside the hall's own transaction (same database)::

    with store.transaction() as conn:
        conn.execute("UPDATE hall_case SET status = ? WHERE case_number = ?", (...))
        outbox.enqueue_events([event], conn=conn)   # committed or rolled back together

One cohesive concept, hence one module despite its length: the outbox (lanes, enqueue, claim,
settle, park, retention) on both SQL dialects.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .._clock import Clock, system_clock
from .._errors import FieldProblem, ValidationError
from ..store import WAKE_CHANNEL, Connection, Migration, Schema, Store
from ._adapter import CASE_EVENT, Delivery
from ._errors import NotParked
from ._journal import JournalRecord, append_journal
from ._masking import mask_text
from ._policy import FairShare

__all__ = [
    "SYNC_SCHEMA",
    "BlockedCase",
    "Claim",
    "EnqueueResult",
    "LaneFailure",
    "NewEntry",
    "Outbox",
    "OutboxStatus",
    "ParkedCase",
    "RetentionReport",
    "lane_name",
    "read_archive",
]

_SQLITE_V1 = """
CREATE TABLE sync_lane (
    lane_id     INTEGER PRIMARY KEY,
    lane        TEXT NOT NULL UNIQUE,
    hall        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    key         TEXT NOT NULL,
    head_seq    INTEGER NOT NULL DEFAULT 1,
    ready_at    REAL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    parked      INTEGER NOT NULL DEFAULT 0,
    parked_at   REAL,
    last_ack_at REAL
);
CREATE INDEX sync_lane_ready ON sync_lane (kind, hall, ready_at) WHERE ready_at IS NOT NULL;
CREATE INDEX sync_lane_parked ON sync_lane (parked_at) WHERE parked = 1;
CREATE INDEX sync_lane_key ON sync_lane (key);
CREATE TABLE sync_entry (
    id          INTEGER PRIMARY KEY,
    idem        TEXT,
    payload     TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    state       TEXT
);
CREATE TABLE sync_hall (
    hall   TEXT PRIMARY KEY,
    weight REAL NOT NULL DEFAULT 1
);
CREATE TABLE sync_journal (
    n        INTEGER PRIMARY KEY,
    at       REAL NOT NULL,
    action   TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    count    INTEGER NOT NULL,
    digest   TEXT NOT NULL,
    detail   TEXT NOT NULL,
    prev     TEXT NOT NULL,
    hash     TEXT NOT NULL
);
CREATE TABLE sync_journal_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    n    INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""

_POSTGRES_V1 = (
    _SQLITE_V1.replace("REAL", "DOUBLE PRECISION")
    .replace("INTEGER PRIMARY KEY,", "BIGINT PRIMARY KEY,")
    .replace("lane_id     INTEGER PRIMARY KEY", "lane_id     BIGINT PRIMARY KEY")
    + "CREATE SEQUENCE sync_lane_ids;\n"
)

# Version 2: the journal head row exists from the start (record 0, the genesis hash), so the
# first append locks a row like every other append (two workers on a fresh PostgreSQL store
# both wrote record 1 before); retention bookkeeping (entries below ``purged_below`` were
# archived and purged; the journal anchor is the last archived record, verification starts
# after it); an index for the lanes a purge still has to visit.
_V2 = """
INSERT INTO sync_journal_head (id, n, hash)
SELECT 1, 0, '0000000000000000000000000000000000000000000000000000000000000000'
WHERE NOT EXISTS (SELECT 1 FROM sync_journal)
ON CONFLICT (id) DO NOTHING;
ALTER TABLE sync_lane ADD COLUMN purged_below INTEGER NOT NULL DEFAULT 1;
CREATE INDEX sync_lane_purge ON sync_lane (last_ack_at) WHERE purged_below < head_seq;
CREATE TABLE sync_journal_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    n    INTEGER NOT NULL,
    hash TEXT NOT NULL,
    at   REAL NOT NULL
);
INSERT INTO sync_journal_anchor (id, n, hash, at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0);
"""

#: The sync component's tables (register with ``store.migrate(SYNC_SCHEMA)``).
SYNC_SCHEMA = Schema(
    "sync",
    (
        Migration(1, "outbox, lanes, journal", _SQLITE_V1, _POSTGRES_V1),
        Migration(
            2,
            "journal head seeded, retention",
            _V2,
            _V2.replace("REAL", "DOUBLE PRECISION"),
        ),
    ),
)

#: An entry's id is ``lane_id * SEQ_SPAN + sequence``: one integer key, and a lane's head entry
#: is found by arithmetic instead of a second index.
SEQ_SPAN = 1 << 20
MAX_SEQUENCE = SEQ_SPAN - 1

_KIND_WORDS = {CASE_EVENT: "case", "catalog_item": "catalog"}

_NEW_LANE = (
    "INSERT INTO sync_lane (lane_id, lane, hall, kind, key, head_seq, ready_at) "
    "VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT (lane) DO NOTHING"
)
# An idle lane (nothing ready, not parked) wakes when its head entry arrives. Lanes that are
# already ready, leased or parked are only looked up, not written: the hot path stays cheap.
_WAKE_LANE = """
UPDATE sync_lane SET ready_at = ?
WHERE lane_id = ? AND ready_at IS NULL AND parked = 0 AND head_seq BETWEEN ? AND ?
"""
_INSERT_ENTRY = (
    "INSERT INTO sync_entry (id, idem, payload, enqueued_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO NOTHING"
)
# The next entry is due at once only if it is already queued (a gap waits for the missing one).
_ACK = """
UPDATE sync_lane SET head_seq = head_seq + 1, attempts = 0, last_error = NULL, last_ack_at = ?,
    ready_at = CASE WHEN EXISTS (SELECT 1 FROM sync_entry WHERE id = ?) THEN ? ELSE NULL END
WHERE lane_id = ? AND head_seq = ?
"""
_RESCHEDULE = """
UPDATE sync_lane SET attempts = attempts + 1, last_error = ?, ready_at = ?
WHERE lane_id = ? AND head_seq = ? AND parked = 0
"""
_PARK = """
UPDATE sync_lane SET parked = 1, parked_at = ?, ready_at = NULL,
    attempts = attempts + 1, last_error = ?
WHERE lane_id = ? AND head_seq = ?
"""
# PostgreSQL, one lane (a hall's usual enqueue: one event, or a few of one case), all sent in
# one round trip (pipeline mode). The lane is created if missing (``nextval`` is evaluated only
# then), then row-locked like every enqueue (see ``settle``); the statements after the lock take
# their snapshots after it, so they see the head as it is under the lock. An entry is inserted
# only at or above the lane's head; one not inserted is a duplicate, or stale if below the head
# (told apart afterwards, rarely). The lane wakes if its head entry is now queued.
_PG_ENSURE_LANE = """
INSERT INTO sync_lane (lane_id, lane, hall, kind, key, head_seq, ready_at)
SELECT nextval('sync_lane_ids'), ?, ?, ?, ?, 1, NULL
WHERE NOT EXISTS (SELECT 1 FROM sync_lane WHERE lane = ?)
ON CONFLICT (lane) DO NOTHING
"""
_PG_LOCK_LANE = "SELECT lane_id, head_seq FROM sync_lane WHERE lane = ? FOR UPDATE"
_PG_INSERT_LANE_ENTRY = (
    "INSERT INTO sync_entry (id, idem, payload, enqueued_at) "  # noqa: S608 - constant text
    f"SELECT lane_id * {SEQ_SPAN} + ?::integer, ?, ?, ? FROM sync_lane "
    "WHERE lane = ? AND head_seq <= ?::integer ON CONFLICT (id) DO NOTHING RETURNING id"
)
_PG_WAKE_NAMED_LANE = (
    "UPDATE sync_lane SET ready_at = ? WHERE lane = ? AND ready_at IS NULL AND parked = 0 "  # noqa: S608 - constant text
    "AND head_seq BETWEEN ?::integer AND ?::integer AND EXISTS (SELECT 1 FROM sync_entry e "
    f"WHERE e.id = sync_lane.lane_id * {SEQ_SPAN} + sync_lane.head_seq)"
)
_PG_HALL_AND_NOTIFY = """
WITH hall AS (INSERT INTO sync_hall (hall) VALUES (?) ON CONFLICT (hall) DO NOTHING)
SELECT pg_notify(?, '')
"""
#: Entries of one lane at most enqueued through the single-lane PostgreSQL path.
_PG_ONE_LANE_MAX = 64
#: Acknowledgements at most settled in one pipeline (larger batches: the chunked path).
_PG_PIPELINED_ACKS = 500

# Only lanes still held by this claim (their due time is still its lease expiry) go back.
_RELEASE = "UPDATE sync_lane SET ready_at = ? WHERE lane_id = ? AND head_seq = ? AND ready_at = ?"


def _lock_lanes(conn: Connection, lane_ids: list[int]) -> None:
    """PostgreSQL: row-lock lanes in ascending id order (one order everywhere: no deadlock)."""
    for part in _chunks(sorted(set(lane_ids)), 1000):
        marks = ",".join("?" * len(part))
        conn.execute(
            f"SELECT lane_id FROM sync_lane WHERE lane_id IN ({marks}) "  # noqa: S608 - placeholders only
            "ORDER BY lane_id FOR UPDATE",
            part,
        )


def lane_name(hall: str, kind: str, key: str) -> str:
    """The lane of an entry: ``"{hall}:case:{case_number}"`` for case events."""
    return f"{hall}:{_KIND_WORDS.get(kind, kind)}:{key}"


class NewEntry(NamedTuple):
    """An entry to enqueue. ``payload_json`` is the canonical JSON text (already validated).

    Sequences are per lane, start at 1 and go up by one (1 ≤ sequence < 2**20).
    ``idempotency_key`` defaults to ``"{lane}:{sequence}"`` — for a case event exactly
    :attr:`govlink.domain.CaseStatusEvent.idempotency_key`.
    """

    hall: str
    kind: str
    key: str
    sequence: int
    payload_json: str
    idempotency_key: str | None = None


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """How an enqueue went: ``accepted`` new entries, ``duplicates`` already present (same
    lane and sequence: enqueueing is idempotent), ``stale`` entries refused (below what was
    already delivered for their lane, or a sequence out of range), listed in ``problems``."""

    accepted: int = 0
    duplicates: int = 0
    stale: int = 0
    problems: tuple[FieldProblem, ...] = ()

    def __add__(self, other: EnqueueResult) -> EnqueueResult:
        return EnqueueResult(
            self.accepted + other.accepted,
            self.duplicates + other.duplicates,
            self.stale + other.stale,
            self.problems + other.problems,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "stale": self.stale,
            "problems": [p.to_dict() for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class Claim:
    """Deliveries leased together (one per lane) until ``lease_until``; ``token`` names the
    claim in logs."""

    token: str
    deliveries: tuple[Delivery, ...]
    lease_until: float


@dataclass(frozen=True, slots=True)
class LaneFailure:
    """A delivery that was not acknowledged: rescheduled at ``retry_at``, or parked (None)."""

    delivery: Delivery
    error: str
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What :meth:`Outbox.retain` did: entries and journal records purged, the cutoff time,
    and the archive written (``None`` without a folder)."""

    entries: int
    journal: int
    cutoff: float
    archive: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "entries_purged": self.entries,
            "journal_records_purged": self.journal,
            "cutoff": self.cutoff,
            "archive": None if self.archive is None else str(self.archive),
        }


class _ArchiveWriter:
    """Gzip NDJSON, written lazily (no file when nothing was old enough), synced per chunk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._raw: Any = None
        self._gz: gzip.GzipFile | None = None

    @property
    def written(self) -> bool:
        return self._gz is not None

    def start(self, header: Mapping[str, Any]) -> None:
        if self._gz is None:
            self._raw = open(self.path, "xb")  # noqa: SIM115 - closed in close()
            self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb")
            self.line({"kind": "archive", "format": 1, **header})

    def line(self, data: Mapping[str, Any]) -> None:
        assert self._gz is not None
        self._gz.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
        self._gz.write(b"\n")

    def sync(self) -> None:
        assert self._gz is not None
        self._gz.flush()
        self._raw.flush()
        os.fsync(self._raw.fileno())

    def close(self, summary: Mapping[str, Any]) -> None:
        if self._gz is None:
            return
        self.line({"kind": "end", **summary})
        self._gz.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of an archive written by :meth:`Outbox.retain`, as dicts (streamed).

    Journal lines (``kind == "journal"``) of every archive, in order, are what
    :func:`verify_journal` takes as ``archived``."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


@dataclass(frozen=True, slots=True)
class ParkedCase:
    """A lane whose head entry the platform refused as poison (``govlink outbox parked``)."""

    hall: str
    kind: str
    key: str
    sequence: int
    idempotency_key: str
    error: str
    parked_at: float
    pending: int
    payload_json: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "hall": self.hall,
            "kind": self.kind,
            "key": self.key,
            "sequence": self.sequence,
            "idempotency_key": self.idempotency_key,
            "error": self.error,
            "parked_at": self.parked_at,
            "pending": self.pending,
        }


@dataclass(frozen=True, slots=True)
class BlockedCase:
    """A lane with a gap (缺号): ``missing_sequence`` is not queued, ``waiting`` later entries
    are. They are held, never sent past the gap, until the missing sequence is enqueued (the
    lane then goes on by itself). Happens when an event of a case was refused at enqueue (an
    invalid line of a file) while later ones were accepted.
    """

    hall: str
    kind: str
    key: str
    missing_sequence: int
    waiting: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "hall": self.hall,
            "kind": self.kind,
            "key": self.key,
            "missing_sequence": self.missing_sequence,
            "waiting": self.waiting,
        }


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """Counts for ``govlink outbox status`` (entries and lanes, per hall)."""

    pending: int
    ready: int
    leased: int
    retrying: int
    parked: int
    acknowledged_retained: int
    oldest_pending_age: float | None
    by_hall: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "ready_lanes": self.ready,
            "leased_lanes": self.leased,
            "retrying_lanes": self.retrying,
            "parked_cases": self.parked,
            "acknowledged_retained": self.acknowledged_retained,
            "lag_seconds": self.oldest_pending_age,
            "pending_by_hall": dict(self.by_hall),
        }


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def keys_digest(keys: Iterable[str]) -> str:
    """SHA-256 over idempotency keys, each followed by a newline (journal digests)."""
    h = hashlib.sha256()
    for k in keys:
        h.update(k.encode())
        h.update(b"\n")
    return h.hexdigest()


class Outbox:
    """The durable outbox on a :class:`govlink.store.Store` (SQLite or PostgreSQL).

    ``lease_seconds``: how long a claim holds its lanes; a crashed worker's lanes are due again
    after it. ``retention_seconds``: acknowledged entries are kept at least this long for audit
    (:meth:`purge`).

    Raises :class:`govlink.StoreError` when the store fails, and
    :class:`govlink.MigrationError` when its schema cannot be brought up to date.
    """

    def __init__(
        self,
        store: Store,
        *,
        clock: Clock = system_clock,
        lease_seconds: float = 60.0,
        retention_seconds: float = 90 * 86400.0,
        migrate: bool = True,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        self.store = store
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.retention_seconds = retention_seconds
        if migrate:
            store.migrate(SYNC_SCHEMA)

    # --- enqueue ------------------------------------------------------------------------

    def enqueue_events(
        self, events: Iterable[Any], *, conn: Connection | None = None, chunk: int = 20_000
    ) -> EnqueueResult:
        """Enqueue validated :class:`govlink.domain.CaseStatusEvent` objects.

        Validation happened when the events were built (``parse_case_event``); here each is
        serialised to its canonical JSON. Pass ``conn`` from ``store.transaction()`` to enqueue
        inside the hall's own transaction (same database).

        Raises :class:`TypeError` for something that is not a ``CaseStatusEvent``.
        """
        from ..domain import CaseStatusEvent

        def rows() -> Iterator[NewEntry]:
            for event in events:
                if not isinstance(event, CaseStatusEvent):
                    raise TypeError(f"expected CaseStatusEvent, got {type(event).__name__}")
                yield NewEntry(
                    event.hall,
                    CASE_EVENT,
                    event.case_number,
                    event.sequence,
                    event.model_dump_json(),
                    event.idempotency_key,
                )

        return self.enqueue(rows(), conn=conn, chunk=chunk)

    def enqueue(
        self, entries: Iterable[NewEntry], *, conn: Connection | None = None, chunk: int = 20_000
    ) -> EnqueueResult:
        """Enqueue entries whose payloads are already validated canonical JSON.

        The fast path: entries are written with ``executemany`` in chunks of ``chunk`` rows,
        each chunk in one transaction (or all inside ``conn`` when given). Enqueueing the same
        (lane, sequence) twice is a no-op counted in ``duplicates``. An entry below a lane's
        delivered sequence is refused (``stale``, with a problem naming it).
        """
        total = EnqueueResult()
        # lane -> [lane_id, highest sequence enqueued by this call]: a later entry above it
        # needs no lookup (it cannot be a duplicate nor below the delivered head).
        known: dict[str, list[int]] = {}
        for part in _chunks(entries, chunk):
            if conn is not None:
                total += self._enqueue_chunk(conn, part, known)
            else:
                with self.store.transaction() as own:
                    total += self._enqueue_chunk(own, part, known)
        return total

    def _enqueue_chunk(
        self, conn: Connection, part: list[NewEntry], known: dict[str, list[int]]
    ) -> EnqueueResult:
        now = self.clock.time()
        if conn.dialect == "sqlite":
            # A year's events insert all over the entry table (each case's next sequence lands
            # next to its earlier ones); a bounded 64 MB page cache keeps that from thrashing.
            conn.execute("PRAGMA cache_size = -65536")
        words = _KIND_WORDS
        # Fields by position: a NewEntry, or a plain 6-tuple in the same order (bulk loads).
        named = [(f"{e[0]}:{words.get(e[1], e[1])}:{e[2]}", e) for e in part]
        if (
            conn.dialect == "postgresql"
            and len(named) <= _PG_ONE_LANE_MAX
            and all(lane == named[0][0] for lane, _ in named)
        ):
            return self._enqueue_lane_pg(conn, named, known, now)
        # Lanes this call has not seen, or entries at/below what it enqueued: look them up.
        lookup: dict[str, NewEntry] = {}
        for lane, e in named:
            k = known.get(lane)
            if k is None or e[3] <= k[1]:
                lookup.setdefault(lane, e)
        found = self._lanes(conn, list(lookup)) if lookup else {}
        new = [lane for lane in lookup if lane not in found and lane not in known]
        ids = self._allocate(conn, len(new))
        new_lanes = dict(zip(new, ids, strict=True))
        if new_lanes:
            first = {lane for lane, e in named if e[3] == 1 and lane in new_lanes}
            conn.executemany(
                _NEW_LANE,
                [
                    (
                        lane_id,
                        lane,
                        lookup[lane][0],
                        lookup[lane][1],
                        lookup[lane][2],
                        now if lane in first else None,
                    )
                    for lane, lane_id in new_lanes.items()
                ],
            )
            if conn.dialect == "postgresql":  # a concurrent enqueue may have created some
                found.update(self._lanes(conn, new))
                new_lanes = {lane: found[lane][0] for lane in new_lanes}
        # Lanes that existed before this call: their entries are checked for duplicates and
        # staleness. Lanes created now hold nothing yet, so theirs are not.
        heads = {lane: head for lane, (_, head) in found.items() if lane not in new_lanes}
        for lane, lane_id in new_lanes.items():
            known[lane] = [lane_id, 0]
        for lane, (lane_id, _) in found.items():
            # A lane that existed before this call may hold any sequence already: every later
            # entry of it is looked up (MAX_SEQUENCE), or a duplicate past the first chunk
            # would be counted as accepted.
            known.setdefault(lane, [lane_id, MAX_SEQUENCE])
        rows: list[tuple[int, str | None, str, float]] = []
        span: dict[int, list[int]] = {}
        problems: list[FieldProblem] = []
        seen: set[int] = set()
        duplicates = stale = 0
        for lane, e in named:
            seq = e[3]
            if not 1 <= seq <= MAX_SEQUENCE:
                stale += 1
                problems.append(
                    FieldProblem(
                        "sequence", "out_of_range", f"{lane}: sequence must be 1..{MAX_SEQUENCE}"
                    )
                )
                continue
            k = known[lane]
            lane_id = k[0]
            entry_id = lane_id * SEQ_SPAN + seq
            if entry_id in seen:
                duplicates += 1
                continue
            seen.add(entry_id)
            head = heads.get(lane)
            if head is not None:  # looked up: check for duplicates and stale entries
                if conn.scalar("SELECT 1 FROM sync_entry WHERE id = ?", (entry_id,)):
                    duplicates += 1
                    continue
                if seq < head:
                    stale += 1
                    problems.append(
                        FieldProblem(
                            "sequence",
                            "already_delivered",
                            f"{lane}:{seq}: sequence {seq} is below the next undelivered "
                            f"sequence {head} of its lane",
                        )
                    )
                    continue
            if seq > k[1]:
                k[1] = seq
            idem = e[5]
            if idem is not None and idem == f"{lane}:{seq}":
                idem = None  # the default key is not stored twice
            rows.append((entry_id, idem, e[4], now))
            r = span.get(lane_id)
            if r is None:
                span[lane_id] = [seq, seq]
            elif seq < r[0]:
                r[0] = seq
            elif seq > r[1]:
                r[1] = seq
        if rows:
            if conn.dialect == "postgresql":
                _lock_lanes(conn, list(span))
            conn.executemany(_INSERT_ENTRY, rows)
            conn.executemany(
                _WAKE_LANE, [(now, lane_id, lo, hi) for lane_id, (lo, hi) in span.items()]
            )
            halls = {e[0] for _, e in named}
            # Every time (not cached): a cache would survive a rolled-back enqueue and leave a
            # hall unregistered; an existing hall costs one index probe and writes nothing.
            conn.executemany(
                "INSERT INTO sync_hall (hall) VALUES (?) ON CONFLICT (hall) DO NOTHING",
                [(h,) for h in sorted(halls)],
            )
            # Wake idle workers on commit (PostgreSQL NOTIFY is delivered only if the
            # transaction commits; SQLite's watchers see the commit itself).
            conn.notify(WAKE_CHANNEL)
        return EnqueueResult(len(rows), duplicates, stale, tuple(problems))

    @staticmethod
    def _enqueue_lane_pg(
        conn: Connection,
        named: list[tuple[str, NewEntry]],
        known: dict[str, list[int]],
        now: float,
    ) -> EnqueueResult:
        """Entries of one lane on PostgreSQL: one round trip (ten before), same outcome as the
        general path (duplicates, stale entries, wake-up, hall, NOTIFY on commit)."""
        lane, first = named[0]
        problems: list[FieldProblem] = []
        duplicates = stale = 0
        valid: list[NewEntry] = []
        seen: set[int] = set()
        for _, e in named:
            seq = e[3]
            if not 1 <= seq <= MAX_SEQUENCE:
                stale += 1
                problems.append(
                    FieldProblem(
                        "sequence", "out_of_range", f"{lane}: sequence must be 1..{MAX_SEQUENCE}"
                    )
                )
            elif seq in seen:
                duplicates += 1
            else:
                seen.add(seq)
                valid.append(e)
        if not valid:
            return EnqueueResult(0, duplicates, stale, tuple(problems))
        statements: list[tuple[str, Sequence[Any]]] = [
            (_PG_ENSURE_LANE, (lane, first[0], first[1], first[2], lane)),
            (_PG_LOCK_LANE, (lane,)),
        ]
        for e in valid:
            idem = e[5]
            if idem is not None and idem == f"{lane}:{e[3]}":
                idem = None  # the default key is not stored twice
            statements.append((_PG_INSERT_LANE_ENTRY, (e[3], idem, e[4], now, lane, e[3])))
        seqs = [e[3] for e in valid]
        statements.append((_PG_WAKE_NAMED_LANE, (now, lane, min(seqs), max(seqs))))
        statements.append((_PG_HALL_AND_NOTIFY, (first[0], WAKE_CHANNEL)))
        results = conn.run_all(statements)
        lane_id, head = (int(v) for v in results[1][0])
        # Later chunks of this call look every entry of this lane up (it now holds some).
        known[lane] = [lane_id, MAX_SEQUENCE]
        accepted = 0
        below: list[int] = []
        for e, inserted in zip(valid, results[2:], strict=False):
            if inserted:
                accepted += 1
            elif e[3] >= head:
                duplicates += 1  # already queued (the insert met it)
            else:
                below.append(e[3])
        if below:
            # Below the head: a duplicate while the acknowledged entry is still kept, stale
            # once it was purged (as the general path counts them).
            marks = ",".join("?" * len(below))
            kept = {
                int(r[0]) - lane_id * SEQ_SPAN
                for r in conn.fetchall(
                    f"SELECT id FROM sync_entry WHERE id IN ({marks})",  # noqa: S608 - placeholders only
                    [lane_id * SEQ_SPAN + seq for seq in below],
                )
            }
            for seq in below:
                if seq in kept:
                    duplicates += 1
                    continue
                stale += 1
                problems.append(
                    FieldProblem(
                        "sequence",
                        "already_delivered",
                        f"{lane}:{seq}: sequence {seq} is below the next undelivered "
                        f"sequence {head} of its lane",
                    )
                )
        return EnqueueResult(accepted, duplicates, stale, tuple(problems))

    @staticmethod
    def _allocate(conn: Connection, n: int) -> list[int]:
        if n == 0:
            return []
        if conn.dialect == "postgresql":
            return [
                int(r[0])
                for r in conn.fetchall(
                    "SELECT nextval('sync_lane_ids') FROM generate_series(1, ?)", (n,)
                )
            ]
        # SQLite: the enqueue holds the write lock (BEGIN IMMEDIATE), so max + 1 is safe.
        top = int(conn.scalar("SELECT COALESCE(MAX(lane_id), 0) FROM sync_lane") or 0)
        return list(range(top + 1, top + 1 + n))

    @staticmethod
    def _lanes(conn: Connection, lanes: list[str]) -> dict[str, tuple[int, int]]:
        """lane -> (lane_id, head_seq) for the lanes that exist (locked later, in id order)."""
        found: dict[str, tuple[int, int]] = {}
        for part in _chunks(lanes, 500):
            marks = ",".join("?" * len(part))
            for lane, lane_id, head in conn.fetchall(
                "SELECT lane, lane_id, head_seq FROM sync_lane "  # noqa: S608 - placeholders only
                f"WHERE lane IN ({marks})",
                part,
            ):
                found[str(lane)] = (int(lane_id), int(head))
        return found

    # --- claims -------------------------------------------------------------------------

    @staticmethod
    def _ready_halls(conn: Connection, kind: str, now: float) -> list[str]:
        """Halls with a lane of ``kind`` due now: one round trip, one index probe per hall.

        Read afresh at every claim (no cache): a hall whose first event another process just
        committed is served at once. Only these halls share the batch (fair share over halls
        with work, and no query for a hall without)."""
        return [
            str(r[0])
            for r in conn.fetchall(
                "SELECT h.hall FROM sync_hall h WHERE EXISTS (SELECT 1 FROM sync_lane l "
                "WHERE l.kind = ? AND l.hall = h.hall AND l.ready_at <= ?) ORDER BY h.hall",
                (kind, now),
            )
        ]

    def hall_weights(self) -> dict[str, float]:
        """Fair-share weights per hall (set with :meth:`set_hall_weight`)."""
        with self.store.transaction(write=False) as conn:
            return {
                str(h): float(w) for h, w in conn.fetchall("SELECT hall, weight FROM sync_hall")
            }

    def set_hall_weight(self, hall: str, weight: float) -> None:
        """Give ``hall`` a larger (or smaller) share of each batch while draining a backlog.

        Raises :class:`govlink.ValidationError` for a weight that is not positive.
        """
        if weight <= 0:
            raise ValidationError("weight must be positive", field="weight", rule="positive")
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO sync_hall (hall, weight) VALUES (?, ?) "
                "ON CONFLICT (hall) DO UPDATE SET weight = excluded.weight",
                (hall, weight),
            )

    def claim(
        self,
        kind: str,
        limit: int,
        *,
        fair: FairShare | None = None,
        conn: Connection | None = None,
    ) -> Claim:
        """Lease up to ``limit`` head entries of ready lanes of ``kind`` (one per lane).

        ``fair`` splits ``limit`` between halls by weight (a hall's unused share goes to the
        others in a second pass); without it halls are served in order.
        """
        if conn is None:
            with self.store.transaction() as own:
                return self.claim(kind, limit, fair=fair, conn=own)
        now = self.clock.time()
        until = now + self.lease_seconds
        token = secrets.token_hex(8)
        halls = self._ready_halls(conn, kind, now)
        quotas = fair.split(halls, limit) if fair is not None else dict.fromkeys(halls, limit)
        pg = conn.dialect == "postgresql"
        sql = (
            "SELECT l.lane_id, l.hall, l.key, l.attempts, l.head_seq, e.idem, e.payload, l.lane "  # noqa: S608 - constant text
            f"FROM sync_lane l JOIN sync_entry e ON e.id = l.lane_id * {SEQ_SPAN} + l.head_seq "
            "WHERE l.kind = ? AND l.hall = ? AND l.ready_at <= ? "
            f"ORDER BY l.ready_at LIMIT ?{' FOR UPDATE OF l SKIP LOCKED' if pg else ''}"
        )
        lease_param: tuple[float, ...] = ()
        if pg:
            # Take and lease in one statement: the lease is written to exactly the rows the
            # SKIP LOCKED select locked (the usual PostgreSQL queue idiom).
            sql = (
                f"WITH c AS ({sql}), u AS (UPDATE sync_lane SET ready_at = ? "  # noqa: S608 - constant text
                "WHERE lane_id IN (SELECT lane_id FROM c)) SELECT * FROM c"
            )
            lease_param = (until,)
        got: list[Delivery] = []

        def take(hall: str, want: int) -> int:
            return lease(conn.fetchall(sql, (kind, hall, now, want, *lease_param)))

        def lease(rows: list[Any]) -> int:
            leases = []
            for lane_id, h, key, attempts, seq, idem, payload, lane in rows:
                got.append(
                    Delivery(
                        h,
                        kind,
                        key,
                        int(seq),
                        idem or f"{lane}:{seq}",
                        payload,
                        int(attempts),
                        int(lane_id) * SEQ_SPAN + int(seq),
                    )
                )
                leases.append((until, lane_id))
            if leases and not pg:
                conn.executemany("UPDATE sync_lane SET ready_at = ? WHERE lane_id = ?", leases)
            return len(rows)

        # First pass: each hall its fair share, all halls' queries in one round trip on
        # PostgreSQL (each takes disjoint lanes), then one lease update. Second pass: what a
        # hall could not use goes to the halls that still have work (claimed lanes are leased
        # by then, so not taken twice).
        wants = [(hall, quotas.get(hall, 0)) for hall in halls if quotas.get(hall, 0) > 0]
        found = conn.run_all([(sql, (kind, hall, now, want, *lease_param)) for hall, want in wants])
        lease([row for rows in found for row in rows])
        short = {hall for (hall, want), rows in zip(wants, found, strict=True) if len(rows) < want}
        for hall in halls:
            spare = limit - len(got)
            if spare <= 0:
                break
            if hall not in short:
                take(hall, spare)
        return Claim(token, tuple(got), until)

    def release(self, claim: Claim, deliveries: Sequence[Delivery] | None = None) -> None:
        """Give leased lanes back unsent (graceful shutdown): due again immediately."""
        items = claim.deliveries if deliveries is None else deliveries
        if not items:
            return
        now = self.clock.time()
        with self.store.transaction() as conn:
            conn.executemany(
                _RELEASE,
                [(now, d.entry_id // SEQ_SPAN, d.sequence, claim.lease_until) for d in items],
            )

    # --- settlement ---------------------------------------------------------------------

    def settle(
        self,
        acknowledged: Sequence[Delivery],
        failures: Sequence[LaneFailure] = (),
        *,
        journal: Sequence[JournalRecord] = (),
        conn: Connection | None = None,
        keep: bool = False,
    ) -> list[Delivery]:
        """Record a batch's outcome in one transaction with its journal records.

        Acknowledged lanes advance to their next sequence (due now if it is queued);
        failures with ``retry_at`` are rescheduled (attempts + 1, last error kept); failures
        without are parked. Each update is conditional on the lane still being at the
        delivered sequence, so a late or duplicated settlement is harmless.

        With ``keep``, an acknowledged lane whose next entry is queued stays leased to the
        caller, and those next entries are returned as deliveries: the dispatcher sends them
        in its next batch without claiming them again (one lane update per event instead of
        two). Sending them is safe for order: each follows an entry the platform acknowledged.
        """
        if conn is None:
            with self.store.transaction() as own:
                return self.settle(acknowledged, failures, journal=journal, conn=own, keep=keep)
        now = self.clock.time()
        kept: list[Delivery] = []
        if acknowledged:
            due = now + self.lease_seconds if keep else now
            acks = [
                (now, d.entry_id + 1, due, d.entry_id // SEQ_SPAN, d.sequence) for d in acknowledged
            ]
            if conn.dialect == "postgresql" and len(acknowledged) <= _PG_PIPELINED_ACKS:
                # The acknowledgement's "is the next entry queued?" must see every enqueue
                # that touched these lanes: lock them first (enqueues lock them too, in the
                # same lane order), so that each UPDATE takes its snapshot afterwards (a
                # pipeline runs its statements one after the other). Lock, acknowledgements
                # and the next entries' read go in one round trip.
                ids = sorted({d.entry_id // SEQ_SPAN for d in acknowledged})
                marks = ",".join("?" * len(ids))
                statements: list[tuple[str, Sequence[Any]]] = [
                    (
                        f"SELECT lane_id FROM sync_lane WHERE lane_id IN ({marks}) "  # noqa: S608 - placeholders only
                        "ORDER BY lane_id FOR UPDATE",
                        ids,
                    )
                ]
                statements += [(_ACK, ack) for ack in acks]
                if keep:
                    statements.append(self._next_entries_query(acknowledged))
                results = conn.run_all(statements)
                if keep:
                    kept = self._next_deliveries_from(acknowledged, results[-1])
            else:
                if conn.dialect == "postgresql":
                    _lock_lanes(conn, [d.entry_id // SEQ_SPAN for d in acknowledged])
                conn.executemany(_ACK, acks)
                if keep:
                    kept = self._next_deliveries(conn, acknowledged)
        retry = [f for f in failures if f.retry_at is not None]
        park = [f for f in failures if f.retry_at is None]
        if retry:
            conn.executemany(
                _RESCHEDULE,
                [
                    (
                        mask_text(f.error)[:500],
                        f.retry_at,
                        f.delivery.entry_id // SEQ_SPAN,
                        f.delivery.sequence,
                    )
                    for f in retry
                ],
            )
        if park:
            conn.executemany(
                _PARK,
                [
                    (
                        now,
                        mask_text(f.error)[:500],
                        f.delivery.entry_id // SEQ_SPAN,
                        f.delivery.sequence,
                    )
                    for f in park
                ],
            )
        if journal:
            append_journal(conn, now, journal)
        return kept

    @staticmethod
    def _next_entries_query(acknowledged: Sequence[Delivery]) -> tuple[str, list[int]]:
        ids = sorted({d.entry_id + 1 for d in acknowledged})
        marks = ",".join("?" * len(ids))
        return f"SELECT id, idem, payload FROM sync_entry WHERE id IN ({marks})", ids  # noqa: S608 - placeholders only

    @staticmethod
    def _next_deliveries_from(acknowledged: Sequence[Delivery], rows: list[Any]) -> list[Delivery]:
        by_id = {d.entry_id + 1: d for d in acknowledged}
        found: list[Delivery] = []
        for entry_id, idem, payload in rows:
            d = by_id[int(entry_id)]
            seq = d.sequence + 1
            key = idem or f"{lane_name(d.hall, d.kind, d.key)}:{seq}"
            found.append(Delivery(d.hall, d.kind, d.key, seq, key, payload, 0, int(entry_id)))
        return found

    @staticmethod
    def _next_deliveries(conn: Connection, acknowledged: Sequence[Delivery]) -> list[Delivery]:
        by_id = {d.entry_id + 1: d for d in acknowledged}
        found: list[Delivery] = []
        ids = list(by_id)
        for part in _chunks(ids, 500):
            marks = ",".join("?" * len(part))
            for entry_id, idem, payload in conn.fetchall(
                f"SELECT id, idem, payload FROM sync_entry WHERE id IN ({marks})",  # noqa: S608 - placeholders only
                part,
            ):
                d = by_id[int(entry_id)]
                seq = d.sequence + 1
                key = idem or f"{lane_name(d.hall, d.kind, d.key)}:{seq}"
                found.append(Delivery(d.hall, d.kind, d.key, seq, key, payload, 0, int(entry_id)))
        return found

    def release_kept(self, deliveries: Sequence[Delivery]) -> None:
        """Give back lanes kept by :meth:`settle` (``keep=True``) but not sent: due now."""
        if not deliveries:
            return
        now = self.clock.time()
        with self.store.transaction() as conn:
            conn.executemany(
                "UPDATE sync_lane SET ready_at = ? WHERE lane_id = ? AND head_seq = ? "
                "AND parked = 0 AND ready_at > ?",
                [(now, d.entry_id // SEQ_SPAN, d.sequence, now) for d in deliveries],
            )

    def journal(self, records: Sequence[JournalRecord], *, conn: Connection | None = None) -> None:
        """Append journal records in their own transaction (or the caller's ``conn``)."""
        if conn is not None:
            append_journal(conn, self.clock.time(), records)
            return
        with self.store.transaction() as own:
            append_journal(own, self.clock.time(), records)

    # --- inspection ---------------------------------------------------------------------

    def pending_work(self, kind: str) -> tuple[bool, float | None]:
        """``(due_now, next_wake)``: whether some lane of ``kind`` is due now, and the earliest
        future due time (a lease expiry or a scheduled retry), ``None`` when nothing is
        scheduled."""
        now = self.clock.time()
        with self.store.transaction(write=False) as conn:
            # One round trip; each MIN is one probe of the (kind, hall, ready_at) index.
            first, nxt = conn.fetchone(
                "SELECT MIN(d.first), MIN(d.nxt) FROM (SELECT "
                "(SELECT MIN(l.ready_at) FROM sync_lane l WHERE l.kind = ? AND l.hall = h.hall "
                "AND l.ready_at IS NOT NULL) AS first, "
                "(SELECT MIN(l.ready_at) FROM sync_lane l WHERE l.kind = ? AND l.hall = h.hall "
                "AND l.ready_at > ?) AS nxt FROM sync_hall h) d",
                (kind, kind, now),
            )
        due = first is not None and float(first) <= now
        return due, None if nxt is None else float(nxt)

    def status(self) -> OutboxStatus:
        """Counts of pending, leased, retrying and parked work, and the lag."""
        now = self.clock.time()
        with self.store.transaction(write=False) as conn:
            by_hall = {
                str(h): int(n or 0)
                for h, n in conn.fetchall(
                    "SELECT l.hall, COUNT(*) FROM sync_entry e "  # noqa: S608 - constant text
                    f"JOIN sync_lane l ON l.lane_id = e.id / {SEQ_SPAN} "
                    f"WHERE e.id % {SEQ_SPAN} >= l.head_seq GROUP BY l.hall ORDER BY l.hall"
                )
            }
            ready, leased, retrying, parked = conn.fetchone(
                "SELECT "
                "COALESCE(SUM(CASE WHEN ready_at <= ? THEN 1 ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN attempts = 0 AND ready_at > ? THEN 1 ELSE 0 END), 0), "
                "COALESCE(SUM(CASE WHEN attempts > 0 AND parked = 0 "
                "AND ready_at > ? THEN 1 ELSE 0 END), 0), "
                "COALESCE(SUM(parked), 0) FROM sync_lane",
                (now, now, now),
            )
            total = int(conn.scalar("SELECT COUNT(*) FROM sync_entry") or 0)
            oldest = conn.scalar(
                "SELECT MIN(e.enqueued_at) FROM sync_lane l JOIN sync_entry e "  # noqa: S608 - constant text
                f"ON e.id = l.lane_id * {SEQ_SPAN} + l.head_seq"
            )
        pending = sum(by_hall.values())
        return OutboxStatus(
            pending=pending,
            ready=int(ready),
            leased=int(leased),
            retrying=int(retrying),
            parked=int(parked),
            acknowledged_retained=max(0, total - pending),
            oldest_pending_age=None if oldest is None else max(0.0, now - float(oldest)),
            by_hall=by_hall,
        )

    def blocked(self) -> list[BlockedCase]:
        """Lanes with a gap among their undelivered entries (see :class:`BlockedCase`)."""
        with self.store.transaction(write=False) as conn:
            # One pass over the entries, each joined to its lane by key (as status() does):
            # a lane has a gap when its undelivered sequences are fewer than their span.
            lanes = conn.fetchall(
                "SELECT l.lane_id, l.hall, l.kind, l.key, l.head_seq FROM sync_entry e "  # noqa: S608 - constant text
                f"JOIN sync_lane l ON l.lane_id = e.id / {SEQ_SPAN} "
                f"WHERE e.id % {SEQ_SPAN} >= l.head_seq AND l.parked = 0 "
                "GROUP BY l.lane_id, l.hall, l.kind, l.key, l.head_seq "
                f"HAVING MAX(e.id % {SEQ_SPAN}) - l.head_seq + 1 > COUNT(*) "
                "ORDER BY l.lane_id"
            )
            found = []
            for lane_id, hall, kind, key, head in lanes:
                base = int(lane_id) * SEQ_SPAN
                seqs = [
                    int(r[0]) - base
                    for r in conn.fetchall(
                        "SELECT id FROM sync_entry WHERE id >= ? AND id < ? ORDER BY id",
                        (base + int(head), base + SEQ_SPAN),
                    )
                ]
                missing = next(
                    (int(head) + i for i, seq in enumerate(seqs) if seq != int(head) + i),
                    int(head) + len(seqs),
                )
                waiting = sum(1 for seq in seqs if seq > missing)
                found.append(BlockedCase(str(hall), str(kind), str(key), missing, waiting))
        return found

    def parked(self) -> list[ParkedCase]:
        """Every parked lane with its refused head entry, oldest first."""
        with self.store.transaction(write=False) as conn:
            rows = conn.fetchall(
                "SELECT l.hall, l.kind, l.key, l.head_seq, e.idem, l.last_error, l.parked_at, "  # noqa: S608 - constant text
                "(SELECT COUNT(*) FROM sync_entry x WHERE x.id >= e.id "
                f"AND x.id < (l.lane_id + 1) * {SEQ_SPAN}), e.payload, l.lane FROM sync_lane l "
                f"JOIN sync_entry e ON e.id = l.lane_id * {SEQ_SPAN} + l.head_seq "
                "WHERE l.parked = 1 ORDER BY l.parked_at"
            )
        return [
            ParkedCase(
                str(h),
                str(k),
                str(key),
                int(seq),
                str(idem or f"{lane}:{seq}"),
                str(err or ""),
                float(at or 0),
                int(pending),
                str(payload),
            )
            for h, k, key, seq, idem, err, at, pending, payload, lane in rows
        ]

    def _parked_lane(self, conn: Connection, key: str, kind: str) -> tuple[int, int, str, str]:
        lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
        row = conn.fetchone(
            "SELECT lane_id, head_seq, lane, hall FROM sync_lane "  # noqa: S608 - constant text
            f"WHERE key = ? AND kind = ? AND parked = 1{lock}",
            (key, kind),
        )
        if row is None:
            raise NotParked(f"{_KIND_WORDS.get(kind, kind)} {key} has no parked entry")
        lane_id, seq, lane, hall = row
        idem = conn.scalar(
            "SELECT idem FROM sync_entry WHERE id = ?", (int(lane_id) * SEQ_SPAN + int(seq),)
        )
        return int(lane_id), int(seq), str(idem or f"{lane}:{seq}"), str(hall)

    def retry(
        self,
        key: str,
        *,
        kind: str = CASE_EVENT,
        payload_json: str | None = None,
        note: str = "",
    ) -> str:
        """Release a parked case so its head entry is sent again (after a repair).

        ``payload_json`` replaces the refused entry's payload (the repaired event; same case,
        same sequence — validate it first). Recorded in the journal (``retry`` or ``repair``).
        Returns the idempotency key. Raises :class:`NotParked` when the case has no parked
        entry.
        """
        now = self.clock.time()
        with self.store.transaction() as conn:
            lane_id, seq, idem, hall = self._parked_lane(conn, key, kind)
            action = "retry"
            detail: dict[str, Any] = {"key": idem, "note": mask_text(note)}
            if payload_json is not None:
                conn.execute(
                    "UPDATE sync_entry SET payload = ?, state = 'repaired' WHERE id = ?",
                    (payload_json, lane_id * SEQ_SPAN + seq),
                )
                action = "repair"
                detail["payload_sha256"] = hashlib.sha256(payload_json.encode()).hexdigest()
            conn.execute(
                "UPDATE sync_lane SET parked = 0, parked_at = NULL, ready_at = ?, attempts = 0 "
                "WHERE lane_id = ?",
                (now, lane_id),
            )
            append_journal(conn, now, [JournalRecord(action, hall, 1, keys_digest([idem]), detail)])
        return idem

    def skip(self, key: str, *, reason: str, kind: str = CASE_EVENT) -> str:
        """Skip a parked case's refused entry for good, with the operator's ``reason``.

        The entry is kept (state ``skipped``) and never sent; the case resumes with its next
        entry. The reason is recorded in the journal. On a platform that enforces contiguous
        sequences the next entry will be refused in turn (the platform still waits for the
        skipped sequence): skip is for a refused *last* entry, or is followed by a repair.
        Raises :class:`NotParked`, or :class:`govlink.ValidationError` for an empty reason.
        """
        if not reason.strip():
            raise ValidationError("a skip needs a reason", field="reason", rule="required")
        now = self.clock.time()
        with self.store.transaction() as conn:
            lane_id, seq, idem, hall = self._parked_lane(conn, key, kind)
            entry_id = lane_id * SEQ_SPAN + seq
            conn.execute("UPDATE sync_entry SET state = 'skipped' WHERE id = ?", (entry_id,))
            conn.execute(
                "UPDATE sync_lane SET parked = 0, parked_at = NULL, attempts = 0, "
                "last_error = NULL, head_seq = head_seq + 1, last_ack_at = ?, "
                "ready_at = CASE WHEN EXISTS (SELECT 1 FROM sync_entry WHERE id = ?) "
                "THEN ? ELSE NULL END WHERE lane_id = ?",
                (now, entry_id + 1, now, lane_id),
            )
            append_journal(
                conn,
                now,
                [
                    JournalRecord(
                        "skip",
                        hall,
                        1,
                        keys_digest([idem]),
                        {"key": idem, "reason": mask_text(reason)},
                    )
                ],
            )
        return idem

    def purge(self) -> int:
        """Delete acknowledged entries older than the retention period; returns how many.

        An entry goes only when its lane's last acknowledgement is itself older than the
        retention period, so every entry is kept *at least* that long. Journal records older
        than the period go too (the anchor keeps the chain verifiable from there on). Use
        :meth:`retain` with a folder to archive them first.
        """
        return self.retain(None).entries

    def retain(self, archive_dir: Path | None, *, lanes_per_chunk: int = 500) -> RetentionReport:
        """Archive (when ``archive_dir`` is given) and purge what the retention period allows.

        The archive is one gzip-compressed NDJSON file per run
        (``outbox-<time>-<random>.ndjson.gz``; none when nothing was old enough): a header
        line, the journal records with their hashes (the chain from the previous anchor, so
        :func:`verify_journal` with :func:`read_archive`'s records still checks it from
        record 1), every purged entry
        (lane, sequence, idempotency key, payload, enqueue time, state) and an ``end`` line
        with the counts. Work goes in chunks of ``lanes_per_chunk`` lanes, each written and
        flushed to disk before its rows are deleted (a crash leaves rows that the next run
        archives again, never rows deleted and not archived). Acknowledged entries and journal
        records never change, so nothing here races with workers.

        Raises :class:`govlink.StoreError` when the store fails, and :class:`OSError` when
        the archive cannot be written (nothing of that chunk is deleted then).
        """
        started = self.clock.time()
        cutoff = started - self.retention_seconds
        writer: _ArchiveWriter | None = None
        path: Path | None = None
        if archive_dir is not None:
            archive_dir.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
            path = archive_dir / f"outbox-{stamp}-{secrets.token_hex(4)}.ndjson.gz"
            writer = _ArchiveWriter(path)
        entries = journal = 0
        try:
            anchor = self._retain_journal(cutoff, writer)
            journal = anchor[2]
            after = -1
            while True:
                done, after = self._retain_lanes(cutoff, after, lanes_per_chunk, writer)
                entries += done
                if after < 0:
                    break
        finally:
            if writer is not None:
                writer.close({"entries": entries, "journal": journal, "cutoff": cutoff})
        written = writer is not None and writer.written
        return RetentionReport(entries, journal, cutoff, path if written else None)

    def _retain_journal(self, cutoff: float, writer: _ArchiveWriter | None) -> tuple[int, str, int]:
        """Archive and purge journal records older than ``cutoff`` (a prefix of the chain;
        the head record always stays, so appends keep their lock row and link)."""
        with self.store.transaction() as conn:
            lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
            n0, h0 = conn.fetchone(f"SELECT n, hash FROM sync_journal_anchor WHERE id = 1{lock}")  # noqa: S608 - constant text
            n0 = int(n0)
            head = int(conn.scalar("SELECT n FROM sync_journal_head WHERE id = 1") or 0)
            rows = conn.fetchall(
                "SELECT n, at, action, endpoint, count, digest, detail, prev, hash "
                "FROM sync_journal WHERE n > ? AND n < ? ORDER BY n",
                (n0, head),
            )
            last: tuple[int, str] | None = None
            kept: list[tuple[Any, ...]] = []
            for row in rows:
                if float(row[1]) >= cutoff:
                    break  # a prefix only: the chain stays contiguous
                kept.append(row)
                last = (int(row[0]), str(row[8]))
            if last is None:
                return n0, str(h0), 0
            if writer is not None:
                writer.start({"journal_prev": {"n": n0, "hash": str(h0)}})
                for n, at, action, endpoint, count, digest, detail, prev, hash_ in kept:
                    writer.line(
                        {
                            "kind": "journal",
                            "n": int(n),
                            "at": float(at),
                            "action": action,
                            "endpoint": endpoint,
                            "count": int(count),
                            "digest": digest,
                            "detail": detail,
                            "prev": prev,
                            "hash": hash_,
                        }
                    )
                writer.sync()
            conn.execute("DELETE FROM sync_journal WHERE n > ? AND n <= ?", (n0, last[0]))
            conn.execute(
                "UPDATE sync_journal_anchor SET n = ?, hash = ?, at = ? WHERE id = 1",
                (last[0], last[1], self.clock.time()),
            )
            return last[0], last[1], len(kept)

    def _retain_lanes(
        self, cutoff: float, after: int, limit: int, writer: _ArchiveWriter | None
    ) -> tuple[int, int]:
        """One chunk of lanes: returns (entries purged, last lane id or -1 when done)."""
        with self.store.transaction() as conn:
            lanes = conn.fetchall(
                "SELECT lane_id, lane, purged_below, head_seq FROM sync_lane "
                "WHERE purged_below < head_seq AND last_ack_at < ? AND lane_id > ? "
                "ORDER BY lane_id LIMIT ?",
                (cutoff, after, limit),
            )
            if not lanes:
                return 0, -1
            if writer is not None:
                writer.start({})
                for lane_id, lane, lo, hi in lanes:
                    base = int(lane_id) * SEQ_SPAN
                    for entry_id, idem, payload, at, state in conn.fetchall(
                        "SELECT id, idem, payload, enqueued_at, state FROM sync_entry "
                        "WHERE id >= ? AND id < ? ORDER BY id",
                        (base + int(lo), base + int(hi)),
                    ):
                        seq = int(entry_id) - base
                        writer.line(
                            {
                                "kind": "entry",
                                "lane": lane,
                                "sequence": seq,
                                "idempotency_key": idem or f"{lane}:{seq}",
                                "enqueued_at": float(at),
                                "state": state,
                                "payload": json.loads(payload),
                            }
                        )
                writer.sync()  # on disk before the rows go
            purged = 0
            for part in _chunks(lanes, 100):
                ranges = [
                    (int(lid) * SEQ_SPAN + int(lo), int(lid) * SEQ_SPAN + int(hi))
                    for lid, _, lo, hi in part
                ]
                where = " OR ".join("(id >= ? AND id < ?)" for _ in ranges)
                cur = conn.execute(
                    f"DELETE FROM sync_entry WHERE {where}",  # noqa: S608 - placeholders only
                    [v for r in ranges for v in r],
                )
                purged += max(0, cur.rowcount)
            conn.executemany(
                "UPDATE sync_lane SET purged_below = ? WHERE lane_id = ? AND purged_below = ?",
                [(int(hi), int(lid), int(lo)) for lid, _, lo, hi in lanes],
            )
            return purged, int(lanes[-1][0]) if len(lanes) == limit else -1

    def entries(self, key: str, *, kind: str = CASE_EVENT) -> list[dict[str, Any]]:
        """Every retained entry of one case, with its state (for audits and tests)."""
        with self.store.transaction(write=False) as conn:
            lane_row = conn.fetchone(
                "SELECT lane_id, head_seq, parked, lane FROM sync_lane WHERE key = ? AND kind = ?",
                (key, kind),
            )
            if lane_row is None:
                return []
            lane_id, head, parked, lane = lane_row
            rows = conn.fetchall(
                "SELECT id, idem, payload, state FROM sync_entry WHERE id > ? AND id < ? "
                "ORDER BY id",
                (int(lane_id) * SEQ_SPAN, (int(lane_id) + 1) * SEQ_SPAN),
            )
        out = []
        for entry_id, idem, payload, state in rows:
            seq = int(entry_id) % SEQ_SPAN
            if state == "skipped":
                label = "skipped"
            elif seq < head:
                label = "acknowledged"
            elif seq == head and parked:
                label = "parked"
            else:
                label = "pending"
            out.append(
                {
                    "sequence": seq,
                    "idempotency_key": idem or f"{lane}:{seq}",
                    "state": label,
                    "payload": json.loads(payload),
                }
            )
        return out
