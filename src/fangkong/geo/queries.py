"""Reads of the jurisdiction tree, limited to the user's subtree (and its ancestors' names)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from fangkong.accounts.roles import VIEW_GEO
from fangkong.geo.models import Jurisdiction, in_subtree


def access_jurisdictions(user) -> QuerySet[Jurisdiction]:
    if not user.is_authenticated or not user.can(VIEW_GEO) or not user.scope_code:
        return Jurisdiction.objects.none()
    return Jurisdiction.objects.filter(in_subtree("code", user.scope_code))


def access_jurisdiction_by_code(user, code: str) -> Jurisdiction:
    node = access_jurisdictions(user).filter(code=code).first()
    if node is None:
        raise Http404
    return node


def access_children(user, node: Jurisdiction) -> QuerySet[Jurisdiction]:
    return access_jurisdictions(user).filter(parent=node).order_by("code")


def breadcrumbs(user, node: Jurisdiction) -> list[Jurisdiction]:
    """Ancestors the user may open (those inside their scope), root first, then the node."""
    codes = [c for c in node.ancestor_codes() if c.startswith(user.scope_code or "-")]
    ancestors = {j.code: j for j in Jurisdiction.objects.filter(code__in=codes)}
    return [ancestors[c] for c in codes if c in ancestors] + [node]
