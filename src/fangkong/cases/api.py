from __future__ import annotations

from datetime import date, datetime

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja import Router, Schema, Status

from fangkong.accounts.roles import VIEW_CASES
from fangkong.cases import actions
from fangkong.cases.queries import access_case_by_id, access_cases, access_contacts, list_page

router = Router(tags=["cases"])


class CaseOut(Schema):
    id: int
    number: str
    person_id: int
    jurisdiction_code: str
    classification: str
    onset_date: date | None
    sampled_date: date | None
    reported_at: datetime
    isolated_at: datetime | None
    window_start: datetime
    protocol: str


class CasePageOut(Schema):
    items: list[CaseOut]
    next_after: int | None


class CaseIn(Schema):
    person_id: int
    classification: str
    onset_date: str = ""
    sampled_date: str = ""
    reported_at: str = ""
    isolation_place: str = ""


class ContactOut(Schema):
    id: int
    person_id: int
    jurisdiction_code: str
    degree: int
    case_id: int
    last_exposure: datetime
    status: str


class ContactPageOut(Schema):
    items: list[ContactOut]
    next_after: int | None


class FieldErrorsOut(Schema):
    errors: dict[str, str]


def _require_view(user) -> None:
    if not user.can(VIEW_CASES):
        raise Http404


def _case_out(case) -> CaseOut:
    return CaseOut(jurisdiction_code=case.jurisdiction_id, **_fields(case, CaseOut))


def _fields(obj, schema) -> dict:
    return {name: getattr(obj, name) for name in schema.model_fields if name != "jurisdiction_code"}


@router.get("/cases", response=CasePageOut, summary="Cases in my jurisdiction, newest first")
def list_cases(request: HttpRequest, after: int | None = None):
    _require_view(request.user)
    rows, next_after = list_page(access_cases(request.user), after, settings.PAGE_SIZE)
    return {"items": [_case_out(c) for c in rows], "next_after": next_after}


@router.get("/cases/{case_id}", response=CaseOut, summary="One case")
def get_case(request: HttpRequest, case_id: int):
    return _case_out(access_case_by_id(request.user, case_id))


@router.post("/cases", response={201: CaseOut, 400: FieldErrorsOut}, summary="Open a case")
def open_case(request: HttpRequest, data: CaseIn):
    try:
        clean = actions.check_case(request.user, data.person_id, data.dict())
    except actions.CaseInvalid as invalid:
        return Status(400, {"errors": invalid.errors})
    return Status(201, _case_out(actions.do_open_case(request.user, clean)))


@router.get("/contacts", response=ContactPageOut, summary="Contacts living in my jurisdiction")
def list_contacts(request: HttpRequest, status: str = "", after: int | None = None):
    _require_view(request.user)
    contacts = access_contacts(request.user)
    if status:
        contacts = contacts.filter(status=status)
    rows, next_after = list_page(contacts, after, settings.PAGE_SIZE)
    items = [
        ContactOut(jurisdiction_code=c.jurisdiction_id, **_fields(c, ContactOut)) for c in rows
    ]
    return {"items": items, "next_after": next_after}
