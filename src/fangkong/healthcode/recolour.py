"""Recolouring (赋码/转码): gather a person's facts from the platform, evaluate, store changes.

Facts come from the domain tables (cases, contacts, tests, quarantine stays and the home phase after
them; areas join them when that issue lands). The colour is epicore.healthcode.evaluate under the rule set in force; every change
is kept in ColourChange and the batch is written to the audit log.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from epicore import healthcode as engine
from fangkong.accounts import audit
from fangkong.batches import Ids, chunks
from fangkong.cases.models import Case, Classification, Contact, Degree
from fangkong.healthcode.keys import subject_for
from fangkong.healthcode.models import CodeState, ColourChange, ColourOverride, OverrideState
from fangkong.labs.models import Outcome, PersonTest
from fangkong.quarantine.models import HomeMonitoring, Stay
from fangkong.venues.bulk import copy_arrow

CASE_STATUS = {
    Classification.CONFIRMED: "confirmed",
    Classification.ASYMPTOMATIC: "asymptomatic",
    Classification.SUSPECTED: "suspected",
}
CONTACT_DEGREE = {Degree.CLOSE: "close", Degree.SECONDARY: "secondary"}
BATCH = 2000


def facts_for(person_ids: Iterable[int]) -> dict[int, list]:
    """The engine's facts about each person, from the platform's records.

    Plain rows (values_list) and one array parameter per query (`person__any` with Ids): a
    recolouring job of 5,000 people spent 0.6 s of its 1 s here building model instances and IN
    lists."""
    ids = Ids(person_ids)
    facts: dict[int, list] = defaultdict(list)
    cases = Case.objects.filter(person__any=ids).exclude(classification=Classification.EXCLUDED)
    for pk, person_id, classification, reported_at in cases.values_list(
        "pk", "person_id", "classification", "reported_at"
    ):
        facts[person_id].append(
            engine.CaseStatus(CASE_STATUS[classification], reported_at, ref=f"case:{pk}")
        )
    contacts = Contact.objects.filter(person__any=ids).annotate(anchor=CONTACT_ANCHOR)
    for pk, person_id, degree, anchor in contacts.values_list(
        "pk", "person_id", "degree", "anchor"
    ):
        facts[person_id].append(_contact_fact(pk, degree, anchor))
    for person_id, fact in _quarantine_facts(ids):
        facts[person_id].append(fact)
    # An open recall (混采阳性, retest due) is a fact until its individual result replaces it.
    recalls = PersonTest.objects.filter(person__any=ids, outcome="", retest_of__isnull=False)
    for pk, person_id, resulted_at, sampled_at in recalls.values_list(
        "pk", "person_id", "retest_of__resulted_at", "sampled_at"
    ):
        facts[person_id].append(engine.Recall(resulted_at or sampled_at, ref=f"recall:{pk}"))
    tests = PersonTest.objects.filter(person__any=ids).exclude(outcome="")
    for pk, person_id, sampled_at, outcome, reported_at in tests.values_list(
        "pk", "person_id", "sampled_at", "outcome", "reported_at"
    ):
        facts[person_id].append(
            engine.TestResult(
                sampled_at, outcome == Outcome.POSITIVE, reported_at=reported_at, ref=f"test:{pk}"
            )
        )
    return facts


def _quarantine_facts(ids):
    """A room held in a site counts from assignment (the person must not go out from then on);
    the home phase after release runs to its planned end unless it stopped early."""
    stays = Stay.objects.filter(person__any=ids).exclude(outcome="cancelled")
    for pk, person_id, started_at, ended_at in stays.values_list(
        "pk", "person_id", "started_at", "ended_at"
    ):
        yield person_id, engine.Quarantine("centralized", started_at, ended_at, ref=f"stay:{pk}")
    homes = HomeMonitoring.objects.filter(person__any=ids)
    for pk, person_id, setting, starts_at, ended_at, ends_at in homes.values_list(
        "pk", "person_id", "setting", "starts_at", "ended_at", "ends_at"
    ):
        yield (
            person_id,
            engine.Quarantine(setting, starts_at, ended_at or ends_at, ref=f"home:{pk}"),
        )


# The one time a contact's fact starts from: a companion flag from when it was recorded, a
# contact from the last exposure. One timestamp per row, not two: loading a timestamp through
# Django's time-zone loader costs ~2.5 µs in Python, 2.6 s of a million contacts.
CONTACT_ANCHOR = models.Case(
    models.When(degree=Degree.COMPANION, then=models.F("created_at")),
    default=models.F("last_exposure"),
    output_field=models.DateTimeField(),
)


def contact_degrees_coloured(at: datetime | None = None) -> frozenset[int]:
    """The contact degrees (Degree values) some rule of the rule set in force at `at` is about.
    A new contact of another degree cannot change a colour (evaluate ignores facts no rule
    matches), so it needs no recolouring: under the rules in force since 2022-11 secondary
    contacts and companions, nine tenths of a dense outbreak's contacts. A later rule set that
    colours them recolours everyone with a code when it comes into force (jobs), and a person
    without a code is evaluated when it is first shown."""
    at = at or timezone.now()
    rules = engine.rule_set_for(at).rules
    return frozenset(
        degree
        for degree in Degree.values
        if any(rule.matches(_contact_fact(0, degree, at)) for rule in rules)
    )


def _contact_fact(pk: int, degree: int, anchor: datetime):
    ref = f"contact:{pk}"
    if degree == Degree.COMPANION:
        return engine.CompanionFlag(anchor, ref=ref)
    return engine.Contact(CONTACT_DEGREE[degree], anchor, ref=ref)


def _reason_record(reason) -> dict:
    return {
        "code": reason.code,
        "colour": reason.colour.code,
        "zh": reason.text.zh,
        "en": reason.text.en,
        "condition_zh": reason.condition.text.zh,
        "condition_en": reason.condition.text.en,
        "ends_at": reason.condition.ends_at.isoformat() if reason.condition.ends_at else None,
        "fact": reason.fact_ref,
        "source": reason.source,
    }


def recolour(
    person_ids: Iterable[int],
    trigger_kind: str,
    trigger_ref: str = "",
    at: datetime | None = None,
    *,
    assign_plain_green: bool = False,
) -> dict[str, int]:
    """Re-evaluate these people now; store and audit what changed. Returns counts.

    A person without a code yet whose verdict is plain green (no reason, nothing scheduled)
    gets no first code here unless `assign_plain_green`: that is the code every resident
    without one is shown (ensure_state assigns it when they first open or show it), so
    storing it changes nothing a resident, a scanner or a tracer sees. A tracing run under a
    rule set that does not colour secondary contacts (2022-11 and later) recolours a million
    people of whom nine tenths are plain green; writing a first code and a change for each
    was most of its recolouring (docs/benchmarks.md)."""
    at = at or timezone.now()
    rule_set = engine.rule_set_for(at)
    ids = sorted(set(person_ids))
    counts = {"evaluated": 0, "changed": 0, "plain_green_without_code": 0}
    for batch in chunks(ids, BATCH):
        _recolour_batch(
            batch, rule_set, at, (trigger_kind, trigger_ref), counts, assign_plain_green
        )
    return counts


def _recolour_batch(ids, rule_set, at, trigger, counts, assign_plain_green) -> None:
    facts = facts_for(ids)
    overrides = _overrides_in_force(ids, at)
    try:
        _store_batch(ids, facts, overrides, rule_set, at, trigger, counts, assign_plain_green)
    except IntegrityError:
        # Another worker gave some of these people their first code between our lock (which
        # cannot lock rows that do not exist yet) and our insert: those rows exist now, so a
        # second pass locks and updates them like any other.
        _store_batch(ids, facts, overrides, rule_set, at, trigger, counts, assign_plain_green)


def _store_batch(ids, facts, overrides, rule_set, at, trigger, counts, assign_plain_green):
    trigger_kind, trigger_ref = trigger
    with transaction.atomic():
        locked = CodeState.objects.select_for_update().filter(person__any=Ids(ids))
        states = {state.person_id: state for state in locked}
        changed, created, touched, plain = [], [], [], 0
        for person_id in ids:
            verdict = engine.evaluate(facts.get(person_id, ()), rule_set, at)
            verdict = _overridden(verdict, overrides.get(person_id))
            state, first = states.get(person_id), person_id not in states
            if first and not assign_plain_green and _plain_green(verdict):
                plain += 1
                continue
            if first:
                state = _NewState(person_id, subject_for(person_id).hex())
                created.append(state)
            before = None if first else _snapshot(state)
            change = _apply(state, verdict, trigger_kind, trigger_ref, first=first)
            if not first and _snapshot(state) != before:
                touched.append(state)
            if change is not None:
                changed.append(change)
        # One statement per kind of write, not one per person: 100,000 recolourings in seconds.
        _insert(CodeState, created)
        _save_states(touched)
        _insert(ColourChange, changed)
        counts["evaluated"] += len(ids)
        counts["changed"] += len(changed)
        counts["plain_green_without_code"] += plain
        if changed:
            audit.record(
                None,
                "healthcode.recolour",
                object_type="person",
                details={
                    "trigger": {"kind": trigger_kind, "ref": trigger_ref},
                    "rule_set": rule_set.version,
                    "changes": [
                        [c.person_id, c.old_colour, c.new_colour, [r["code"] for r in c.reasons]]
                        for c in changed
                    ],
                },
            )


def _overrides_in_force(ids, at) -> dict[int, ColourOverride]:
    rows = ColourOverride.objects.filter(
        person__any=Ids(ids), state=OverrideState.APPROVED, until__gt=at, decided_at__lte=at
    ).order_by("decided_at")
    return {row.person_id: row for row in rows}  # the latest decision wins


@dataclass(frozen=True)
class _Shown:
    """What is stored for a person: the engine's verdict, or an approved override of it."""

    colour: engine.Colour
    reasons: list[dict]
    until: datetime | None
    next_check_at: datetime | None
    rule_set_version: str
    evaluated_at: datetime


def _plain_green(shown: _Shown) -> bool:
    """The colour of a resident nobody has anything on: green, no reason, no check due."""
    return (
        shown.colour == engine.Colour.GREEN
        and not shown.reasons
        and shown.until is None
        and shown.next_check_at is None
    )


def _overridden(verdict, override: ColourOverride | None) -> _Shown:
    reasons = [_reason_record(r) for r in verdict.reasons]
    if override is None:
        return _Shown(
            verdict.colour,
            reasons,
            verdict.until,
            verdict.next_check_at,
            verdict.rule_set_version,
            verdict.evaluated_at,
        )
    ends = override.until
    checks = [t for t in (verdict.next_check_at, ends) if t is not None]
    return _Shown(
        engine.Colour.from_code(override.colour),
        [_override_reason(override)],
        ends,
        min(checks),  # the rules take over again when the override ends
        verdict.rule_set_version,
        verdict.evaluated_at,
    )


def _override_reason(override: ColourOverride) -> dict:
    return {
        "code": "manual_override",
        "colour": override.colour,
        "zh": f"人工调整：{override.reason}",
        "en": f"manual change: {override.reason}",
        "condition_zh": f"至 {timezone.localtime(override.until):%Y-%m-%d %H:%M}",
        "condition_en": f"until {timezone.localtime(override.until):%Y-%m-%d %H:%M}",
        "ends_at": override.until.isoformat(),
        "fact": f"override:{override.pk}",
        "source": "two-person approval",
    }


def _snapshot(state: CodeState) -> tuple:
    return (state.colour, state.reasons, state.rule_set, state.until, state.next_check_at)


_UPDATE_STATES = """
UPDATE healthcode_codestate AS s
SET colour = v.colour, reasons = v.reasons::jsonb, rule_set = v.rule_set,
    until = v.until, next_check_at = v.next_check_at, updated_at = now()
FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
            %s::timestamptz[]) AS v(person_id, colour, reasons, rule_set, until, next_check_at)
WHERE s.person_id = v.person_id
"""


def _save_states(states: list[CodeState]) -> None:
    """One UPDATE ... FROM unnest() on PostgreSQL (Django's bulk_update builds a CASE per row and
    field, 100 s for 100,000 rows); bulk_update elsewhere."""
    if not states:
        return
    if connection.vendor != "postgresql":
        CodeState.objects.bulk_update(states, STATE_FIELDS, batch_size=500)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _UPDATE_STATES,
            [
                [s.person_id for s in states],
                [s.colour for s in states],
                [_json(s.reasons) for s in states],
                [s.rule_set for s in states],
                [s.until for s in states],
                [s.next_check_at for s in states],
            ],
        )


@dataclass(slots=True)
class _NewState:
    """A first code (赋码) until it is written. Plain records, not model instances, for first
    codes and changes: building two model instances per person was ~15 % of a recolouring job
    of 5,000 new contacts on the tracing benchmark city."""

    person_id: int
    subject: str
    colour: str = ""
    reasons: list = field(default_factory=list)
    rule_set: str = ""
    until: datetime | None = None
    next_check_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(slots=True, frozen=True)
class _Change:
    """A ColourChange until it is written."""

    person_id: int
    at: datetime
    old_colour: str
    new_colour: str
    reasons: list
    rule_set: str
    trigger_kind: str
    trigger_ref: str


def _fields(record) -> dict:
    return {name: getattr(record, name) for name in record.__slots__}


def _insert(model, records: list) -> None:
    """Plain records as rows of `model`: one COPY on PostgreSQL (bulk_create's statement
    building and parameter adaptation were ~40 % of a recolouring job of 5,000 new contacts),
    bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create((model(**_fields(r)) for r in records), batch_size=1000)
        return
    if records:
        _copy(model, records, records[0].__slots__)


UTC_TIME = pa.timestamp("us", tz="UTC")
TIME_COLUMNS = {"until", "next_check_at", "updated_at", "at"}


def _copy(model, records, names: tuple[str, ...]) -> None:
    """Records as Arrow columns, written as CSV by pyarrow into one COPY (formatting each value
    in Python was ~20 % of a job of 5,000 first codes)."""
    columns = {}
    for name in names:
        values = [getattr(record, name) for record in records]
        if name == "reasons":
            columns[name] = pa.array([_json(v) for v in values], pa.string())
        elif name in TIME_COLUMNS:
            columns[name] = pa.array(values, UTC_TIME)
        else:
            columns[name] = pa.array(values, pa.int64() if name == "person_id" else pa.string())
    copy_arrow(model._meta.db_table, names, pa.table(columns))


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


STATE_FIELDS = ["colour", "reasons", "rule_set", "until", "next_check_at", "updated_at"]


def _apply(state: CodeState | _NewState, verdict, trigger_kind, trigger_ref, first: bool):
    """Set the state from the verdict (saved by the caller); the change record, if any."""
    colour, reasons = verdict.colour.code, verdict.reasons
    same = not first and state.colour == colour and _codes(state.reasons) == _codes(reasons)
    old = "" if first else state.colour
    state.colour, state.reasons, state.rule_set = colour, reasons, verdict.rule_set_version
    state.until, state.next_check_at = verdict.until, verdict.next_check_at
    state.updated_at = timezone.now()
    if same:
        return None
    return _Change(
        state.person_id,
        verdict.evaluated_at,
        old,
        colour,
        reasons,
        verdict.rule_set_version,
        trigger_kind,
        trigger_ref,
    )


def _codes(reasons: list[dict]) -> list[str]:
    return [r["code"] for r in reasons]


def ensure_state(person_id: int) -> CodeState:
    """The person's code state, assigning a first colour (赋码) when they have none yet."""
    state = CodeState.objects.filter(person_id=person_id).first()
    if state is None:
        recolour([person_id], "fact", "first_assignment", assign_plain_green=True)
        state = CodeState.objects.get(person_id=person_id)
    return state
