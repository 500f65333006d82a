"""Pages for cases and contacts (流调专班)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from epicore import idcard
from fangkong.accounts.roles import EDIT_CASES, VIEW_CASES
from fangkong.cases import actions
from fangkong.cases.models import Classification, ContactStatus
from fangkong.cases.queries import (
    access_case_by_id,
    access_cases,
    access_contact_by_id,
    access_contacts,
    contacts_of_case,
    list_page,
)
from fangkong.people.queries import access_person_by_id


def _require(user, capability: str) -> None:
    if not user.can(capability):
        raise Http404


def _after(request) -> int | None:
    value = request.GET.get("after", "")
    return int(value) if value.isdigit() else None


@login_required
def case_list(request):
    _require(request.user, VIEW_CASES)
    cases = access_cases(request.user).select_related("person", "jurisdiction")
    chosen = request.GET.get("classification", "")
    if chosen in Classification.values:
        cases = cases.filter(classification=chosen)
    rows, next_after = list_page(cases, _after(request), settings.PAGE_SIZE)
    return render(
        request,
        "cases/case_list.html",
        {
            "cases": rows,
            "next_after": next_after,
            "chosen": chosen,
            "classifications": Classification.choices,
        },
    )


@login_required
def case_detail(request, case_id: int):
    case = access_case_by_id(request.user, case_id)
    contacts, elsewhere = contacts_of_case(request.user, case)
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": case,
            "person_name": idcard.mask_name(case.person.name),
            "contacts": contacts,
            "elsewhere": elsewhere,
            "events": case.events.select_related("by"),
            "can_edit": request.user.can(EDIT_CASES),
            "classifications": Classification.choices,
        },
    )


@login_required
def case_new(request, person_id: int):
    _require(request.user, EDIT_CASES)
    person = access_person_by_id(request.user, person_id, reason="open case")
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            clean = actions.check_case(request.user, person.pk, request.POST)
        except actions.CaseInvalid as invalid:
            errors = invalid.errors
        else:
            case = actions.do_open_case(request.user, clean)
            messages.success(request, _("Case %(number)s opened.") % {"number": case.number})
            return redirect("case", case_id=case.pk)
    return render(
        request,
        "cases/case_new.html",
        {
            "person": person,
            "person_name": idcard.mask_name(person.name),
            "errors": errors,
            "data": request.POST,
            "classifications": [c for c in Classification.choices if c[0] != "excluded"],
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def case_reclassify(request, case_id: int):
    case = access_case_by_id(request.user, case_id)
    _require(request.user, EDIT_CASES)
    try:
        actions.do_reclassify(
            request.user, case, request.POST.get("classification", ""), request.POST.get("note", "")
        )
    except actions.CaseInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("case", case_id=case.pk)


@login_required
def contact_list(request):
    _require(request.user, VIEW_CASES)
    contacts = access_contacts(request.user).select_related("person", "jurisdiction", "case")
    chosen = request.GET.get("status", "")
    if chosen in ContactStatus.values:
        contacts = contacts.filter(status=chosen)
    rows, next_after = list_page(contacts, _after(request), settings.PAGE_SIZE)
    return render(
        request,
        "cases/contact_list.html",
        {
            "rows": [(c, _next_statuses(c)) for c in rows],
            "next_after": next_after,
            "chosen": chosen,
            "statuses": ContactStatus.choices,
            "can_edit": request.user.can(EDIT_CASES),
        },
    )


def _next_statuses(contact) -> list[tuple[str, str]]:
    return [(s.value, s.label) for s in sorted(actions.NEXT_STATUS.get(contact.status, ()))]


@login_required
@require_POST
def contact_status(request, contact_id: int):
    contact = access_contact_by_id(request.user, contact_id)
    _require(request.user, EDIT_CASES)
    try:
        actions.do_set_contact_status(request.user, contact, request.POST.get("status", ""))
    except actions.CaseInvalid as invalid:
        messages.error(request, "; ".join(invalid.errors.values()))
    return redirect("contacts")
