"""A new colour rule set coming into force recolours everyone, through the job queue, once."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from epicore import healthcode as engine
from fangkong.accounts import audit
from fangkong.accounts.models import AuditEntry
from fangkong.healthcode.jobs import queue_recolour_on_rule_set_switch, record_rule_set_switch
from fangkong.healthcode.models import CodeState, ColourChange, RuleSetSwitch
from fangkong.jobs import queue
from fangkong.jobs.models import Job

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEFORE_2022_12 = datetime(2022, 12, 6, 23, 59, tzinfo=SHANGHAI)
AFTER_2022_12 = datetime(2022, 12, 7, 0, 0, 1, tzinfo=SHANGHAI)
KIND = "healthcode.rule_set_switch"


def _as_if_coloured_under_2022_11(world) -> None:
    """Everyone's colour was computed before 2022-12 came into force; person_b's was yellow."""
    record_rule_set_switch(engine.load_rule_set("2022-11"), BEFORE_2022_12)
    Job.objects.filter(kind=KIND).delete()
    CodeState.objects.update(rule_set="2022-11")
    stale = {"code": "old_rule", "colour": "yellow", "zh": "旧规则", "en": "old rule"}
    CodeState.objects.filter(person=world.person_b).update(colour="yellow", reasons=[stale])


def _details(entry: AuditEntry) -> dict:
    return json.loads(entry.details) if isinstance(entry.details, str) else entry.details


def test_the_effective_date_passing_queues_one_recolouring_of_everyone(world):
    _as_if_coloured_under_2022_11(world)
    queue_recolour_on_rule_set_switch(BEFORE_2022_12)
    assert not Job.objects.filter(kind=KIND).exists()  # 2022-11 is still in force
    queue.tick(AFTER_2022_12)
    job = Job.objects.get(kind=KIND, state="queued")
    assert job.args == {"version": "2022-12"}
    switch = RuleSetSwitch.objects.get(version="2022-12")
    assert (switch.previous, switch.job_id) == ("2022-11", job.pk)
    entry = AuditEntry.objects.filter(action="healthcode.rule_set_switch").latest("seq")
    assert entry.object_id == "2022-12" and _details(entry)["previous"] == "2022-11"
    assert audit.verify().ok


def test_a_switch_is_queued_exactly_once(world):
    _as_if_coloured_under_2022_11(world)
    for _ in range(3):  # every worker's loop notices it, again and again
        queue.tick(AFTER_2022_12)
        queue_recolour_on_rule_set_switch(AFTER_2022_12 + timedelta(hours=1))
    assert record_rule_set_switch(engine.load_rule_set("2022-12"), AFTER_2022_12) is None
    assert Job.objects.filter(kind=KIND).count() == 1
    assert (
        AuditEntry.objects.filter(action="healthcode.rule_set_switch", object_id="2022-12").count()
        == 1
    )
    queue.run_pending()
    queue.tick(timezone.now())  # done and recorded: nothing is queued again
    assert Job.objects.filter(kind=KIND).count() == 1


def test_the_recolouring_stores_the_new_version_on_every_change(world):
    _as_if_coloured_under_2022_11(world)
    before = ColourChange.objects.count()
    queue.tick(AFTER_2022_12)
    queue.run_pending()
    job = Job.objects.get(kind=KIND)
    everyone = CodeState.objects.count()
    assert job.state == "done" and job.result["evaluated"] == everyone
    assert set(CodeState.objects.values_list("rule_set", flat=True)) == {"2022-12"}
    changes = ColourChange.objects.order_by("id")[before:]
    assert [c.person_id for c in changes] == [world.person_b.pk]  # the only stale colour
    change = changes[0]
    assert (change.old_colour, change.rule_set) == ("yellow", "2022-12")
    assert (change.trigger_kind, change.trigger_ref) == ("rule_set", "rule_set:2022-12")
    recolouring = AuditEntry.objects.filter(action="healthcode.recolour").latest("seq")
    assert _details(recolouring)["rule_set"] == "2022-12"


def test_a_retried_job_recolours_only_who_is_left(world):
    _as_if_coloured_under_2022_11(world)
    CodeState.objects.filter(person=world.person_a2).update(rule_set="2022-12")  # done
    queue.tick(AFTER_2022_12)
    queue.run_pending()
    assert Job.objects.get(kind=KIND).result["evaluated"] == CodeState.objects.count() - 1


def test_the_first_rule_set_seen_is_recorded_without_a_previous_one(world):
    queue.tick(timezone.now())
    switch = RuleSetSwitch.objects.get()
    assert (switch.version, switch.previous) == (engine.rule_set_for(timezone.now()).version, "")
    queue.run_pending()
    # The world was coloured under the rule set in force: nothing to change.
    assert Job.objects.get(kind=KIND).result == {"evaluated": 0, "changed": 0}
