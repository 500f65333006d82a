"""Error codes of the certificate verifier.

Every failure carries one stable code (listed in docs/certs.md) so the platform can translate it;
the English message says exactly what was wrong, for logs and the command line.
"""

from __future__ import annotations

from epicore.errors import ValidationError

# Input as a whole.
INPUT_INVALID = "input_invalid"  # empty, too long, or several codes where one was expected
UNKNOWN_PREFIX = "unknown_prefix"  # neither "HC1:" (EU DCC) nor "shc:/" (SMART Health Card)

# EU Digital COVID Certificate (HC1).
BASE45_INVALID = "base45_invalid"
ZLIB_INVALID = "zlib_invalid"
CBOR_INVALID = "cbor_invalid"
COSE_INVALID = "cose_invalid"
CWT_INVALID = "cwt_invalid"

# SMART Health Card (shc:/).
SHC_NUMERIC_INVALID = "shc_numeric_invalid"
SHC_CHUNKS_INVALID = "shc_chunks_invalid"
JWS_INVALID = "jws_invalid"
DEFLATE_INVALID = "deflate_invalid"
SHC_PAYLOAD_INVALID = "shc_payload_invalid"

# Signature and trust.
ALG_UNSUPPORTED = "alg_unsupported"
KID_MISSING = "kid_missing"
NO_TRUST_LIST = "no_trust_list"
UNKNOWN_KID = "unknown_kid"
SIGNATURE_INVALID = "signature_invalid"
TRUST_FILE_INVALID = "trust_file_invalid"

# Time.
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
TIME_INVALID = "time_invalid"  # the --at option could not be read

# A bug in this package: reported rather than raised, so the CLI always prints one JSON object.
INTERNAL_ERROR = "internal_error"


class CertError(ValidationError):
    """A certificate that cannot be decoded or verified, or a trust file that cannot be read."""
