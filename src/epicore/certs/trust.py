"""Trust list: the public keys a verifier accepts, found by the key identifier in a certificate.

Trust files may be X.509 certificates (PEM, possibly several in one file, or DER) or a JWKS
(RFC 7517 section 5: {"keys": [...]}). Each key is indexed twice:

- DCC: kid = the first 8 bytes of SHA-256 over the DER certificate (DCC technical
  specifications; "Key Identifier" in the Electronic Health Certificate Container Format). A JWKS
  entry may give it directly as the base64 "kid", or carry the certificate in "x5c".
- SMART Health Cards: kid = the RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical JWK),
  which the SMART Health Cards framework requires issuers to use. It is computed here from the
  key itself, never taken from the JWKS "kid", so a mislabelled key cannot be picked up.

Several keys may share a DCC kid (8 bytes can collide); the container format says a verifier
"MUST check all DSCs with that KID".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from epicore.certs import errors
from epicore.certs.errors import CertError
from epicore.certs.signatures import PublicKey

DCC_KID_BYTES = 8
_PEM_MARKER = b"-----BEGIN"


@dataclass(frozen=True)
class TrustedKey:
    public_key: PublicKey
    source: str  # file name, for the "signer" field of a result
    subject: str | None = None  # X.509 subject when the key came with a certificate
    dcc_kid: bytes | None = None
    shc_kid: str | None = None

    def describe(self) -> str:
        return f"{self.subject} ({self.source})" if self.subject else self.source


@dataclass
class TrustList:
    keys: list[TrustedKey] = field(default_factory=list)

    def add(self, key: TrustedKey) -> None:
        self.keys.append(key)

    def for_dcc(self, kid: bytes) -> list[TrustedKey]:
        return [k for k in self.keys if k.dcc_kid == kid]

    def for_shc(self, kid: str) -> list[TrustedKey]:
        return [k for k in self.keys if k.shc_kid == kid]

    def __len__(self) -> int:
        return len(self.keys)


def load_trust_files(paths: Iterable[str | Path]) -> TrustList:
    """Read every trust file into one list; an unreadable or malformed file raises CertError."""
    trust = TrustList()
    for path in paths:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _bad_file(path, f"cannot be read: {exc.strerror or exc}") from exc
        for key in parse_trust_bytes(data, path.name):
            trust.add(key)
    return trust


def parse_trust_bytes(data: bytes, source: str) -> list[TrustedKey]:
    """Keys in one trust file: JSON (JWKS), PEM certificates or one DER certificate."""
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        return _keys_from_jwks(stripped, source)
    if stripped.startswith(_PEM_MARKER):
        try:
            certificates = x509.load_pem_x509_certificates(stripped)
        except ValueError as exc:
            raise _bad_file(source, f"has no readable PEM certificate: {exc}") from exc
        return [key_from_certificate(c, source) for c in certificates]
    try:
        certificate = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise _bad_file(source, "is neither a JWKS, PEM nor DER certificate") from exc
    return [key_from_certificate(certificate, source)]


def key_from_certificate(certificate: x509.Certificate, source: str) -> TrustedKey:
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise _bad_file(source, "holds a certificate whose key is neither EC nor RSA")
    return TrustedKey(
        public_key=public_key,
        source=source,
        subject=certificate.subject.rfc4514_string(),
        dcc_kid=dcc_kid_of(certificate),
        shc_kid=jwk_thumbprint(public_key),
    )


def dcc_kid_of(certificate: x509.Certificate) -> bytes:
    """First 8 bytes of SHA-256 of the DER certificate (the DCC "Key Identifier")."""
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).digest()[:DCC_KID_BYTES]


def jwk_thumbprint(public_key: PublicKey) -> str | None:
    """RFC 7638 thumbprint of an EC P-256 key, the only kind SMART Health Cards use; else None."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != (
        "secp256r1"
    ):
        return None
    numbers = public_key.public_numbers()
    # RFC 7638 section 3.2: only the required members, in lexicographic order, no whitespace.
    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": _b64url_int(numbers.x), "y": _b64url_int(numbers.y)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def _keys_from_jwks(data: bytes, source: str) -> list[TrustedKey]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad_file(source, f"is not valid JSON: {exc}") from exc
    # A bare JWK is accepted as a JWKS of one key.
    entries = document.get("keys") if isinstance(document, dict) else None
    if entries is None and isinstance(document, dict) and "kty" in document:
        entries = [document]
    if not isinstance(entries, list):
        raise _bad_file(source, 'is JSON but not a JWKS (no "keys" array)')
    keys = []
    for index, entry in enumerate(entries):
        key = _key_from_jwk(entry, f"{source}#keys[{index}]")
        if key is not None:  # key types no certificate format uses are skipped
            keys.append(key)
    return keys


def _key_from_jwk(jwk: Any, source: str) -> TrustedKey | None:
    if not isinstance(jwk, dict):
        raise _bad_file(source, "is not a JSON object")
    if jwk.get("kty") == "EC":
        public_key: PublicKey = _ec_key(jwk, source)
    elif jwk.get("kty") == "RSA":
        public_key = _rsa_key(jwk, source)
    else:
        return None
    certificate = _x5c_certificate(jwk, source)
    if certificate is not None and certificate.public_key() != public_key:
        raise _bad_file(source, 'has an "x5c" certificate for a different key')
    return TrustedKey(
        public_key=public_key,
        source=source,
        subject=certificate.subject.rfc4514_string() if certificate else None,
        dcc_kid=dcc_kid_of(certificate) if certificate else _declared_dcc_kid(jwk),
        shc_kid=jwk_thumbprint(public_key),
    )


def _ec_key(jwk: dict, source: str) -> ec.EllipticCurvePublicKey:
    # RFC 7518 section 6.2.1; P-256 is the curve both formats use for ES256.
    if jwk.get("crv") != "P-256":
        raise _bad_file(source, f"has unsupported curve {jwk.get('crv')!r} (only P-256)")
    try:
        numbers = ec.EllipticCurvePublicNumbers(
            _jwk_int(jwk, "x", source), _jwk_int(jwk, "y", source), ec.SECP256R1()
        )
        return numbers.public_key()
    except ValueError as exc:
        raise _bad_file(source, f"has an invalid EC point: {exc}") from exc


def _rsa_key(jwk: dict, source: str) -> rsa.RSAPublicKey:
    try:
        numbers = rsa.RSAPublicNumbers(_jwk_int(jwk, "e", source), _jwk_int(jwk, "n", source))
        return numbers.public_key()
    except ValueError as exc:
        raise _bad_file(source, f"has an invalid RSA key: {exc}") from exc


def _x5c_certificate(jwk: dict, source: str) -> x509.Certificate | None:
    """RFC 7517 section 4.7: x5c[0] is standard base64 DER of the key's own certificate."""
    chain = jwk.get("x5c")
    if not chain:
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode(chain[0], validate=True))
    except (TypeError, binascii.Error, ValueError) as exc:
        raise _bad_file(source, f'has an unreadable "x5c" certificate: {exc}') from exc


def _declared_dcc_kid(jwk: dict) -> bytes | None:
    """A DCC trust list JWK names its key by the base64 of the 8-byte kid (e.g. "2Rk3X8HntrI=")."""
    kid = jwk.get("kid")
    if not isinstance(kid, str):
        return None
    try:
        raw = base64.b64decode(kid, validate=True)
    except (binascii.Error, ValueError):
        return None
    # SMART Health Card kids are 43-character base64url thumbprints; they are not DCC kids.
    return raw if len(raw) == DCC_KID_BYTES else None


def _jwk_int(jwk: dict, name: str, source: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise _bad_file(source, f'lacks the "{name}" member')
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise _bad_file(source, f'has a "{name}" that is not base64url') from exc
    return int.from_bytes(raw, "big")


def _b64url_int(value: int) -> str:
    # RFC 7518 section 6.2.1.2: P-256 coordinates are always 32 bytes, leading zeros kept.
    return _b64url(value.to_bytes(32, "big"))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _bad_file(source: str | Path, problem: str) -> CertError:
    return CertError(errors.TRUST_FILE_INVALID, f"trust file {source} {problem}", file=str(source))
