from __future__ import annotations

from ninja import Router, Schema

from fangkong.accounts import audit
from fangkong.accounts.roles import CAPABILITIES, VIEW_AUDIT

router = Router(tags=["accounts"])


class MeOut(Schema):
    username: str
    role: str
    jurisdiction_code: str | None
    capabilities: list[str]


class VerifyOut(Schema):
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str]


@router.get("/me", response=MeOut)
def me(request):
    user = request.user
    return {
        "username": user.username,
        "role": user.role,
        "jurisdiction_code": user.scope_code,
        "capabilities": sorted(CAPABILITIES.get(user.role, ())),
    }


@router.get("/audit/verify", response=VerifyOut)
def verify_audit(request):
    """Walk the whole audit chain (auditors only)."""
    if not request.user.can(VIEW_AUDIT):
        raise PermissionError("auditors only")
    report = audit.verify()
    return {**report.__dict__, "ok": report.ok}
