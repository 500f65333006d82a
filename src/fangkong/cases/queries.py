"""Reads of cases and contacts. A case is seen inside the subtree of its reporting jurisdiction;
a contact inside the subtree where the person now lives. Everything else is 404."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from fangkong.accounts.roles import VIEW_CASES
from fangkong.cases.models import Case, Contact
from fangkong.geo.models import in_subtree


def _scoped(user, queryset: QuerySet) -> QuerySet:
    if not user.is_authenticated or not user.can(VIEW_CASES) or not user.scope_code:
        return queryset.none()
    return queryset.filter(in_subtree("jurisdiction_id", user.scope_code))


def access_cases(user) -> QuerySet[Case]:
    return _scoped(user, Case.objects.all())


def access_case_by_id(user, case_id: int) -> Case:
    case = access_cases(user).select_related("person", "jurisdiction").filter(pk=case_id).first()
    if case is None:
        raise Http404
    return case


def access_contacts(user) -> QuerySet[Contact]:
    return _scoped(user, Contact.objects.all())


def access_contact_by_id(user, contact_id: int) -> Contact:
    contact = (
        access_contacts(user)
        .select_related("person", "jurisdiction", "case")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise Http404
    return contact


def contacts_of_case(user, case: Case) -> tuple[list[Contact], int]:
    """The case's contacts the user may see, and how many more live outside their scope.

    Contacts elsewhere are the receiving jurisdiction's to handle (assistance requests); the
    case's tracer learns how many there are, not who they are.
    """
    visible = list(
        access_contacts(user)
        .filter(case=case)
        .select_related("person", "jurisdiction")
        .order_by("degree", "id")[:500]
    )
    elsewhere = (
        Contact.objects.filter(case=case).count() - access_contacts(user).filter(case=case).count()
    )
    return visible, elsewhere


def list_page(queryset: QuerySet, after: int | None, limit: int) -> tuple[list, int | None]:
    """Newest first, keyset on id."""
    if after:
        queryset = queryset.filter(id__lt=after)
    rows = list(queryset.order_by("-id")[: limit + 1])
    more = len(rows) > limit
    return rows[:limit], (rows[limit - 1].pk if more else None)
