"""The health-code check of the hot path: epicore's verdicts at less than half the CPU.

`epicore.healthcode.tokens.verify_health_token` costs ~300 µs of CPU per scan on this machine:
~85 µs in its pure-Python base45 decoder and ~175 µs in OpenSSL's Ed25519 verify. Here the
common case, a well-formed health token, takes ~130 µs: base45 through `bytes.translate` and
`struct` (~13 µs), the signature through libsodium (PyNaCl, ~105 µs) and, for the key and the
times, epicore's own policy functions, so those rules exist once.

Anything this path does not accept (a malformed, foreign, expired or forged token, a revoked or
retired key, ...) is handed to `verify_health_token` itself, which refuses it with its own code,
or accepts it if the only doubt was ours. So nothing is accepted that epicore would refuse
(libsodium accepts a subset of what OpenSSL accepts: it also refuses non-canonical and
small-order points), and every refusal carries epicore's code. Tests compare both on mutated
tokens (tests/platform/test_ingest.py).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from epicore.base45 import ALPHABET
from epicore.healthcode.rules import Colour
from epicore.healthcode.tokens import (
    DEFAULT_SKEW,
    HEADER,
    HEALTH_BODY,
    PREFIX,
    SIGNATURE_SIZE,
    SIGNED_PREFIX,
    TYPE_HEALTH,
    TokenRejected,
    _check_times,  # the time and key rules stay epicore's: one copy of the policy
    _usable_key,
    verify_health_token,
)

try:  # libsodium verifies Ed25519 in ~60 % of OpenSSL's time here; OpenSSL is the fallback
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError
except ImportError:  # pragma: no cover - PyNaCl is a dependency; keep working without it
    crypto_sign_open = None
    BadSignatureError = InvalidSignature

PAYLOAD_SIZE = HEADER.size + HEALTH_BODY.size
TEXT_SIZE = len(PREFIX) + (PAYLOAD_SIZE + SIGNATURE_SIZE) // 2 * 3  # 94 bytes: no odd byte
GROUPS = struct.Struct(f">{(PAYLOAD_SIZE + SIGNATURE_SIZE) // 2}H")
MAX_COLOUR = max(Colour)
# base45 character -> digit; 0xFF marks a character outside the alphabet
_DIGITS = bytes(ALPHABET.index(chr(c)) if chr(c) in ALPHABET else 0xFF for c in range(256))


def b45decode_health(text: str) -> bytes | None:
    """The bytes of a health token's base45 text (all groups of 3), or None if it is not one.

    Same result as epicore.base45.b45decode where that succeeds; None where it raises (a foreign
    character, or a group above 65535, which struct refuses)."""
    try:
        digits = text.encode("ascii").translate(_DIGITS)
    except UnicodeEncodeError:
        return None
    if len(digits) % 3 or b"\xff" in digits:
        return None
    try:
        groups = zip(digits[0::3], digits[1::3], digits[2::3], strict=True)
        return struct.pack(f">{len(digits) // 3}H", *[a + b * 45 + c * 2025 for a, b, c in groups])
    except struct.error:
        return None


class HealthTokenVerifier:
    """`subject(text, at)`: the 16-byte subject of a valid health token, or TokenRejected.

    `ring()` gives the current key ring (it is replaced when the worker reloads it)."""

    def __init__(self, ring) -> None:
        self.ring = ring
        self._keys_of = None  # the ring the raw public keys below were taken from
        self._raw_keys: dict[bytes, bytes] = {}

    def subject(self, text: str, at: datetime) -> bytes:
        ring = self.ring()
        subject = self._fast(text, ring, at)
        if subject is None:  # not accepted here: epicore decides, and names the reason
            subject = verify_health_token(text, ring, at).subject
        return subject

    def _fast(self, text: str, ring, at: datetime) -> bytes | None:
        if len(text) != TEXT_SIZE or not text.startswith(PREFIX):
            return None
        raw = b45decode_health(text[len(PREFIX) :])
        if raw is None:
            return None
        payload, signature = raw[:PAYLOAD_SIZE], raw[PAYLOAD_SIZE:]
        kind, kid, issued_s, expires_s = HEADER.unpack_from(payload)
        colour, subject = HEALTH_BODY.unpack_from(payload, HEADER.size)
        if kind != TYPE_HEALTH or colour > MAX_COLOUR:
            return None
        issued = datetime.fromtimestamp(issued_s, UTC)
        try:
            key = _usable_key(ring, kid, "health", issued, at, DEFAULT_SKEW)
            _check_times(issued, datetime.fromtimestamp(expires_s, UTC), at, DEFAULT_SKEW)
        except TokenRejected:
            return None
        if not self._signature_ok(ring, kid, key, signature, SIGNED_PREFIX + payload):
            return None
        return subject

    def _signature_ok(self, ring, kid: bytes, key, signature: bytes, message: bytes) -> bool:
        try:
            if crypto_sign_open is None:
                key.public_key.verify(signature, message)
            else:
                crypto_sign_open(signature + message, self._raw_key(ring, kid, key))
        except (BadSignatureError, InvalidSignature, ValueError):
            return False
        return True

    def _raw_key(self, ring, kid: bytes, key) -> bytes:
        if self._keys_of is not ring:  # a reloaded ring: its keys may have changed
            self._keys_of, self._raw_keys = ring, {}
        raw = self._raw_keys.get(kid)
        if raw is None:
            raw = key.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
            self._raw_keys[kid] = raw
        return raw
