"""Append-only, hash-chained audit log of every write and every read of a person's details.

Each entry's hash is SHA-256 over the previous entry's hash and this entry's canonical JSON, so
changing any stored field, removing a row in the middle or reordering rows breaks the chain.
The head row (AuditHead) holds the newest sequence number and hash, updated in the same
transaction as the append; removing rows at the end makes the chain stop short of it. For
protection against someone who rewrites the head too, publish `fangkong audit head` elsewhere
(e.g. in the daily report) and pass it to `verify --expect-head`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from fangkong.accounts.models import AuditEntry, AuditHead

GENESIS = "0" * 64
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_username",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "jurisdiction_code",
    "reason",
    "details",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(prev_hash: str, values: dict[str, Any]) -> str:
    body = canonical_json({name: values[name] for name in HASHED_FIELDS})
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def _values_of(entry: AuditEntry) -> dict[str, Any]:
    values = {name: getattr(entry, name) for name in HASHED_FIELDS}
    values["at"] = _timestamp(entry.at)
    return values


def record(
    actor,
    action: str,
    *,
    object_type: str = "",
    object_id: Any = "",
    jurisdiction_code: str | None = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Call inside the transaction of the write it records."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1)
        entry = AuditEntry(
            seq=head.seq + 1,
            # Stored with microseconds so the hash recomputes identically on every backend.
            at=timezone.now(),
            actor_id=getattr(actor, "pk", None),
            actor_username=getattr(actor, "username", "") or ("system" if actor is None else ""),
            actor_role=getattr(actor, "role", "") or "",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            jurisdiction_code=jurisdiction_code or "",
            reason=reason or "",
            details=canonical_json(details or {}),
            prev_hash=head.hash,
        )
        entry.hash = entry_hash(head.hash, _values_of(entry))
        entry.save(force_insert=True)
        head.seq, head.hash = entry.seq, entry.hash
        head.save(update_fields=["seq", "hash"])
    return entry


def head() -> tuple[int, str]:
    """The newest entry's sequence number and hash, to publish outside the database."""
    row = AuditHead.objects.filter(id=1).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


@dataclass
class VerifyReport:
    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(chunk: int = 5000) -> Iterator[AuditEntry]:
    return AuditEntry.objects.order_by("seq").iterator(chunk_size=chunk)


def verify(expect_head: tuple[int, str] | None = None, max_problems: int = 50) -> VerifyReport:
    """Walk the whole chain; report every edited, missing, reordered or extra row found."""
    report = VerifyReport()
    report.head_seq, report.head_hash = head()
    prev_seq, prev_hash = 0, GENESIS
    for entry in _entries():
        report.checked += 1
        _check_entry(entry, prev_seq, prev_hash, report)
        prev_seq, prev_hash = entry.seq, entry.hash
        if len(report.problems) >= max_problems:
            report.problems.append("too many problems; stopped")
            return report
    _check_head(prev_seq, prev_hash, report, expect_head)
    return report


def _check_entry(entry: AuditEntry, prev_seq: int, prev_hash: str, report: VerifyReport) -> None:
    if entry.seq != prev_seq + 1:
        report.problems.append(
            f"entries {prev_seq + 1}..{entry.seq - 1} are missing (deleted)"
            if entry.seq > prev_seq + 1
            else f"entry {entry.seq} is out of sequence after {prev_seq}"
        )
    if entry.prev_hash != prev_hash:
        report.problems.append(f"entry {entry.seq} does not follow the entry before it")
    if entry_hash(entry.prev_hash, _values_of(entry)) != entry.hash:
        report.problems.append(f"entry {entry.seq} was changed after it was written")


def _check_head(
    last_seq: int, last_hash: str, report: VerifyReport, expect: tuple[int, str] | None
) -> None:
    if (last_seq, last_hash) != (report.head_seq, report.head_hash):
        report.problems.append(
            f"the chain ends at entry {last_seq} but the head records entry {report.head_seq}"
            " (entries removed from the end, or the head rewritten)"
        )
    if expect is None:
        return
    seq, digest = expect
    mine = AuditEntry.objects.filter(seq=seq).values_list("hash", flat=True).first()
    if mine != digest:
        report.problems.append(f"entry {seq} does not carry the published hash {digest[:12]}...")
