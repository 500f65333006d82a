"""Roles and what each may do. Least privilege: a role gets a capability only if its work needs it.

Capabilities are checked by the `access_*` query functions and the actions, never by templates
alone. Scope (which jurisdiction subtree) is separate: a capability applies inside the user's
subtree only.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    COMMAND = "command", _("command headquarters")
    TRACER = "tracer", _("epidemiological tracer")
    LAB = "lab", _("laboratory technician")
    QUARANTINE = "quarantine", _("quarantine site staff")
    GRID_WORKER = "grid_worker", _("grid worker")
    SUPPLIES = "supplies", _("supplies officer")
    VENUE_OPERATOR = "venue_operator", _("venue operator")
    RESIDENT = "resident", _("resident")
    AUDITOR = "auditor", _("auditor")
    ADMIN = "admin", _("account administrator")


# What each role may do inside its jurisdiction subtree.
VIEW_GEO = "geo.view"
VIEW_PEOPLE = "people.view"  # lists, search and person pages, identifiers masked
REVEAL_PEOPLE = "people.reveal"  # full ID number and phone, with a reason, audited
EDIT_PEOPLE = "people.edit"  # register, correct, import
VIEW_CASES = "cases.view"  # cases and contacts in scope, identifiers masked
EDIT_CASES = "cases.edit"  # open and reclassify cases, record contacts and their status
# Investigations (流调报告) hold a case's whereabouts and the people they named: the tracing team
# and headquarters read them; site staff and grid workers act on contacts, not on these.
VIEW_INVESTIGATIONS = "cases.investigations"
VERIFY_CODES = "healthcode.verify"  # read a resident's code at a checkpoint or venue
OVERRIDE_CODES = "healthcode.override"  # request/approve manual colours, answer appeals
TAKE_SAMPLES = "labs.sample"  # open tubes, scan people in, seal (sampling sites)
RUN_CAMPAIGNS = "labs.campaign"  # set up testing campaigns, their sites and rosters
RECORD_RESULTS = "labs.result"  # lab results of tubes and individual tests
OPERATE_SITES = "quarantine.operate"  # check-in, transfers, readings, release, room states
MANAGE_SITES = "quarantine.manage"  # activate reserve sites, stand them down
FOLLOW_UP = "monitoring.follow_up"  # home follow-up tasks after release (grid workers)
VIEW_AUDIT = "audit.view"
MANAGE_ACCOUNTS = "accounts.manage"

CAPABILITIES: dict[str, frozenset[str]] = {
    Role.COMMAND: frozenset(
        {
            VIEW_GEO,
            VIEW_PEOPLE,
            REVEAL_PEOPLE,
            VIEW_CASES,
            VIEW_INVESTIGATIONS,
            VERIFY_CODES,
            OVERRIDE_CODES,
            MANAGE_SITES,
            RUN_CAMPAIGNS,
        }
    ),
    # Tracers phone contacts and match records across sources: they need the real numbers.
    Role.TRACER: frozenset(
        {
            VIEW_GEO,
            VIEW_PEOPLE,
            REVEAL_PEOPLE,
            EDIT_PEOPLE,
            VIEW_CASES,
            EDIT_CASES,
            VIEW_INVESTIGATIONS,
            VERIFY_CODES,
            OVERRIDE_CODES,
        }
    ),
    # Labs scan tubes; they find people by scanning, not by browsing (testing issue).
    Role.LAB: frozenset({VIEW_GEO, TAKE_SAMPLES, RECORD_RESULTS}),
    # Site staff receive contacts for rooms; they see who is coming, not the investigations.
    # They also run the site: rooms, arrivals, readings, releases.
    Role.QUARANTINE: frozenset(
        {VIEW_GEO, VIEW_PEOPLE, REVEAL_PEOPLE, VIEW_CASES, VERIFY_CODES, OPERATE_SITES}
    ),
    # Grid workers visit households and keep the population register of their grid; they locate
    # the contacts living there (上门核查).
    Role.GRID_WORKER: frozenset(
        {
            VIEW_GEO,
            VIEW_PEOPLE,
            REVEAL_PEOPLE,
            EDIT_PEOPLE,
            VIEW_CASES,
            VERIFY_CODES,
            TAKE_SAMPLES,
            FOLLOW_UP,
        }
    ),
    Role.SUPPLIES: frozenset({VIEW_GEO}),
    # Venue operators scan visitors' codes at the door (扫码通行); they see the colour only.
    Role.VENUE_OPERATOR: frozenset({VERIFY_CODES}),
    Role.RESIDENT: frozenset(),
    Role.AUDITOR: frozenset({VIEW_GEO, VIEW_AUDIT}),
    Role.ADMIN: frozenset({VIEW_GEO, MANAGE_ACCOUNTS}),
}


def role_can(role: str, capability: str) -> bool:
    return capability in CAPABILITIES.get(role, frozenset())
