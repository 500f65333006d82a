"""The demo and test personas: one account per role, in two counties of Xiamen.

Names say role and place: `tracer_a` works in county A (思明区 350203), `tracer_b` in county B
(湖里区 350206); `grid_a` in one grid of county A; `command` and `auditor` for the whole city.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from fangkong.accounts.roles import Role

CITY = "3502"
COUNTY_A = "350203"  # 思明区
COUNTY_B = "350206"  # 湖里区

GRID = "grid"  # placeholder: bound to the grid given to ensure_personas
PERSONAS: dict[str, tuple[str, str | None]] = {
    "command": (Role.COMMAND, CITY),
    "tracer_a": (Role.TRACER, COUNTY_A),
    "tracer_b": (Role.TRACER, COUNTY_B),
    "grid_a": (Role.GRID_WORKER, GRID),
    "lab_a": (Role.LAB, COUNTY_A),
    "quarantine_a": (Role.QUARANTINE, COUNTY_A),
    "supplies_a": (Role.SUPPLIES, COUNTY_A),
    "venue_a": (Role.VENUE_OPERATOR, COUNTY_A),
    "auditor": (Role.AUDITOR, CITY),
    "admin": (Role.ADMIN, CITY),
    "resident_a": (Role.RESIDENT, None),
}


def ensure_personas(password: str, grid_code: str, resident_person) -> dict:
    """Create (or reset) one account per persona; returns username -> user."""
    users = {}
    model = get_user_model()
    for username, (role, scope) in PERSONAS.items():
        user, _ = model.objects.get_or_create(username=username)
        user.role = role
        user.jurisdiction_id = grid_code if scope == GRID else scope
        user.person = resident_person if role == Role.RESIDENT else None
        user.set_password(password)
        user.save()
        users[username] = user
    return users
