"""The scan ingestion path without Django in the hot path: checks, then a batched transaction.

`Gate.admit` does everything that needs no database (route, device token, JSON, health token
signature and times): about 150 µs of CPU, most of it the Ed25519 signature (healthtoken.py).
A scan that passes becomes a `Scan`; scans are then recorded together, one call of the
PostgreSQL function ingest_record_scans() per batch (migrations/0002_record_function.py), in one
transaction of two statements:

1. lock the people of the batch (`FOR NO KEY UPDATE` on people_person, in id order, so two
   batches can never deadlock; it conflicts with the `SELECT ... FOR UPDATE` of the Django path
   in venues/scanning.py, so both paths serialise on the same person);
2. a new statement and so a new snapshot taken after the locks were granted: read the colour now
   (CodeState by subject), find the person's check-in at that venue in the last 10 minutes,
   insert a check-in where there is none, and answer each scan.

Scans of the same person at the same venue inside one batch are merged in Python before the SQL
(the first is recorded; the others answer its check-in, merged).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from epicore import idcard
from epicore.healthcode.tokens import TokenRejected
from fangkong.ingest.device import DeviceRefused, verify_device_token
from fangkong.ingest.healthtoken import HealthTokenVerifier

SCAN_PATH = "/scan"
MAX_BODY = 4096
# A scan is timestamped when admitted, before its batch takes the person's lock; a scan admitted
# a few milliseconds later by another worker may commit first. Looking that far past `t_in` too
# makes the two one visit, whichever commits first (docs/ingest.md, "Merging under concurrency").
SLACK = timedelta(seconds=10)  # the same figure is in ingest_record_scans()

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
    503: "Service Unavailable",
}


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def reply(self) -> Reply:
        return Reply(self.status, {"error": self.code, "message": self.message})


# One encoder for every answer: json.dumps with non-default options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


# NamedTuples, not frozen dataclasses: one of each per scan, and a frozen dataclass's __init__
# (object.__setattr__ per field) costs several times a tuple's.
class Reply(NamedTuple):
    status: int
    body: dict

    def encode(self) -> bytes:
        return _ENCODER.encode(self.body).encode("utf-8")


class Scan(NamedTuple):
    subject: str  # hex of the token's pseudonymous subject
    venue_id: int
    device_id: int
    t_in: datetime


class Gate:
    """The checks that need no database. `ring()` gives the current key ring, `devices` answers
    whether a device is registered and not revoked (see DeviceRegistry / DatabaseDevices)."""

    def __init__(self, ring, device_key: bytes, devices) -> None:
        self.ring, self.device_key, self.devices = ring, device_key, devices
        self.health = HealthTokenVerifier(ring)

    def admit(self, method: str, path: str, authorization: str, body: bytes, now: float) -> Scan:
        if path.split("?", 1)[0] != SCAN_PATH:
            raise Refused(404, "not_found", f"no endpoint at {path}")
        if method != "POST":
            raise Refused(405, "method_not_allowed", "scans are POSTed")
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Refused(
                401, "device_unauthenticated", "send Authorization: Bearer <device token>"
            )
        try:
            device = verify_device_token(self.device_key, credential.strip(), now)
        except DeviceRefused as refused:
            raise Refused(401, refused.code, refused.message) from None
        self.devices.check(device.device_id, device.venue_id)
        if len(body) > MAX_BODY:
            raise Refused(413, "body_too_large", f"a scan is at most {MAX_BODY} bytes")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "bad_request", "the body is not JSON") from None
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token.strip():
            raise Refused(400, "bad_request", 'send {"token": "<scanned health code>"}')
        at = datetime.fromtimestamp(now, UTC)
        try:
            subject = self.health.subject(token.strip(), at)
        except TokenRejected as rejected:
            raise Refused(400, rejected.code, rejected.message) from None
        return Scan(subject.hex(), device.venue_id, device.device_id, at)


def refuse_device(known_venue: bool, device_id: int, venue_id: int, revoked: bool) -> None:
    if revoked:
        raise Refused(403, "device_revoked", f"scanner {device_id} was revoked")
    if not known_venue:
        raise Refused(403, "unknown_venue", f"venue {venue_id} is not registered")
    raise Refused(
        403, "unknown_device", f"scanner {device_id} is not registered at venue {venue_id}"
    )


# -- the batch transaction (PostgreSQL) -------------------------------------------------------

# ingest_record_scans() is created by migrations/0002_record_function.py: it locks the batch's
# people, then (new statement, new snapshot) reads colours, merges and inserts.
RECORD_SQL = (
    "SELECT * FROM ingest_record_scans(%s::int[], %s::text[], %s::bigint[], %s::timestamptz[])"
)


@dataclass
class BatchPlan:
    scans: list[Scan]
    primary: list[int]  # index into scans of each scan sent to SQL
    first_of: list[int]  # for every scan: index of the primary it merges into (itself if primary)

    def record_params(self) -> tuple[str, str, str, str]:
        """The four arrays as PostgreSQL array literals, cast in RECORD_SQL. psycopg's list
        dumper costs ~40 µs per scan (a regex per element, a time zone lookup per timestamp);
        these elements never need quoting: digits, hex, and ISO 8601 times without spaces."""
        chosen = [self.scans[i] for i in self.primary]
        return (
            _array(map(str, self.primary)),
            _array(s.subject for s in chosen),
            _array(str(s.venue_id) for s in chosen),
            _array(s.t_in.isoformat() for s in chosen),
        )


def _array(elements) -> str:
    return "{" + ",".join(elements) + "}"


def plan(scans: list[Scan]) -> BatchPlan:
    seen: dict[tuple[str, int], int] = {}
    primary, first_of = [], []
    for i, scan in enumerate(scans):
        key = (scan.subject, scan.venue_id)
        first = seen.setdefault(key, i)
        if first == i:
            primary.append(i)
        first_of.append(first)
    return BatchPlan(scans, primary, first_of)


def replies(batch: BatchPlan, rows) -> list[Reply]:
    by_k: dict[int, Reply] = {}
    for k, person_id, colour, name, venue_ok, checkin_id, merged, t_in in rows:
        if person_id is None:
            by_k[k] = Refused(400, "unknown_subject", "no person holds this code").reply()
        elif not venue_ok:
            venue = batch.scans[k].venue_id
            by_k[k] = Refused(403, "unknown_venue", f"venue {venue} is not registered").reply()
        else:
            by_k[k] = Reply(
                200, _answer(checkin_id, merged, colour, batch.scans[k].venue_id, t_in, name)
            )
    out = []
    for i, first in enumerate(batch.first_of):
        reply = by_k[first]
        if i != first and reply.status == 200:
            reply = Reply(200, {**reply.body, "merged": True})
        out.append(reply)
    return out


def _answer(checkin_id, merged, colour, venue_id, t_in: datetime, name: str) -> dict:
    return {
        "checkin_id": checkin_id,
        "merged": bool(merged),
        "colour": colour,
        "venue_id": venue_id,
        "t_in": t_in.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "name": idcard.mask_name(name),
    }


def record_batch_sync(cursor, scans: list[Scan]) -> list[Reply]:
    """One batch through a DB-API cursor on PostgreSQL, inside the caller's transaction."""
    batch = plan(scans)
    cursor.execute(RECORD_SQL, batch.record_params())
    return replies(batch, cursor.fetchall())


async def record_batch_async(aconn, scans: list[Scan]) -> list[Reply]:
    """One batch on a psycopg AsyncConnection in autocommit mode: one statement, one round trip,
    one implicit transaction. psycopg returns only after the server's ReadyForQuery, which
    follows the COMMIT (and, with synchronous_commit on, the WAL flush)."""
    batch = plan(scans)
    cur = aconn.cursor()
    await cur.execute(RECORD_SQL, batch.record_params())
    return replies(batch, await cur.fetchall())
