from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from epicore import healthcode as engine
from epicore.healthcode.keys import KeyRing
from epicore.healthcode.tokens import TokenRejected, verify_health_token
from fangkong.accounts import audit
from fangkong.accounts.models import AuditEntry
from fangkong.batches import Ids
from fangkong.cases import actions
from fangkong.cases.models import Contact, Degree
from fangkong.healthcode import keys
from fangkong.healthcode.models import CodeState, ColourChange
from fangkong.healthcode.recolour import facts_for, recolour
from fangkong.healthcode.service import code_of, read_scanned_code
from fangkong.jobs import queue
from fangkong.jobs.models import Job

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _recent_case(world, person):
    tracer = world.users["tracer_a"]
    today = timezone.localdate()
    clean = actions.check_case(
        tracer,
        person.pk,
        {"classification": "confirmed", "onset_date": (today - timedelta(days=1)).isoformat()},
    )
    return actions.do_open_case(tracer, clean)


def test_the_world_starts_coloured(world):
    assert CodeState.objects.get(person=world.person_a2).colour == "red"  # the world's case
    assert not Job.objects.filter(state="queued").exists()


def test_opening_a_case_recolours_its_person_through_the_queue(world):
    case = _recent_case(world, world.person_a)
    assert Job.objects.filter(kind="healthcode.recolour", state="queued").exists()
    queue.run_pending()
    state = CodeState.objects.get(person=world.person_a)
    assert state.colour == "red"
    assert [r["code"] for r in state.reasons] == ["confirmed_case"]
    change = ColourChange.objects.filter(person=world.person_a).latest("id")
    assert (change.new_colour, change.trigger_kind, change.trigger_ref) == (
        "red",
        "fact",
        f"case:{case.pk}",
    )
    entry = AuditEntry.objects.filter(action="healthcode.recolour").latest("seq")
    details = json.loads(entry.details) if isinstance(entry.details, str) else entry.details
    assert details["changes"][0][:3] == [world.person_a.pk, "", "red"]  # first assignment
    assert audit.verify().ok


def test_a_close_contact_turns_red_and_yellow_then_green_by_the_2021_rules(world):
    """8th edition: 14 days red (a negative from day 13), then 7 days of health monitoring."""
    exposure = datetime(2022, 4, 1, 10, tzinfo=SHANGHAI)
    actions.do_record_exposures(
        world.users["tracer_a"],
        world.case_a,
        [actions.ExposureIn(world.person_a.pk, world.person_a2.pk, 1, exposure, exposure)],
    )
    recolour([world.person_a.pk], "fact", at=exposure + timedelta(hours=1))
    state = CodeState.objects.get(person=world.person_a)
    assert (state.colour, state.rule_set) == ("red", "2021-05")
    assert state.reasons[0]["code"] == "close_contact"
    assert state.reasons[0]["condition_zh"]  # tells the resident what turns it back


def test_plain_green_gets_no_first_code_until_the_resident_shows_one(world):
    """Under the rule set in force (2022-12) a secondary contact is not coloured: recolouring
    leaves such a person without a code (every resident without one is shown plain green), and
    the first code is assigned when it is first needed. Under the 2021 rules the same fact
    gives a red first code at once."""
    from fangkong.healthcode.recolour import ensure_state

    person = world.person_a
    CodeState.objects.filter(person=person).delete()
    ColourChange.objects.filter(person=person).delete()
    now = timezone.now()
    Contact.objects.filter(person=person).delete()
    Contact.objects.create(
        person=person,
        jurisdiction_id=person.jurisdiction_id,
        case=world.case_a,
        degree=Degree.SECONDARY,
        last_exposure=now - timedelta(days=1),
    )
    counts = recolour([person.pk], "fact", "tracing")
    assert counts == {"evaluated": 1, "changed": 0, "plain_green_without_code": 1}
    assert not CodeState.objects.filter(person=person).exists()
    assert not ColourChange.objects.filter(person=person).exists()

    state = ensure_state(person.pk)
    assert (state.colour, state.reasons, state.next_check_at) == ("green", [], None)
    change = ColourChange.objects.get(person=person)
    assert (change.old_colour, change.new_colour, change.trigger_ref) == (
        "",
        "green",
        "first_assignment",
    )

    CodeState.objects.filter(person=person).delete()
    Contact.objects.filter(person=person).update(
        last_exposure=datetime(2022, 4, 1, tzinfo=SHANGHAI)
    )
    recolour([person.pk], "fact", at=datetime(2022, 4, 2, tzinfo=SHANGHAI))
    state = CodeState.objects.get(person=person)
    assert (state.colour, state.rule_set) == ("red", "2021-05")
    assert [r["code"] for r in state.reasons] == ["secondary_contact"]


def test_only_contacts_the_rules_in_force_colour_are_queued_for_recolouring(world):
    """Under 2022-12 only close contacts are coloured: recording a secondary contact queues no
    recolouring (it could not change a colour); a close contact does. The 2021 rules colour
    every degree, companions too."""
    from fangkong.healthcode.recolour import contact_degrees_coloured

    assert contact_degrees_coloured() == {Degree.CLOSE}
    assert contact_degrees_coloured(datetime(2022, 4, 1, tzinfo=SHANGHAI)) == set(Degree.values)
    Contact.objects.filter(person=world.person_a).delete()
    Job.objects.filter(kind="healthcode.recolour").delete()
    now = timezone.now()
    tracer = world.users["tracer_a"]
    secondary = actions.ExposureIn(world.person_a.pk, world.person_a2.pk, 2, now, now)
    actions.do_record_exposures(tracer, world.case_a, [secondary])
    assert Contact.objects.get(person=world.person_a).degree == Degree.SECONDARY
    assert not Job.objects.filter(kind="healthcode.recolour").exists()
    close = actions.ExposureIn(world.person_a.pk, world.person_a2.pk, 1, now, now)
    actions.do_record_exposures(tracer, world.case_a, [close])
    job = Job.objects.get(kind="healthcode.recolour")
    assert job.args["person_ids"] == [world.person_a.pk]


def test_unchanged_colour_and_reasons_record_no_change(world):
    before = ColourChange.objects.count()
    recolour([world.person_a2.pk, world.person_b.pk], "fact")
    assert ColourChange.objects.count() == before


def test_codes_are_recoloured_when_their_time_comes(world):
    due = CodeState.objects.filter(person=world.person_a2)
    due.update(next_check_at=timezone.now() - timedelta(minutes=1))
    queue.tick()
    job = Job.objects.get(kind="healthcode.due", state="queued")
    queue.tick()  # asked again before it ran: still one job
    assert Job.objects.filter(kind="healthcode.due", state="queued").count() == 1
    queue.run_pending()
    job.refresh_from_db()
    assert job.state == "done" and job.result["evaluated"] == 1
    state = due.get()
    assert state.next_check_at is None or state.next_check_at > timezone.now()


def test_a_scanned_code_answers_the_colour_now(world, login):
    shown = code_of(world.person_a.pk)
    assert shown.token.startswith("FK1:") and "<svg" in shown.svg
    CodeState.objects.filter(person=world.person_a).update(colour="yellow")  # changed since
    response = login("venue_a").post(
        "/api/healthcode/verify", {"token": shown.token}, content_type="application/json"
    )
    body = response.json()
    assert (body["ok"], body["colour"], body["token_colour"]) == (True, "yellow", "green")
    assert body["name"] != world.person_a.name and body["name"][0] == world.person_a.name[0]
    assert world.person_a.doc_number not in shown.token


@pytest.mark.parametrize(
    "damage, codes",
    [
        (lambda t: t[:-3], {"token_truncated"}),
        (
            lambda t: t[:-10] + ("A" if t[-10] != "A" else "B") + t[-9:],
            {"token_bad_signature", "token_malformed"},
        ),
        (lambda t: "FK9:" + t[4:], {"token_unsupported_version"}),
        (lambda t: "hello", {"token_wrong_prefix"}),
    ],
)
def test_damaged_codes_are_refused_with_the_reason(world, damage, codes):
    token = code_of(world.person_a.pk).token
    result = read_scanned_code(damage(token))
    assert not result.ok
    assert result.code in codes and result.message


def test_an_expired_code_is_refused(world):
    issued = timezone.now() - timedelta(hours=1)
    token = code_of(world.person_a.pk, at=issued).token
    assert read_scanned_code(token).code == "token_expired"


def test_published_keys_verify_offline_and_rotation_keeps_old_codes_valid(world, client):
    token = code_of(world.person_a.pk).token
    published = KeyRing.from_jwks(client.get("/healthcode/keys.json").json())
    assert verify_health_token(token, published, timezone.now()).colour.code == "green"
    old_kid = keys.key_ring().signing_key("health", timezone.now()).kid
    keys.rotate("health", timezone.now())
    assert read_scanned_code(token).ok  # within the overlap
    assert code_of(world.person_a.pk).token != token
    keys.revoke(old_kid, timezone.now())
    assert read_scanned_code(token).code == "token_revoked_key"
    with pytest.raises(TokenRejected):
        verify_health_token(token, KeyRing.from_jwks(keys.public_key_set()), timezone.now())


def test_resident_page_shows_their_code_and_staff_see_the_history(world, login):
    page = login("resident_a").get("/me/code/")
    assert page.status_code == 200
    assert b"<svg" in page.content and b'data-colour="green"' in page.content
    history = login("tracer_a").get(f"/people/{world.person_a2.pk}/code/")
    assert history.status_code == 200
    assert "确诊病例" in history.content.decode()


def test_a_first_code_created_meanwhile_by_another_worker_is_updated_not_an_error(
    world, monkeypatch
):
    """Two workers recolouring the same new person: the lock cannot hold a row that does not
    exist yet, so the second insert collides; the batch is then stored again over the row."""
    from fangkong.healthcode import recolour as module

    person = world.person_b
    CodeState.objects.filter(person=person).delete()
    ColourChange.objects.filter(person=person).delete()
    real = module.engine.evaluate
    raced = []

    def evaluate_while_another_worker_writes(*args, **kwargs):
        if not raced:  # between our lock and our insert, the other worker commits its row
            raced.append(True)
            CodeState.objects.create(person=person, colour="green", rule_set="x", subject="raced")
        return real(*args, **kwargs)

    monkeypatch.setattr(module.engine, "evaluate", evaluate_while_another_worker_writes)
    recolour([person.pk], "fact", "race")
    assert raced and CodeState.objects.get(person=person).colour == "red"  # a close contact


def test_a_large_recolouring_is_queued_in_chunks_for_every_worker(db, monkeypatch):
    from fangkong.healthcode import jobs

    monkeypatch.setattr(jobs, "RECOLOUR_CHUNK", 2)
    before = set(Job.objects.values_list("pk", flat=True))
    jobs.request_recolour([5, 3, 1, 4, 2, 3], "fact", "many")
    queued = Job.objects.exclude(pk__in=before).order_by("pk")
    assert [j.args["person_ids"] for j in queued] == [[1, 2], [3, 4], [5]]


def test_the_any_lookup_finds_exactly_the_listed_people(world):
    from fangkong.people.models import Person

    wanted = [world.person_a2.pk, world.person_a.pk, 10**12]  # one id that nobody has
    found = set(Person.objects.filter(pk__any=wanted).values_list("pk", flat=True))
    assert found == {world.person_a.pk, world.person_a2.pk}
    held = Person.objects.filter(pk__any=Ids(str(pk) for pk in wanted)).values_list("pk", flat=True)
    assert set(held) == found  # the same through the Ids holder (values made integers)
    assert not Person.objects.filter(pk__any=[]).exists()
    assert not Person.objects.filter(pk__any=Ids([])).exists()
    through_key = CodeState.objects.filter(person__any=wanted).values_list("person_id", flat=True)
    assert world.person_a2.pk in set(through_key)  # the world's case has a code
    assert set(through_key) == set(
        CodeState.objects.filter(person_id__in=wanted).values_list("person_id", flat=True)
    )


def test_a_contacts_fact_starts_at_its_last_exposure_a_companions_when_flagged(world):
    """The two kinds of contact rows anchor their facts on different times (facts_for reads
    one time per row, chosen in the query)."""
    exposure = datetime(2022, 4, 1, 10, tzinfo=SHANGHAI)
    actions.do_record_exposures(
        world.users["tracer_a"],
        world.case_a,
        [actions.ExposureIn(world.person_a.pk, world.person_a2.pk, 1, exposure, exposure)],
    )
    companion, _ = Contact.objects.update_or_create(  # person_b may be a contact already
        person=world.person_b,
        defaults={
            "jurisdiction": world.person_b.jurisdiction,
            "degree": Degree.COMPANION,
            "case": world.case_a,
            "last_exposure": exposure,
        },
    )
    facts = facts_for([world.person_a.pk, world.person_b.pk])
    contact = Contact.objects.get(person=world.person_a)
    assert (
        engine.Contact("close", exposure, ref=f"contact:{contact.pk}") in facts[world.person_a.pk]
    )
    flags = [f for f in facts[world.person_b.pk] if isinstance(f, engine.CompanionFlag)]
    assert flags == [engine.CompanionFlag(companion.created_at, ref=f"contact:{companion.pk}")]
    assert companion.created_at != exposure
