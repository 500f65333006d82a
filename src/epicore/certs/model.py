"""What a decoder hands to the verifier, and the JSON-serialisable result of a verification."""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import cbor2

from epicore.certs.errors import CertError
from epicore.certs.signatures import Algorithm

DCC = "dcc"
SHC = "shc"
# A real payload (a DCC, a FHIR bundle) nests about ten levels; a hostile one could nest
# thousands, enough to exhaust Python's stack while it is converted.
MAX_NESTING = 100


@dataclass(frozen=True)
class Decoded:
    """A certificate taken apart but not yet trusted: what was signed, by which key, and when."""

    format: str
    algorithm: Algorithm | None  # None: the certificate names an algorithm we do not accept
    algorithm_label: str | None  # as named in the certificate, for the result
    kid: bytes | str | None  # DCC: bytes; SMART Health Card: the JWK thumbprint
    issuer: str | None
    issued_at: datetime | None
    expires_at: datetime | None
    not_before: datetime | None
    payload: Any  # JSON-safe already
    signed_bytes: bytes
    signature: bytes

    def kid_text(self) -> str | None:
        # DCC trust lists (EU gateway, national lists) print kids as standard base64.
        if isinstance(self.kid, bytes):
            return base64.b64encode(self.kid).decode("ascii")
        return self.kid


@dataclass
class VerificationResult:
    """One JSON object per verification (fields described in docs/certs.md)."""

    format: str | None = None
    verified: bool = False
    signature_valid: bool = False
    expired: bool | None = None
    not_yet_valid: bool | None = None
    algorithm: str | None = None
    kid: str | None = None
    issuer: str | None = None
    issued_at: str | None = None
    expires_at: str | None = None
    not_before: str | None = None
    checked_at: str | None = None
    signer: str | None = None
    payload: Any = None
    error: dict[str, Any] | None = None

    def fail(self, error: CertError) -> VerificationResult:
        self.verified = False
        self.error = {"code": error.code, "message": error.message, **json_safe(error.params)}
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def iso_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def instant(seconds: Any, claim: str, code: str) -> datetime | None:
    """A NumericDate (RFC 7519 section 2: seconds since the epoch, maybe fractional) or None."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise CertError(code, f'claim "{claim}" is not a number of seconds', claim=claim)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise CertError(code, f'claim "{claim}" is out of range: {seconds}', claim=claim) from exc


def safe_payload(value: Any, code: str) -> Any:
    """json_safe() for decoded certificate content, refusing absurd nesting with `code`."""
    try:
        return json_safe(value)
    except NestingTooDeep as exc:
        raise CertError(code, f"payload is nested more than {MAX_NESTING} levels deep") from exc


class NestingTooDeep(ValueError):
    pass


def json_safe(value: Any, depth: int = 0) -> Any:
    """CBOR or JSON data as JSON: dates as ISO strings, bytes as base64, map keys as strings."""
    if depth > MAX_NESTING:
        raise NestingTooDeep()
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return iso_time(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities are not JSON
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, cbor2.CBORTag):
        return {"tag": value.tag, "value": json_safe(value.value, depth + 1)}
    if value is cbor2.undefined:
        return None
    if isinstance(value, cbor2.CBORSimpleValue):
        return {"simple": value.value}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # anything cbor2 may add later (UUID, Fraction, ...) still serialises
