from __future__ import annotations

from datetime import datetime

from django.http import Http404, HttpRequest
from ninja import Router, Schema

from epicore import idcard
from fangkong.accounts.roles import VERIFY_CODES, Role
from fangkong.healthcode.service import code_of, read_scanned_code

router = Router(tags=["health codes"])


class ReasonOut(Schema):
    code: str
    colour: str
    zh: str
    en: str
    condition_zh: str
    condition_en: str


class MyCodeOut(Schema):
    colour: str
    token: str
    expires_at: datetime
    rule_set: str
    reasons: list[ReasonOut]


class ScanIn(Schema):
    token: str


class ScanOut(Schema):
    ok: bool
    error: str
    message: str
    colour: str  # the colour now (the token's may be minutes old)
    token_colour: str
    expires_at: datetime | None
    name: str  # masked: enough to match the face at the door


@router.get("/me/code", response=MyCodeOut, summary="My health code (residents)")
def my_code(request: HttpRequest):
    user = request.user
    if user.role != Role.RESIDENT or not user.person_id:
        raise Http404
    shown = code_of(user.person_id)
    return MyCodeOut(
        colour=shown.state.colour,
        token=shown.token,
        expires_at=shown.expires_at,
        rule_set=shown.state.rule_set,
        reasons=[
            ReasonOut(**{k: r[k] for k in ReasonOut.model_fields}) for r in shown.state.reasons
        ],
    )


@router.post("/healthcode/verify", response=ScanOut, summary="Read a scanned health code (解码)")
def verify(request: HttpRequest, data: ScanIn):
    if not request.user.can(VERIFY_CODES):
        raise PermissionError("your role may not read health codes")
    result = read_scanned_code(data.token)
    state = result.state
    return ScanOut(
        ok=result.ok,
        error=result.code,
        message=result.message,
        colour=state.colour if state else "",
        token_colour=result.token_colour,
        expires_at=result.expires_at,
        name=idcard.mask_name(state.person.name) if state else "",
    )
