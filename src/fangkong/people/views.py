from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.queries import require_capability
from fangkong.accounts.roles import EDIT_CASES, EDIT_PEOPLE, VIEW_PEOPLE
from fangkong.geo.queries import access_jurisdiction_by_code
from fangkong.people import actions, importing
from fangkong.people.models import DocType
from fangkong.people.queries import (
    access_people_page,
    access_people_search,
    access_person_by_id,
    access_person_identifiers,
    may_reveal,
    present_person,
)
from fangkong.venues.queries import recent_checkins_of


@login_required
def people_list(request):
    require_capability(request.user, VIEW_PEOPLE)
    query = request.GET.get("q", "").strip()
    code = request.GET.get("j") or request.user.scope_code
    node = access_jurisdiction_by_code(request.user, code)
    if query:
        after = request.GET.get("after")
        rows, next_after = access_people_search(request.user, query, int(after) if after else None)
        next_link = f"?q={query}&after={next_after}" if next_after else None
    else:
        page = access_people_page(request.user, code, request.GET.get("cursor"))
        rows = page.items
        next_link = f"?j={code}&cursor={page.next_cursor}" if page.next_cursor else None
    return render(
        request,
        "people/list.html",
        {
            "node": node,
            "query": query,
            "people": [present_person(p) for p in rows],
            "next_link": next_link,
            "can_edit": request.user.can(EDIT_PEOPLE),
        },
    )


@login_required
def person_detail(request, person_id: int):
    person = access_person_by_id(request.user, person_id, request.GET.get("reason", ""))
    return _render_person(request, person, None)


def _render_person(request, person, revealed):
    return render(
        request,
        "people/detail.html",
        {
            "person": person,
            "shown": present_person(person, revealed),
            "can_reveal": may_reveal(request.user, person) and not revealed,
            "checkins": recent_checkins_of(person),
            "can_open_case": request.user.can(EDIT_CASES),
            "can_see_code_history": request.user.can(VIEW_PEOPLE),
        },
    )


@login_required
@require_POST
def person_reveal(request, person_id: int):
    reason = request.POST.get("reason", "").strip()
    if not reason:
        messages.error(request, _("Say why you need the full identifiers."))
        return redirect("person", person_id=person_id)
    try:
        revealed = access_person_identifiers(request.user, person_id, reason)
    except PermissionError:
        raise PermissionDenied from None
    person = access_person_by_id(request.user, person_id, reason)
    return _render_person(request, person, revealed)


@login_required
def person_new(request):
    require_capability(request.user, EDIT_PEOPLE)
    errors: dict[str, str] = {}
    data = request.POST if request.method == "POST" else {"jurisdiction": request.GET.get("j", "")}
    if request.method == "POST":
        try:
            person = actions.do_register_person(
                request.user, actions.check_person(request.user, request.POST)
            )
            messages.success(request, _("Person registered."))
            return redirect("person", person_id=person.pk)
        except actions.PersonInvalid as invalid:
            errors = invalid.errors
        except actions.DuplicatePerson:
            errors = {"doc_number": _("This document is already registered.")}
    return render(
        request,
        "people/new.html",
        {"data": data, "errors": errors, "doc_types": DocType.choices},
    )


@login_required
def people_import(request):
    require_capability(request.user, EDIT_PEOPLE)
    context: dict = {}
    if request.method == "POST" and request.FILES.get("file"):
        upload = request.FILES["file"]
        try:
            rows = importing.read_people_file(upload.name, upload.read())
            context["report"] = actions.import_people(
                request.user, rows, keep_good_rows=bool(request.POST.get("keep_good_rows"))
            )
        except importing.FileProblem as problem:
            context["file_problem"] = str(problem)
    return render(request, "people/import.html", context)
