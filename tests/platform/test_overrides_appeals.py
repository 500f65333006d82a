from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from fangkong.accounts.models import AuditEntry
from fangkong.healthcode import actions
from fangkong.healthcode.models import Appeal, CodeState, ColourChange, ColourOverride
from fangkong.healthcode.recolour import ensure_state, recolour
from fangkong.jobs import queue


def test_an_override_needs_a_second_person(world):
    with pytest.raises(actions.Refused) as refused:
        actions.decide_override(world.users["tracer_a"], world.override_id, approve=True)
    assert "decided_by" in refused.value.errors
    assert ColourOverride.objects.get(pk=world.override_id).state == "pending"


def test_an_approved_override_sets_the_colour_until_it_ends(world):
    ensure_state(world.person_a.pk)
    actions.decide_override(world.users["command"], world.override_id, approve=True)
    queue.run_pending()
    state = CodeState.objects.get(person=world.person_a)
    assert (state.colour, state.reasons[0]["code"]) == ("yellow", "manual_override")
    change = ColourChange.objects.filter(person=world.person_a).latest("id")
    assert (change.trigger_kind, change.old_colour) == ("override", "green")
    override = ColourOverride.objects.get(pk=world.override_id)
    assert state.next_check_at <= override.until
    recolour([world.person_a.pk], "clock", at=override.until + timedelta(seconds=1))
    assert CodeState.objects.get(person=world.person_a).colour == "green"
    actions_logged = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"healthcode.override_requested", "healthcode.override_approved"} <= actions_logged


def test_a_decided_override_cannot_be_decided_again(world):
    actions.decide_override(world.users["command"], world.override_id, approve=False)
    with pytest.raises(actions.Refused):
        actions.decide_override(world.users["command"], world.override_id, approve=True)


def test_override_requests_name_every_problem(world):
    with pytest.raises(actions.Refused) as refused:
        actions.request_override(
            world.users["tracer_a"], world.person_a.pk, "purple", "x", "next year"
        )
    assert set(refused.value.errors) == {"colour", "reason", "until"}
    too_long = timezone.now() + timedelta(days=90)
    with pytest.raises(actions.Refused):
        actions.request_override(
            world.users["tracer_a"], world.person_a.pk, "red", "录入错误", too_long
        )


def test_overrides_stay_inside_the_scope(world):
    with pytest.raises(Http404):
        actions.decide_override(world.users["tracer_b"], world.override_id, approve=True)
    with pytest.raises(PermissionError):
        actions.request_override(world.users["grid_a"], world.person_a.pk, "red", "录入错误", "")


def test_appeals_are_answered_and_overdue_ones_are_flagged(world, login):
    Appeal.objects.filter(pk=world.appeal_id).update(due_at=timezone.now() - timedelta(hours=1))
    page = login("tracer_a").get("/appeals/")
    assert b'data-overdue="1"' in page.content
    appeal = actions.answer_appeal(world.users["tracer_a"], world.appeal_id, "已核实，系误判")
    assert appeal.state == "answered"
    entry = AuditEntry.objects.filter(action="healthcode.appeal_answered").latest("seq")
    details = json.loads(entry.details) if isinstance(entry.details, str) else entry.details
    assert details["late"] is True
    mine = login("resident_a").get("/me/appeal/")
    assert "已核实，系误判" in mine.content.decode()


def test_staff_cannot_file_appeals_and_empty_appeals_are_refused(world):
    with pytest.raises(PermissionError):
        actions.file_appeal(world.users["tracer_a"], "不对")
    with pytest.raises(actions.Refused):
        actions.file_appeal(world.users["resident_a"], " ")
