"""Signed, short-lived health-code tokens and long-lived venue-poster tokens ("FK1" format).

Text form: "FK1:" + base45(payload + Ed25519 signature). The signature covers the ASCII prefix
and the payload, so a token cannot be replayed under another format version. The payload is a
fixed binary layout (docs/healthcode.md, byte by byte): 13 header bytes (type, key id, issued at,
expires at) then the body. A health token is 94 bytes, 145 characters: QR version 6 at level M.

The token carries no identity number, phone or name: the subject is an HMAC of the platform's
internal person id under a server secret, so only the platform can link it to a person.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cryptography.exceptions import InvalidSignature

from epicore.base45 import Base45Error, b45decode, b45encode
from epicore.errors import ValidationError
from epicore.healthcode.keys import KeyEntry, KeyRing
from epicore.healthcode.rules import Colour

FORMAT_VERSION = 1
PREFIX = f"FK{FORMAT_VERSION}:"
SIGNED_PREFIX = PREFIX.encode("ascii")
TYPE_HEALTH = 0x01
TYPE_VENUE = 0x02
HEADER = struct.Struct(">B4sII")  # type, key id, issued at, expires at (Unix seconds, uint32)
HEALTH_BODY = struct.Struct(">B16s")  # colour, subject
SIGNATURE_SIZE = 64
SUBJECT_SIZE = 16  # 128-bit pseudonym: collisions need ~2^64 people
SUBJECT_LABEL = b"fangkong/healthcode/subject/v1\x00"  # domain separation for the HMAC

# A screenshot of a code stops working within minutes, while a phone that was offline for a
# short while and a checkpoint scanner with a drifting clock still agree. Apps redraw the code
# every minute (as provincial codes did, "截图无效"), well inside this window.
DEFAULT_LIFETIME = timedelta(minutes=5)
# Phones and scanners set their clocks from the network; 30 s covers ordinary drift.
DEFAULT_SKEW = timedelta(seconds=30)
# A poster is printed once and stays on the door; it is re-issued yearly or when keys rotate.
DEFAULT_VENUE_LIFETIME = timedelta(days=366)

# Venue kinds by byte value; new kinds are appended, never renumbered.
VENUE_KINDS = (
    "other",
    "residential",  # 小区 / 村
    "market",  # 商超 / 农贸市场
    "restaurant",
    "medical",  # 医疗机构 / 药店
    "school",
    "transport",  # 车站 / 机场 / 码头
    "workplace",
    "hotel",
    "entertainment",
    "public_service",  # 政务服务大厅
    "checkpoint",  # 通道卡口
)


class Rejected:
    """Why a token was refused; the `code` of TokenRejected."""

    WRONG_PREFIX = "token_wrong_prefix"
    UNSUPPORTED_VERSION = "token_unsupported_version"
    MALFORMED = "token_malformed"
    TRUNCATED = "token_truncated"
    WRONG_TYPE = "token_wrong_type"
    UNKNOWN_KEY = "token_unknown_key"
    REVOKED_KEY = "token_revoked_key"
    RETIRED_KEY = "token_retired_key"
    WRONG_KEY_PURPOSE = "token_wrong_key_purpose"
    BAD_SIGNATURE = "token_bad_signature"
    EXPIRED = "token_expired"
    NOT_YET_VALID = "token_not_yet_valid"
    REPLAYED = "token_replayed"


class TokenRejected(ValidationError):
    pass


@dataclass(frozen=True)
class HealthClaims:
    kid: str
    issued_at: datetime
    expires_at: datetime
    colour: Colour
    subject: bytes
    token_id: str


@dataclass(frozen=True)
class VenueClaims:
    kid: str
    issued_at: datetime
    expires_at: datetime
    venue_kind: str
    jurisdiction: str
    venue_id: str
    token_id: str


class ReplayCache(Protocol):
    """Remembers token ids until they expire. Back it with Redis: SET id 1 NX PXAT expires."""

    def first_use(self, token_id: str, expires_at: datetime, at: datetime) -> bool:
        """Record the id atomically; True the first time, False if it was already seen."""
        ...


class MemoryReplayCache:
    """One process only (tests, a single checkpoint device); expired ids are dropped lazily."""

    PURGE_EVERY = 1024

    def __init__(self) -> None:
        self._expiry: dict[str, datetime] = {}
        self._inserts = 0

    def first_use(self, token_id: str, expires_at: datetime, at: datetime) -> bool:
        known = self._expiry.get(token_id)
        if known is not None and known > at:
            return False
        self._expiry[token_id] = expires_at
        self._inserts += 1
        if self._inserts % self.PURGE_EVERY == 0:
            self._expiry = {k: v for k, v in self._expiry.items() if v > at}
        return True

    def __len__(self) -> int:
        return len(self._expiry)


def subject_pseudonym(secret: bytes, person_id: str) -> bytes:
    """HMAC-SHA256 of the internal person id, truncated: stable per person, useless without the key."""
    digest = hmac.new(secret, SUBJECT_LABEL + person_id.encode("utf-8"), hashlib.sha256)
    return digest.digest()[:SUBJECT_SIZE]


def issue_health_token(
    ring: KeyRing,
    subject: bytes,
    colour: Colour,
    at: datetime,
    lifetime: timedelta = DEFAULT_LIFETIME,
) -> str:
    if len(subject) != SUBJECT_SIZE:
        raise ValueError(f"subject must be {SUBJECT_SIZE} bytes (use subject_pseudonym)")
    key = ring.signing_key("health", at)
    body = HEALTH_BODY.pack(int(colour), subject)
    return sign_token(key, TYPE_HEALTH, at, at + lifetime, body)


def issue_venue_token(
    ring: KeyRing,
    venue_id: str,
    venue_kind: str,
    jurisdiction: str,
    at: datetime,
    lifetime: timedelta = DEFAULT_VENUE_LIFETIME,
) -> str:
    key = ring.signing_key("venue", at)
    return sign_token(
        key, TYPE_VENUE, at, at + lifetime, _venue_body(venue_id, venue_kind, jurisdiction)
    )


def _venue_body(venue_id: str, venue_kind: str, jurisdiction: str) -> bytes:
    if not jurisdiction.isascii() or not jurisdiction.isdigit() or len(jurisdiction) > 15:
        raise ValueError("jurisdiction must be a GB/T 2260 style code of up to 15 digits")
    venue = venue_id.encode("utf-8")
    if not 0 < len(venue) < 256:
        raise ValueError("venue id must be 1..255 bytes of UTF-8")
    kind = VENUE_KINDS.index(venue_kind)
    code = jurisdiction.encode("ascii")
    return bytes([kind, len(code)]) + code + bytes([len(venue)]) + venue


def sign_token(
    key: KeyEntry, token_type: int, issued: datetime, expires: datetime, body: bytes
) -> str:
    """Low level: header + body, signed by `key`, as FK1 text."""
    if key.private_key is None:
        raise ValueError(f"key {key.kid} has no private half")
    header = HEADER.pack(token_type, key.kid_bytes, _unix(issued), _unix(expires))
    payload = header + body
    signature = key.private_key.sign(SIGNED_PREFIX + payload)
    return PREFIX + b45encode(payload + signature)


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def verify_health_token(
    text: str,
    ring: KeyRing,
    at: datetime,
    skew: timedelta = DEFAULT_SKEW,
    replay_cache: ReplayCache | None = None,
) -> HealthClaims:
    """The claims of a valid health token at `at`, or TokenRejected with a Rejected code."""
    payload, kid, issued, expires = _verified(text, TYPE_HEALTH, "health", ring, at, skew)
    if len(payload) != HEADER.size + HEALTH_BODY.size:
        raise _reject(Rejected.MALFORMED, "health token has the wrong length")
    colour_byte, subject = HEALTH_BODY.unpack_from(payload, HEADER.size)
    if colour_byte > max(Colour):
        raise _reject(Rejected.MALFORMED, f"colour byte {colour_byte} is unknown")
    claims = HealthClaims(kid, issued, expires, Colour(colour_byte), subject, token_id(payload))
    if replay_cache is not None and not replay_cache.first_use(claims.token_id, expires, at):
        raise _reject(Rejected.REPLAYED, "token was already used")
    return claims


def verify_venue_token(
    text: str, ring: KeyRing, at: datetime, skew: timedelta = DEFAULT_SKEW
) -> VenueClaims:
    payload, kid, issued, expires = _verified(text, TYPE_VENUE, "venue", ring, at, skew)
    try:
        kind, jurisdiction, venue_id = _parse_venue_body(payload[HEADER.size :])
    except (IndexError, ValueError, UnicodeDecodeError):
        raise _reject(Rejected.MALFORMED, "venue token body does not parse") from None
    return VenueClaims(kid, issued, expires, kind, jurisdiction, venue_id, token_id(payload))


def _parse_venue_body(body: bytes) -> tuple[str, str, str]:
    kind = VENUE_KINDS[body[0]]
    code_end = 2 + body[1]
    jurisdiction = body[2:code_end].decode("ascii")
    venue_end = code_end + 1 + body[code_end]
    if venue_end != len(body) or not jurisdiction.isdigit():
        raise ValueError("venue body lengths do not add up")
    return kind, jurisdiction, body[code_end + 1 : venue_end].decode("utf-8")


def token_id(payload: bytes) -> str:
    """Identifies a token for replay caches (the payload fixes the deterministic signature)."""
    return hashlib.sha256(payload).hexdigest()[:32]


def _reject(code: str, message: str) -> TokenRejected:
    return TokenRejected(code, message)


def _verified(
    text: str, token_type: int, purpose: str, ring: KeyRing, at: datetime, skew: timedelta
) -> tuple[bytes, str, datetime, datetime]:
    """Checks shared by both token types, cheapest first; returns the signed payload."""
    payload, signature = _split(text)
    kind, kid, issued_s, expires_s = HEADER.unpack_from(payload)
    if kind != token_type:
        raise _reject(Rejected.WRONG_TYPE, f"token type {kind} is not {token_type}")
    issued = datetime.fromtimestamp(issued_s, UTC)
    key = _usable_key(ring, kid, purpose, issued, at, skew)
    try:
        key.public_key.verify(signature, SIGNED_PREFIX + payload)
    except InvalidSignature:
        raise _reject(Rejected.BAD_SIGNATURE, "signature does not verify") from None
    expires = datetime.fromtimestamp(expires_s, UTC)
    _check_times(issued, expires, at, skew)
    return payload, key.kid, issued, expires


def _split(text: str) -> tuple[bytes, bytes]:
    if not text.startswith(PREFIX):
        raise _prefix_error(text)
    try:
        raw = b45decode(text[len(PREFIX) :])
    except Base45Error as error:
        raise _reject(Rejected.MALFORMED, str(error)) from None
    if len(raw) < HEADER.size + SIGNATURE_SIZE:
        raise _reject(Rejected.TRUNCATED, f"token has {len(raw)} bytes, too few")
    if raw[0] == TYPE_HEALTH and len(raw) < HEADER.size + HEALTH_BODY.size + SIGNATURE_SIZE:
        raise _reject(Rejected.TRUNCATED, f"health token has {len(raw)} bytes, too few")
    return raw[:-SIGNATURE_SIZE], raw[-SIGNATURE_SIZE:]


def _prefix_error(text: str) -> TokenRejected:
    head, colon, _ = text.partition(":")
    if colon and head.startswith("FK") and head[2:].isdigit():
        return _reject(Rejected.UNSUPPORTED_VERSION, f"format {head} is not {PREFIX[:-1]}")
    return _reject(Rejected.WRONG_PREFIX, f"token does not start with {PREFIX}")


def _usable_key(
    ring: KeyRing, kid: bytes, purpose: str, issued: datetime, at: datetime, skew: timedelta
) -> KeyEntry:
    key = ring.get(kid)
    if key is None:
        raise _reject(Rejected.UNKNOWN_KEY, f"key {kid.hex()} is not published")
    if key.revoked_at is not None and at >= key.revoked_at:
        raise _reject(Rejected.REVOKED_KEY, f"key {key.kid} was revoked")
    if key.purpose != purpose:
        raise _reject(Rejected.WRONG_KEY_PURPOSE, f"key {key.kid} signs {key.purpose} tokens")
    if key.verify_until is not None and at > key.verify_until:
        raise _reject(Rejected.RETIRED_KEY, f"key {key.kid} was retired")
    if key.signs_until is not None and issued > key.signs_until + skew:
        # A rotated-out key signing new tokens means a stolen key or a misconfigured server.
        raise _reject(Rejected.RETIRED_KEY, f"key {key.kid} no longer signs")
    return key


def _check_times(issued: datetime, expires: datetime, at: datetime, skew: timedelta) -> None:
    if issued > at + skew:
        raise _reject(Rejected.NOT_YET_VALID, "token was issued in the future")
    if at >= expires + skew:
        raise _reject(Rejected.EXPIRED, "token has expired")
