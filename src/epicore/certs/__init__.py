"""Verify inbound travellers' health certificates (外防输入): EU DCC and SMART Health Cards.

    from epicore.certs import load_trust_files, verify
    result = verify(qr_text, load_trust_files(["dsc.pem", "issuer-jwks.json"]))
    result.verified, result.error, result.to_dict()

Formats, trust files, result fields and error codes: docs/certs.md.
"""

from epicore.certs.errors import CertError
from epicore.certs.model import VerificationResult
from epicore.certs.trust import TrustedKey, TrustList, load_trust_files, parse_trust_bytes
from epicore.certs.verify import verify

__all__ = [
    "CertError",
    "TrustList",
    "TrustedKey",
    "VerificationResult",
    "load_trust_files",
    "parse_trust_bytes",
    "verify",
]
