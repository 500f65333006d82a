"""Issuing a resident's code and reading a scanned one: what pages and the API call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from epicore import healthcode as engine
from epicore.healthcode import qr
from epicore.healthcode.tokens import (
    DEFAULT_LIFETIME,
    TokenRejected,
    issue_health_token,
    verify_health_token,
)
from fangkong.healthcode.keys import ensure_signing_keys, key_ring
from fangkong.healthcode.models import CodeState
from fangkong.healthcode.recolour import ensure_state


@dataclass(frozen=True)
class ShownCode:
    state: CodeState
    token: str
    expires_at: datetime
    svg: str


def code_of(person_id: int, at: datetime | None = None) -> ShownCode:
    """The person's current colour and a freshly signed, short-lived token with its QR."""
    at = at or timezone.now()
    ensure_signing_keys(at)
    state = ensure_state(person_id)
    colour = engine.Colour.from_code(state.colour)
    token = issue_health_token(key_ring(), bytes.fromhex(state.subject), colour, at)
    # The token carries whole seconds (epicore.healthcode.tokens): its expiry, without verifying.
    expires_at = datetime.fromtimestamp(int(at.timestamp()), UTC) + DEFAULT_LIFETIME
    return ShownCode(state, token, expires_at, inline_svg(qr.health_qr_svg(token, colour)))


def inline_svg(document: bytes) -> str:
    """An SVG file as markup to put inside a page (without its XML declaration)."""
    svg = document.decode("utf-8")
    return svg.split("?>", 1)[1].lstrip() if svg.startswith("<?xml") else svg


@dataclass(frozen=True)
class ScanResult:
    ok: bool
    code: str  # rejection code when not ok
    message: str
    state: CodeState | None = None
    token_colour: str = ""
    expires_at: datetime | None = None


def read_scanned_code(text: str, at: datetime | None = None) -> ScanResult:
    """Verify a scanned token and answer the person's colour now (it may have changed since the
    token was issued a few minutes ago: the stored colour wins)."""
    at = at or timezone.now()
    try:
        claims = verify_health_token(text.strip(), key_ring(), at)
    except TokenRejected as rejected:
        return ScanResult(False, rejected.code, rejected.message)
    state = CodeState.objects.filter(subject=claims.subject.hex()).select_related("person").first()
    if state is None:
        return ScanResult(False, "unknown_subject", "no person holds this code")
    return ScanResult(True, "", "", state, claims.colour.code, claims.expires_at)
