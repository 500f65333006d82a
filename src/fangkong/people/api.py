from __future__ import annotations

from datetime import date

from django.http import Http404, HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from fangkong.accounts.roles import VIEW_PEOPLE
from fangkong.people import actions, importing
from fangkong.people.queries import (
    access_people_page,
    access_people_search,
    access_person_by_id,
    access_person_identifiers,
    present_person,
)

router = Router(tags=["people"])


class PersonOut(Schema):
    id: int
    name: str
    sex: str
    birth_date: date | None
    doc_type: str
    nationality: str
    doc_number: str
    phone: str
    jurisdiction_code: str
    address: str
    masked: bool


class PageOut(Schema):
    items: list[PersonOut]
    next_cursor: str | None


class PersonIn(Schema):
    doc_type: str = "resident_id"
    doc_number: str
    nationality: str = ""
    name: str
    phone: str = ""
    jurisdiction: str
    address: str = ""


class FieldErrorsOut(Schema):
    errors: dict[str, str]


class RevealIn(Schema):
    reason: str


class IdentifiersOut(Schema):
    doc_number: str
    phone: str


class RowErrorOut(Schema):
    row: int
    field: str
    message: str


class ImportOut(Schema):
    rows: int
    created: int
    updated: int
    unchanged: int
    committed: bool
    errors: list[RowErrorOut]


def _require_people_view(user) -> None:
    if not user.can(VIEW_PEOPLE):
        raise Http404


@router.get("", response=PageOut)
def list_people(
    request, jurisdiction: str | None = None, cursor: str | None = None, limit: int = 50
):
    """People in the caller's jurisdiction (or a subtree of it), identifiers masked.

    Keyset pagination: pass `next_cursor` back as `cursor` for the next page.
    """
    _require_people_view(request.user)
    page = access_people_page(request.user, jurisdiction, cursor, min(max(limit, 1), 500))
    return {"items": [present_person(p) for p in page.items], "next_cursor": page.next_cursor}


@router.get("/search", response=PageOut)
def search_people(request, q: str, cursor: int | None = None):
    """By document number, mobile number or the start of a name; the search is audited."""
    _require_people_view(request.user)
    rows, after = access_people_search(request.user, q, cursor)
    return {
        "items": [present_person(p) for p in rows],
        "next_cursor": str(after) if after else None,
    }


@router.get("/{int:person_id}", response=PersonOut)
def get_person(request, person_id: int, reason: str = ""):
    """One person (the read is audited), identifiers masked."""
    return present_person(access_person_by_id(request.user, person_id, reason))


@router.post("/{int:person_id}/reveal", response={200: IdentifiersOut, 422: FieldErrorsOut})
def reveal(request, person_id: int, payload: RevealIn):
    """The full document number and phone, for roles that need them; a reason is required."""
    if not payload.reason.strip():
        return Status(422, {"errors": {"reason": _("Say why you need the full identifiers.")}})
    return access_person_identifiers(request.user, person_id, payload.reason)


@router.post("", response={201: PersonOut, 409: FieldErrorsOut, 422: FieldErrorsOut})
def register(request: HttpRequest, payload: PersonIn):
    """Register a person; every invalid field is named in `errors`."""
    actions.check_may_edit(request.user)
    try:
        clean = actions.check_person(request.user, payload.dict())
        person = actions.do_register_person(request.user, clean)
    except actions.PersonInvalid as invalid:
        return Status(422, {"errors": invalid.errors})
    except actions.DuplicatePerson:
        return Status(409, {"errors": {"doc_number": _("This document is already registered.")}})
    return Status(201, present_person(person))


@router.post("/import", response={200: ImportOut, 422: FieldErrorsOut})
def import_file(request, file: File[UploadedFile], keep_good_rows: Form[bool] = False):
    """Import a CSV (UTF-8 or GBK) or xlsx list. All rows or none, unless `keep_good_rows`."""
    actions.check_may_edit(request.user)
    try:
        rows = importing.read_people_file(file.name or "", file.read())
    except importing.FileProblem as problem:
        return Status(422, {"errors": {"file": str(problem)}})
    report = actions.import_people(request.user, rows, keep_good_rows)
    return {**report.__dict__, "errors": [e.__dict__ for e in report.errors]}
