"""Signing keys for health and venue tokens: a key ring with rotation, overlap and revocation.

Each key has one purpose ("health" or "venue"), so a leaked poster key cannot mint health codes.
Rotation keeps the old key verifying for an overlap longer than any token it signed can live;
revocation rejects every token of a key at once, whatever its issue time (a thief can backdate).
The public half of the ring is published as a JWKS-like JSON document (RFC 7517 members plus
`fk_*` members for purpose and validity) that checkpoints load to verify offline.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PURPOSES = ("health", "venue")
KID_BYTES = 4  # short enough for the QR, long enough that a collision is refused at add()
# Tokens live minutes; a day of overlap covers them, a clock skew and a slow JWKS refresh.
DEFAULT_OVERLAP = timedelta(days=1)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 4 bytes of the RFC 7638 JWK thumbprint, as 8 hex digits: anyone can recompute it."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public_bytes(public_key))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).digest()[:KID_BYTES].hex()


@dataclass(frozen=True)
class KeyEntry:
    kid: str
    public_key: Ed25519PublicKey = field(compare=False, repr=False)
    purpose: str
    not_before: datetime
    signs_until: datetime | None = None  # after this it only verifies (rotated out)
    verify_until: datetime | None = None  # after this tokens of this key are refused
    revoked_at: datetime | None = None
    private_key: Ed25519PrivateKey | None = field(default=None, compare=False, repr=False)

    @property
    def kid_bytes(self) -> bytes:
        return bytes.fromhex(self.kid)

    def can_sign(self, at: datetime) -> bool:
        return (
            self.private_key is not None
            and self.revoked_at is None
            and self.not_before <= at
            and (self.signs_until is None or at < self.signs_until)
        )


def new_key(purpose: str, not_before: datetime, seed: bytes | None = None) -> KeyEntry:
    """A fresh Ed25519 key; a 32-byte `seed` makes it reproducible (test vectors only)."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    private = Ed25519PrivateKey.from_private_bytes(seed) if seed else Ed25519PrivateKey.generate()
    public = private.public_key()
    return KeyEntry(key_id(public), public, purpose, not_before, private_key=private)


class KeyRing:
    """Keys by id. The platform keeps the private ring; checkpoints load `from_jwks`."""

    def __init__(self, entries: list[KeyEntry] | tuple[KeyEntry, ...] = ()) -> None:
        self._by_kid: dict[bytes, KeyEntry] = {}
        for entry in entries:
            self.add(entry)

    def __iter__(self):
        return iter(sorted(self._by_kid.values(), key=lambda e: (e.purpose, e.not_before)))

    def add(self, entry: KeyEntry) -> None:
        if entry.kid_bytes in self._by_kid:
            raise ValueError(f"key id {entry.kid} is already in the ring")
        self._by_kid[entry.kid_bytes] = entry

    def get(self, kid: bytes) -> KeyEntry | None:
        return self._by_kid.get(kid)

    def signing_key(self, purpose: str, at: datetime) -> KeyEntry:
        """The newest key of `purpose` that may sign at `at`."""
        usable = [e for e in self if e.purpose == purpose and e.can_sign(at)]
        if not usable:
            raise LookupError(f"no {purpose} key can sign at {at.isoformat()}")
        return max(usable, key=lambda e: e.not_before)

    def rotate(self, new: KeyEntry, at: datetime, overlap: timedelta = DEFAULT_OVERLAP) -> KeyEntry:
        """Make `new` the signing key from `at`; earlier signers verify until `at + overlap`."""
        for entry in list(self):
            if entry.purpose == new.purpose and entry.signs_until is None:
                self._replace(entry, signs_until=at, verify_until=at + overlap)
        self.add(replace(new, not_before=at))
        return self._by_kid[new.kid_bytes]

    def revoke(self, kid: str, at: datetime) -> None:
        self._replace(self._by_kid[bytes.fromhex(kid)], revoked_at=at)

    def _replace(self, entry: KeyEntry, **changes) -> None:
        self._by_kid[entry.kid_bytes] = replace(entry, **changes)

    def to_jwks(self) -> dict:
        """The public key set to publish (revoked keys stay listed so they are refused by name)."""
        return {"keys": [_jwk(e) for e in self]}

    @classmethod
    def from_jwks(cls, document: dict) -> KeyRing:
        return cls([_entry_from_jwk(k) for k in document["keys"]])


def _seconds(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _moment(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def _jwk(entry: KeyEntry) -> dict:
    jwk = {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": entry.kid,
        "x": b64url(raw_public_bytes(entry.public_key)),
        "fk_purpose": entry.purpose,
        "fk_not_before": _seconds(entry.not_before),
        "fk_signs_until": _seconds(entry.signs_until),
        "fk_verify_until": _seconds(entry.verify_until),
        "fk_revoked_at": _seconds(entry.revoked_at),
    }
    return {k: v for k, v in jwk.items() if v is not None}


def _entry_from_jwk(jwk: dict) -> KeyEntry:
    if (jwk.get("kty"), jwk.get("crv")) != ("OKP", "Ed25519"):
        raise ValueError(f"key {jwk.get('kid')} is not an Ed25519 key")
    public = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    if key_id(public) != jwk["kid"]:
        raise ValueError(f"key id {jwk['kid']} does not match its key")
    return KeyEntry(
        kid=jwk["kid"],
        public_key=public,
        purpose=jwk["fk_purpose"],
        not_before=_moment(jwk["fk_not_before"]),
        signs_until=_moment(jwk.get("fk_signs_until")),
        verify_until=_moment(jwk.get("fk_verify_until")),
        revoked_at=_moment(jwk.get("fk_revoked_at")),
    )
