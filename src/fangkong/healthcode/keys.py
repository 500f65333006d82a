"""The platform's signing keys: schedules in the database, private halves derived from the secret.

Private key = HKDF-SHA256(FANGKONG_SECRET_KEY, salt=<random per key>). The database keeps only the
salt and the public key, so a leaked backup cannot mint health codes; rotating the server secret
invalidates every key (rotate keys first, with overlap, when the secret must change).
"""

from __future__ import annotations

import functools
import secrets
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import transaction

from epicore.healthcode import keys as engine_keys
from epicore.healthcode.tokens import subject_pseudonym
from fangkong.accounts import audit
from fangkong.healthcode.models import SigningKey

KEY_INFO = b"fangkong signing key v1"
SUBJECT_INFO = b"fangkong health-code subject v1"


def _derive(info: bytes, salt: bytes) -> bytes:
    return _derived(info, salt, settings.SECRET_KEY)


@functools.lru_cache(maxsize=256)
def _derived(info: bytes, salt: bytes, secret: str) -> bytes:
    """Cached: recolouring a million people asked for the subject secret once per person
    (HKDF ~7 µs each). Keyed by the secret too, so a changed secret derives afresh."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info)
    return hkdf.derive(secret.encode("utf-8"))


def subject_for(person_id: int) -> bytes:
    """The pseudonym that stands for the person in their tokens."""
    return subject_pseudonym(_derive(SUBJECT_INFO, b"subject"), str(person_id))


def _entry(row: SigningKey) -> engine_keys.KeyEntry:
    seed = _derive(KEY_INFO, bytes.fromhex(row.salt))
    entry = engine_keys.new_key(row.purpose, row.not_before, seed=seed)
    if entry.kid != row.kid:
        raise RuntimeError(
            f"signing key {row.kid} does not match the server secret (was FANGKONG_SECRET_KEY "
            "changed?)"
        )
    return engine_keys.KeyEntry(
        kid=row.kid,
        public_key=entry.public_key,
        purpose=row.purpose,
        not_before=row.not_before,
        signs_until=row.signs_until,
        verify_until=row.verify_until,
        revoked_at=row.revoked_at,
        private_key=entry.private_key,
    )


_RING_CACHE: dict[tuple, engine_keys.KeyRing] = {}


def key_ring() -> engine_keys.KeyRing:
    """All keys with their private halves (cached until a key's schedule changes)."""
    rows = list(SigningKey.objects.order_by("kid"))
    signature = tuple(
        (r.kid, r.signs_until, r.verify_until, r.revoked_at, r.not_before) for r in rows
    )
    ring = _RING_CACHE.get(signature)
    if ring is None:
        ring = engine_keys.KeyRing([_entry(row) for row in rows])
        _RING_CACHE.clear()
        _RING_CACHE[signature] = ring
    return ring


def _create(purpose: str, at: datetime) -> SigningKey:
    salt = secrets.token_bytes(16)
    entry = engine_keys.new_key(purpose, at, seed=_derive(KEY_INFO, salt))
    return SigningKey.objects.create(
        kid=entry.kid,
        purpose=purpose,
        salt=salt.hex(),
        public_key=engine_keys.b64url(engine_keys.raw_public_bytes(entry.public_key)),
        not_before=at,
    )


def ensure_signing_keys(at: datetime) -> None:
    """Make sure each purpose has a key that can sign now (first start, or all revoked)."""
    ring = key_ring()
    for purpose in engine_keys.PURPOSES:
        try:
            ring.signing_key(purpose, at)
        except LookupError:
            with transaction.atomic():
                row = _create(purpose, at)
                audit.record(None, "healthcode.key_created", object_type="key", object_id=row.kid)


def rotate(purpose: str, at: datetime, overlap: timedelta = engine_keys.DEFAULT_OVERLAP) -> str:
    """A new signing key from `at`; earlier keys of the purpose verify until `at + overlap`."""
    with transaction.atomic():
        SigningKey.objects.filter(purpose=purpose, signs_until__isnull=True).update(
            signs_until=at, verify_until=at + overlap
        )
        row = _create(purpose, at)
        audit.record(None, "healthcode.key_rotated", object_type="key", object_id=row.kid)
    return row.kid


def revoke(kid: str, at: datetime) -> None:
    with transaction.atomic():
        SigningKey.objects.filter(kid=kid).update(revoked_at=at)
        audit.record(None, "healthcode.key_revoked", object_type="key", object_id=kid)


def public_key_set() -> dict:
    """The JWKS-like document checkpoints load to verify codes offline."""
    return key_ring().to_jwks()
