from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from fangkong.accounts.roles import CAPABILITIES, VIEW_GEO, VIEW_PEOPLE, Role
from fangkong.geo.queries import access_jurisdictions


@login_required
def home(request):
    user = request.user
    if user.role == Role.RESIDENT and user.person_id:
        return redirect("my_code")  # what a resident opens the app for
    scope = access_jurisdictions(user).filter(code=user.scope_code).first()
    return render(
        request,
        "web/home.html",
        {
            "scope": scope,
            "can_view_geo": user.can(VIEW_GEO),
            "can_view_people": user.can(VIEW_PEOPLE),
            "capabilities": sorted(CAPABILITIES.get(user.role, ())),
        },
    )
