"""Signature algorithms shared by COSE (DCC) and JWS (SMART Health Cards).

Both formats carry ECDSA signatures as the raw concatenation r || s (RFC 8152 section 8.1,
RFC 7518 section 3.4), not the DER SEQUENCE that `cryptography` expects, so they are converted
here. RSASSA-PSS follows RFC 8230 section 2: MGF1 with the same hash and a salt as long as the hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class Algorithm:
    name: str  # the JOSE name, also used in results ("ES256", "PS256")
    family: str  # "ecdsa" or "pss"
    hash_size: int  # bytes


ES256 = Algorithm("ES256", "ecdsa", 32)
PS256 = Algorithm("PS256", "pss", 32)

# COSE algorithm identifiers (IANA "COSE Algorithms"; RFC 8152 section 8.1, RFC 8230 section 2).
# The DCC container format allows exactly these two: ES256 primary, PS256 secondary.
COSE_ALGORITHMS = {-7: ES256, -37: PS256}
# SMART Health Cards framework: "alg": "ES256" is the only permitted value.
JWS_ALGORITHMS = {"ES256": ES256}


def signature_matches(alg: Algorithm, key: PublicKey, message: bytes, signature: bytes) -> bool:
    """True when `signature` over `message` verifies under `key`; a wrong key type is False."""
    try:
        if alg.family == "ecdsa":
            return _ecdsa_matches(alg, key, message, signature)
        return _pss_matches(alg, key, message, signature)
    except InvalidSignature:
        return False


def _hash(alg: Algorithm) -> hashes.HashAlgorithm:
    return {32: hashes.SHA256(), 48: hashes.SHA384(), 64: hashes.SHA512()}[alg.hash_size]


def _ecdsa_matches(alg: Algorithm, key: PublicKey, message: bytes, signature: bytes) -> bool:
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.key_size != alg.hash_size * 8:
        return False
    if len(signature) != 2 * alg.hash_size:
        return False
    half = alg.hash_size
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    key.verify(encode_dss_signature(r, s), message, ec.ECDSA(_hash(alg)))
    return True


def _pss_matches(alg: Algorithm, key: PublicKey, message: bytes, signature: bytes) -> bool:
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    pss = padding.PSS(mgf=padding.MGF1(_hash(alg)), salt_length=alg.hash_size)
    key.verify(signature, message, pss, _hash(alg))
    return True
