"""Device tokens: a venue scanner proves which registered device (and so which venue) it is.

    token = "fkd1." device_id "." venue_id "." expires_unix "." mac
    mac   = hex(HMAC-SHA256(device_key, "fkd1." device_id "." venue_id "." expires_unix))[:32]

device_key = HKDF-SHA256(FANGKONG_SECRET_KEY, salt="scanner-device", info=DEVICE_INFO): only the
platform can mint or check a token, and checking is a few microseconds with no database round
trip. The venue comes from the token, never from the request body, so a device can check people
in only at its own venue. Revocation (ScannerDevice.revoked_at) is what a signature cannot carry:
the server keeps a registry of devices, refreshed every few seconds (DeviceRegistry).
"""

from __future__ import annotations

import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fangkong.errors import Refused

PREFIX = "fkd1"
DEVICE_INFO = b"fangkong ingest scanner device v1"
DEFAULT_DEVICE_LIFETIME = timedelta(days=366)
MAC_HEX = 32  # 128 bits


class DeviceRefused(Refused):
    pass


class DeviceClaims(NamedTuple):  # a tuple: built once per scan, several times cheaper
    device_id: int
    venue_id: int
    expires_at: int  # Unix seconds


def device_key(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"scanner-device", info=DEVICE_INFO)
    return hkdf.derive(secret.encode("utf-8"))


def _mac(key: bytes, signed: str) -> str:
    # hmac.digest: the one-shot C path, no HMAC object per scan
    return hmac.digest(key, signed.encode("ascii"), "sha256").hex()[:MAC_HEX]


def sign_device_token(key: bytes, device_id: int, venue_id: int, expires_at: datetime) -> str:
    signed = f"{PREFIX}.{int(device_id)}.{int(venue_id)}.{int(expires_at.timestamp())}"
    return f"{signed}.{_mac(key, signed)}"


def verify_device_token(key: bytes, token: str, now: float | None = None) -> DeviceClaims:
    """The claims of a genuine, unexpired device token, or DeviceRefused."""
    parts = token.split(".")
    if len(parts) != 5 or parts[0] != PREFIX or not all(p.isdigit() for p in parts[1:4]):
        raise DeviceRefused("device_token_malformed", "the device token does not parse")
    signed = token[: token.rfind(".")]
    if not hmac.compare_digest(_mac(key, signed), parts[4]):
        raise DeviceRefused("device_token_forged", "the device token signature does not verify")
    claims = DeviceClaims(int(parts[1]), int(parts[2]), int(parts[3]))
    if (time.time() if now is None else now) >= claims.expires_at:
        raise DeviceRefused("device_token_expired", "the device token has expired")
    return claims


def issue_device(venue, label: str = "", issued_by=None, lifetime=DEFAULT_DEVICE_LIFETIME):
    """Register a scanner for `venue` and return (device, token). Audited."""
    from django.conf import settings
    from django.db import transaction

    from fangkong.accounts import audit
    from fangkong.ingest.models import ScannerDevice

    now = datetime.now(UTC)
    with transaction.atomic():
        device = ScannerDevice.objects.create(
            venue=venue,
            label=label,
            issued_at=now,
            expires_at=now + lifetime,
            issued_by=issued_by,
        )
        audit.record(
            issued_by,
            "ingest.device_issued",
            object_type="scanner_device",
            object_id=device.pk,
            jurisdiction_code=venue.jurisdiction_id,
            details={"venue": venue.pk, "label": label},
        )
    token = sign_device_token(
        device_key(settings.SECRET_KEY), device.pk, venue.pk, device.expires_at
    )
    return device, token


def revoke_device(device_id: int, actor=None) -> None:
    from django.db import transaction

    from fangkong.accounts import audit
    from fangkong.ingest.models import ScannerDevice

    with transaction.atomic():
        ScannerDevice.objects.filter(pk=device_id, revoked_at__isnull=True).update(
            revoked_at=datetime.now(UTC)
        )
        audit.record(
            actor, "ingest.device_revoked", object_type="scanner_device", object_id=device_id
        )
