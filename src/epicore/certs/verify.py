"""Verify one QR text against a trust list at a given time.

Order of checks: decode every layer (a broken layer ends it, with the code of that layer), then
the signature (which key, does it match), then the validity period. Time fields are filled even
when the signature fails, and the payload is shown once decoded, but `verified` is true only when
everything passed; consumers must not use the payload of an unverified result as evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime

from epicore.certs import dcc, errors, shc
from epicore.certs.errors import CertError
from epicore.certs.model import DCC, SHC, Decoded, VerificationResult, iso_time
from epicore.certs.signatures import COSE_ALGORITHMS, JWS_ALGORITHMS, signature_matches
from epicore.certs.trust import TrustedKey, TrustList

# Far above the 4,296 characters a QR code can hold, even for a card of several chunks.
MAX_INPUT_CHARS = 64 * 1024
_ALLOWED = {
    DCC: ", ".join(a.name for a in COSE_ALGORITHMS.values()),
    SHC: ", ".join(JWS_ALGORITHMS),
}


def verify(text: str, trust: TrustList, at: datetime | None = None) -> VerificationResult:
    """Decode and verify an "HC1:" or "shc:/" text; never raises for bad input."""
    at = _as_utc(at) if at is not None else datetime.now(UTC)
    result = VerificationResult(checked_at=iso_time(at))
    try:
        lines = split_input(text)
        result.format = detect_format(lines[0])
        decoded = dcc.decode_dcc(lines[0]) if result.format == DCC else shc.decode_shc(lines)
    except CertError as exc:
        return result.fail(exc)
    _describe(result, decoded)
    time_error = _check_time(result, decoded, at)
    try:
        signer = find_signer(decoded, trust)
    except CertError as exc:
        return result.fail(exc)
    result.signature_valid = True
    result.signer = signer.describe()
    if time_error is not None:
        return result.fail(time_error)
    result.verified = True
    return result


def split_input(text: str) -> list[str]:
    """Non-empty lines of the input; only a chunked SMART Health Card may have several."""
    if len(text) > MAX_INPUT_CHARS:
        raise CertError(
            errors.INPUT_INVALID,
            f"input is {len(text)} characters, more than a QR code can hold",
            length=len(text),
        )
    lines = [line.strip().lstrip("\ufeff") for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise CertError(errors.INPUT_INVALID, "input is empty")
    if len(lines) > 1 and not all(line[:5].lower() == shc.PREFIX for line in lines):
        raise CertError(
            errors.INPUT_INVALID,
            f"input has {len(lines)} lines; give one QR text (or every chunk of one shc:/ card)",
        )
    return [_normalise_prefix(line) for line in lines]


def detect_format(line: str) -> str:
    if line.startswith(dcc.PREFIX):
        return DCC
    if line.startswith(shc.PREFIX):
        return SHC
    raise CertError(
        errors.UNKNOWN_PREFIX,
        f'text starts with {line[:5]!r}; expected "HC1:" (EU Digital COVID Certificate) or '
        '"shc:/" (SMART Health Card)',
    )


def find_signer(decoded: Decoded, trust: TrustList) -> TrustedKey:
    """The trusted key whose signature matches; raise CertError saying why there is none."""
    if decoded.algorithm is None:
        raise CertError(
            errors.ALG_UNSUPPORTED,
            f"signature algorithm {decoded.algorithm_label or '(none)'} is not accepted for "
            f"{decoded.format} (accepted: {_ALLOWED[decoded.format]})",
            algorithm=decoded.algorithm_label,
        )
    if decoded.kid is None:
        raise CertError(errors.KID_MISSING, "certificate names no key (kid header missing)")
    if not len(trust):
        raise CertError(errors.NO_TRUST_LIST, "no trust file was given, so no key is trusted")
    kid = decoded.kid_text()
    candidates = trust.for_dcc(decoded.kid) if decoded.format == DCC else trust.for_shc(kid)
    if not candidates:
        raise CertError(
            errors.UNKNOWN_KID, f"key {kid} is not in the trust list ({len(trust)} keys)", kid=kid
        )
    for key in candidates:
        if signature_matches(
            decoded.algorithm, key.public_key, decoded.signed_bytes, decoded.signature
        ):
            return key
    raise CertError(
        errors.SIGNATURE_INVALID,
        f"{decoded.algorithm.name} signature does not match the trusted key {kid}: the "
        "certificate was altered or signed by another key",
        kid=kid,
    )


def _describe(result: VerificationResult, decoded: Decoded) -> None:
    result.algorithm = decoded.algorithm_label
    result.kid = decoded.kid_text()
    result.issuer = decoded.issuer
    result.issued_at = iso_time(decoded.issued_at)
    result.expires_at = iso_time(decoded.expires_at)
    result.not_before = iso_time(decoded.not_before)
    result.payload = decoded.payload


def _check_time(result: VerificationResult, decoded: Decoded, at: datetime) -> CertError | None:
    """Fill `expired` and `not_yet_valid`; return the error to report if the signature is good.

    RFC 7519 section 4.1.4: the certificate must not be accepted on or after "exp". A DCC has no
    "nbf", but one whose "iat" lies after the checking time cannot be genuine yet, so the later
    of "nbf" and "iat" is the start of validity. Missing claims leave the answer unknown (null).
    """
    if decoded.expires_at is not None:
        result.expired = at >= decoded.expires_at
    starts = [t for t in (decoded.not_before, decoded.issued_at) if t is not None]
    if starts:
        result.not_yet_valid = at < max(starts)
    if result.expired:
        return CertError(
            errors.EXPIRED,
            f"certificate expired at {iso_time(decoded.expires_at)} (checked at {iso_time(at)})",
            expires_at=iso_time(decoded.expires_at),
        )
    if result.not_yet_valid:
        return CertError(
            errors.NOT_YET_VALID,
            f"certificate is valid only from {iso_time(max(starts))} (checked at {iso_time(at)})",
            valid_from=iso_time(max(starts)),
        )
    return None


def _normalise_prefix(line: str) -> str:
    # The prefixes are case-insensitive in practice (scanners differ); the data after is not.
    if line[:4].upper() == dcc.PREFIX:
        return dcc.PREFIX + line[4:]
    if line[:5].lower() == shc.PREFIX:
        return shc.PREFIX + line[5:]
    return line


def _as_utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC, so --at 2021-05-06T18:00 means the same anywhere."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
