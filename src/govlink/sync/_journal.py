"""The evidence journal: every send and acknowledgement, append-only and hash-chained.

One record per *batch* send and one per batch answer keeps the hot path cheap (two rows per
request, not two per event) while still proving what was exchanged:

* ``send``: the endpoint, the SHA-256 of the exact request body, and the idempotency keys it
  carried, in order;
* ``ack``: the send record it answers, the HTTP status, the SHA-256 of the response body, the
  counts per outcome, and the keys of every entry *not* acknowledged with their reason (the
  acknowledged ones are the send record's keys minus those);
* ``fail``: a request that got no usable answer (transport error, 5xx, ...);
* ``park``, ``retry``, ``skip``, ``repair``: operator-visible state changes of a case, with the
  operator's reason for a skip.

Chain: ``hash_n = SHA-256(hash_{n-1} || "\\n" || canonical_json(record_n))`` with record
numbers 1, 2, 3, ... and ``hash_0`` = 64 zeros. The canonical encoding is JSON with sorted keys,
no whitespace, UTF-8. Altering a record breaks its own hash; deleting one leaves a gap in the
numbers and a broken ``prev``; deleting the tail is caught by the head row (``sync_journal_head``),
which is updated in the same transaction as every append. (An attacker with write access to the
whole database can rewrite everything; export :func:`verify_journal`'s head hash to another
system to anchor it.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..store import Connection, Store
from ._errors import JournalTampered

__all__ = [
    "GENESIS",
    "JournalRecord",
    "JournalReport",
    "append_journal",
    "verify_archived_journal",
    "verify_journal",
]

GENESIS = "0" * 64


def _canonical(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One record to append (its number, time and hashes are assigned on append)."""

    action: str
    endpoint: str
    count: int
    digest: str
    detail: Mapping[str, Any]


def _record_hash(
    prev: str, n: int, at: float, action: str, endpoint: str, count: int, digest: str, detail: str
) -> str:
    body = _canonical(
        {
            "n": n,
            "at": repr(float(at)),
            "action": action,
            "endpoint": endpoint,
            "count": count,
            "digest": digest,
            "detail": detail,
        }
    )
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def append_journal(conn: Connection, at: float, records: Iterable[JournalRecord]) -> list[int]:
    """Append ``records`` inside the caller's write transaction; returns their numbers.

    The head row is read with a row lock on PostgreSQL (``FOR UPDATE``), which serialises
    appends across workers; SQLite's write transaction already does. The head row exists from
    the schema's second migration on (seeded at record 0), so the very first append locks it
    too.
    """
    lock = " FOR UPDATE" if conn.dialect == "postgresql" else ""
    head = f"SELECT n, hash FROM sync_journal_head WHERE id = 1{lock}"  # noqa: S608 - constant text
    row = conn.fetchone(head)
    if row is None and conn.dialect == "postgresql":
        # No head row to lock yet (a store migrated before the head was seeded): create it
        # first. A concurrent appender's uncommitted insert makes this one wait, then do
        # nothing; the re-read then locks the committed row. Two workers can therefore never
        # both write record 1.
        conn.execute(
            "INSERT INTO sync_journal_head (id, n, hash) SELECT 1, 0, ? "
            "WHERE NOT EXISTS (SELECT 1 FROM sync_journal) ON CONFLICT (id) DO NOTHING",
            (GENESIS,),
        )
        row = conn.fetchone(head)
    n, prev = (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)
    numbers: list[int] = []
    rows: list[tuple[Any, ...]] = []
    for record in records:
        n += 1
        detail = _canonical(record.detail)
        digest = _record_hash(
            prev, n, at, record.action, record.endpoint, record.count, record.digest, detail
        )
        rows.append(
            (
                n,
                at,
                record.action,
                record.endpoint,
                record.count,
                record.digest,
                detail,
                prev,
                digest,
            )
        )
        numbers.append(n)
        prev = digest
    if not rows:
        return numbers
    insert = (
        "INSERT INTO sync_journal (n, at, action, endpoint, count, digest, detail, prev, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    if row is None:
        head_write = "INSERT INTO sync_journal_head (id, n, hash) VALUES (1, ?, ?)"
    else:
        head_write = "UPDATE sync_journal_head SET n = ?, hash = ? WHERE id = 1"
    # Records and head in one round trip on PostgreSQL (a pipeline).
    conn.run_all([*((insert, r) for r in rows), (head_write, (n, prev))])
    return numbers


@dataclass(frozen=True, slots=True)
class JournalReport:
    """What :func:`verify_journal` found: the number of records and the head hash."""

    records: int
    head_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"ok": True, "records": self.records, "head_hash": self.head_hash}


def _anchor(store: Store) -> tuple[int, str]:
    """The last archived-and-purged record (0 and the genesis hash when none was)."""
    with store.transaction(write=False) as conn:
        row = conn.fetchone("SELECT n, hash FROM sync_journal_anchor WHERE id = 1")
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def verify_archived_journal(
    records: Iterable[Mapping[str, Any]], *, start: tuple[int, str] = (0, GENESIS)
) -> tuple[int, str]:
    """Check archived journal records (dicts with the stored columns), in order, from
    ``start``; returns the last record's number and hash.

    Raises :class:`JournalTampered` naming the first record altered, missing or unlinked."""
    expected, prev = start[0] + 1, start[1]
    for r in records:
        n = int(r["n"])
        if n != expected:
            raise JournalTampered(
                f"archived journal record {expected} is missing (next present is {n})",
                record=expected,
            )
        if r["prev"] != prev:
            raise JournalTampered(f"journal record {n} does not link to record {n - 1}", record=n)
        computed = _record_hash(
            prev,
            n,
            float(r["at"]),
            str(r["action"]),
            str(r["endpoint"]),
            int(r["count"]),
            str(r["digest"]),
            str(r["detail"]),
        )
        if computed != r["hash"]:
            raise JournalTampered(f"journal record {n} was altered", record=n)
        prev = str(r["hash"])
        expected += 1
    return expected - 1, prev


def verify_journal(
    store: Store, *, page: int = 256, archived: Iterable[Mapping[str, Any]] | None = None
) -> JournalReport:
    """Walk the whole chain and check every record, number and link, and the head row.

    Records are read ``page`` at a time: a batch's ``send`` record carries every key of the
    batch (tens of kilobytes), so a large page held the whole journal of a year in memory.

    Records archived and purged by retention are no longer in the store: the chain is checked
    from the anchor (the last purged record's number and hash, kept in the store). Pass
    ``archived`` (the journal records of every archive, in order — see
    :func:`govlink.sync.read_archive`) to check the chain from record 1 through the archives
    into the store.

    Raises :class:`JournalTampered` naming the first record (1-based number) that was altered,
    is missing, or does not link to its predecessor, or when the archives do not end at the
    anchor.
    """
    anchor_n, anchor_hash = _anchor(store)
    if archived is not None:
        end = verify_archived_journal(archived)
        if end != (anchor_n, anchor_hash):
            raise JournalTampered(
                f"the archives end at record {end[0]} but the store's chain continues from "
                f"record {anchor_n}: an archive is missing or was altered",
                record=min(end[0], anchor_n) + 1,
            )
    prev = anchor_hash
    expected = anchor_n + 1
    while True:
        with store.transaction(write=False) as conn:
            rows = conn.fetchall(
                "SELECT n, at, action, endpoint, count, digest, detail, prev, hash "
                "FROM sync_journal WHERE n >= ? ORDER BY n LIMIT ?",
                (expected, page),
            )
        if not rows:
            break
        for n, at, action, endpoint, count, digest, detail, stored_prev, stored_hash in rows:
            n = int(n)
            if n != expected:
                raise JournalTampered(
                    f"journal record {expected} is missing (next present is {n})", record=expected
                )
            if stored_prev != prev:
                raise JournalTampered(
                    f"journal record {n} does not link to record {n - 1}", record=n
                )
            computed = _record_hash(
                prev, n, float(at), action, endpoint, int(count), digest, detail
            )
            if computed != stored_hash:
                raise JournalTampered(f"journal record {n} was altered", record=n)
            prev = stored_hash
            expected += 1
    with store.transaction(write=False) as conn:
        head = conn.fetchone("SELECT n, hash FROM sync_journal_head WHERE id = 1")
    records = expected - 1
    if head is None and records == 0:
        head = (0, GENESIS)
    if head is None:
        if records:
            raise JournalTampered("journal head row is missing", record=records)
    elif int(head[0]) != records or head[1] != prev:
        missing = records + 1 if int(head[0]) > records else int(head[0])
        raise JournalTampered(
            f"journal ends at record {records} but its head says {int(head[0])}: "
            "records were removed from the end or the head was altered",
            record=missing,
        )
    return JournalReport(records=records, head_hash=prev)
