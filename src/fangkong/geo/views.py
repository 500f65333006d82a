from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from fangkong.accounts.roles import VIEW_PEOPLE
from fangkong.geo.models import in_subtree
from fangkong.geo.queries import (
    access_children,
    access_jurisdiction_by_code,
    access_jurisdictions,
    breadcrumbs,
)
from fangkong.people.queries import access_people


@login_required
def tree_root(request):
    node = access_jurisdictions(request.user).filter(code=request.user.scope_code).first()
    if node is None:
        raise Http404
    return redirect("jurisdiction", code=node.code)


@login_required
def jurisdiction(request, code: str):
    node = access_jurisdiction_by_code(request.user, code)
    children = list(access_children(request.user, node))
    if request.user.can(VIEW_PEOPLE):
        people = access_people(request.user)
        for child in children:
            # One index range count per child: cheap, and exact for the whole subtree.
            child.people = people.filter(in_subtree("jurisdiction_id", child.code)).count()
    return render(
        request,
        "geo/jurisdiction.html",
        {
            "node": node,
            "crumbs": breadcrumbs(request.user, node),
            "children": children,
            "can_view_people": request.user.can(VIEW_PEOPLE),
        },
    )
