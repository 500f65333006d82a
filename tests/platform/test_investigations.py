"""Investigations (流调报告): sections with deadlines and who is late, the itinerary feeding
tracing runs, named contacts matched and recorded, bad input, scope and audit."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from epicore.idcard import make_resident_id
from fangkong.accounts.models import AuditEntry
from fangkong.cases import investigations as inv
from fangkong.cases.models import Contact, Exposure, Investigation, TracingRun
from fangkong.cases.tracing import start_run
from fangkong.jobs import queue
from fangkong.venues.models import CheckIn

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English; the pages are asked for in English too."""
    from django.utils import translation

    with translation.override("en"):
        yield


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2022, 3, day, hour, minute, tzinfo=SHANGHAI)


def _english(client):
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _investigation(world) -> Investigation:
    investigation = Investigation.objects.get(case=world.case_a)
    investigation.case = world.case_a
    return investigation


def _entry(world, **data):
    form = {"venue": world.venue_a.pk, "t_in": "2022-03-03 12:00", "t_out": "2022-03-03 12:45"}
    form.update({"travel": "walk", **data})
    return inv.add_itinerary_entry(world.users["tracer_a"], _investigation(world), form)


def _actions(prefix: str = "investigation.") -> list[str]:
    return list(
        AuditEntry.objects.filter(action__startswith=prefix)
        .order_by("seq")
        .values_list("action", flat=True)
    )


def test_opening_a_case_opens_its_investigation_with_deadlines_from_the_report(world):
    investigation = _investigation(world)
    reported = world.case_a.reported_at
    hours = inv.DEADLINE_RULES[investigation.deadline_rules].hours
    assert investigation.investigator == world.users["tracer_a"]
    for section in inv.SECTIONS:
        assert getattr(investigation, f"{section}_due") == reported + timedelta(
            hours=hours[section]
        )
    assert hours["core"] < hours["itinerary"] <= hours["contacts"] < hours["report"] == 24


def test_sections_are_late_when_missing_after_or_submitted_after_their_deadline(world):
    investigation = _investigation(world)
    now = investigation.report_due + timedelta(hours=1)
    assert all(s.late for s in inv.section_states(investigation, now))
    early = investigation.core_due - timedelta(hours=3)
    assert not any(s.late for s in inv.section_states(investigation, early))
    investigation.core_submitted_at = investigation.core_due - timedelta(minutes=1)
    investigation.itinerary_submitted_at = investigation.itinerary_due + timedelta(minutes=1)
    states = {s.name: s.late for s in inv.section_states(investigation, now)}
    assert states == {"core": False, "itinerary": True, "contacts": True, "report": True}


def test_submitting_a_section_stamps_the_first_time_only(world):
    tracer = world.users["tracer_a"]
    investigation = _investigation(world)
    inv.submit_section(tracer, investigation, "core")
    first = Investigation.objects.get(pk=investigation.pk).core_submitted_at
    assert first is not None
    inv.submit_section(tracer, investigation, "core")
    assert Investigation.objects.get(pk=investigation.pk).core_submitted_at == first
    assert _actions().count("investigation.submit") == 2


def test_itinerary_times_out_of_order_or_in_the_future_are_refused(world):
    with pytest.raises(inv.InvestigationInvalid) as refused:
        _entry(world, t_in="2022-03-03 12:00", t_out="2022-03-03 11:00")
    assert "t_out" in refused.value.errors
    future = (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    with pytest.raises(inv.InvestigationInvalid) as refused:
        _entry(world, t_in=future, t_out="")
    assert refused.value.errors["t_in"] == "This time is in the future."
    with pytest.raises(inv.InvestigationInvalid) as refused:
        _entry(world, t_in="2022-03-33 12:00")
    assert "t_in" in refused.value.errors
    assert not _investigation(world).itinerary.exists()


def test_an_entry_outside_the_infectious_window_is_kept_with_a_warning(world):
    entry, warnings = _entry(world, t_in="2022-02-20 09:00", t_out="2022-02-20 10:00")
    assert entry.pk and entry.outside_window
    assert warnings and "outside the infectious window" in warnings[0]
    inside, none = _entry(world)
    assert not inside.outside_window and none == []


def test_a_described_place_needs_its_jurisdiction(world):
    with pytest.raises(inv.InvestigationInvalid) as refused:
        _entry(world, venue="", place="朋友家")
    assert set(refused.value.errors) == {"place_jurisdiction"}
    entry, _ = _entry(world, venue="", place="朋友家", place_jurisdiction="350206")
    assert entry.venue_id is None and entry.place_jurisdiction_id == "350206"


def test_a_contact_is_found_only_through_the_itinerary(world):
    """The case never scanned venue A; person A did. Tracing finds person A only once the
    investigation says the case was there."""
    CheckIn.objects.create(
        person=world.person_a, venue=world.venue_a, t_in=at(3, 12, 10), t_out=at(3, 13),
        source="venue_code",
    )  # fmt: skip
    tracer = world.users["tracer_a"]
    start_run(tracer, [world.case_a])
    queue.run_pending()
    assert not Contact.objects.filter(person=world.person_a).exists()

    _entry(world)  # 12:00-12:45 at venue A: 35 minutes together
    inv.submit_section(tracer, _investigation(world), "itinerary")  # starts a run
    queue.run_pending()
    run = TracingRun.objects.filter(cases=world.case_a).latest("id")
    assert run.state == "done", run.error
    contact = Contact.objects.get(person=world.person_a)
    assert contact.degree == 1 and contact.case == world.case_a
    exposure = Exposure.objects.get(contact=contact)
    assert exposure.venue_id == world.venue_a.pk and exposure.source == "tracing"
    assert exposure.start == at(3, 12, 10) and exposure.end == at(3, 12, 45)


def test_a_removed_entry_no_longer_feeds_tracing(world):
    entry, _ = _entry(world)
    windows = [(world.case_a.person_id, world.case_a.window_start, timezone.now())]
    assert [r[2] for r in inv.itinerary_stays(windows)] == [world.venue_a.pk]
    inv.remove_itinerary_entry(world.users["tracer_a"], _investigation(world), entry.pk)
    assert inv.itinerary_stays(windows) == []
    assert _actions()[-2:] == ["investigation.itinerary.add", "investigation.itinerary.remove"]


def test_named_contacts_malformed_id_reported_precisely_the_rest_kept(world):
    good = world.person_a.doc_number
    bad = good[:17] + ("0" if good[17] != "0" else "1")  # a mistyped check character
    unknown = make_resident_id("350203", datetime(1990, 1, 1).date(), 77)
    rows = [
        {"name": "张伟", "phone": "13800138000", "doc_number": good, "relation": "同事",
         "exposed_from": "2022-03-03 09:00", "exposed_to": "2022-03-03 17:00"},
        {"name": "错号", "doc_number": bad},
        {"name": "", "phone": "13900000000"},
        {"name": "未登记", "doc_number": unknown},
        {"name": "倒序", "exposed_from": "2022-03-03 10:00", "exposed_to": "2022-03-03 09:00"},
    ]  # fmt: skip
    result = inv.add_named_contacts(world.users["tracer_a"], _investigation(world), rows)
    assert [n.name for n in result.saved] == ["张伟", "错号", "未登记"]
    assert len(result.problems) == 3
    assert result.problems[0].startswith("Row 2 (错号): The check character is")
    assert "Saved without a match" in result.problems[0]
    assert result.problems[1].startswith("Row 3:")
    assert result.problems[2].startswith("Row 5 (倒序):")
    matched, wrong, unregistered = result.saved
    assert matched.person == world.person_a and wrong.person is None and wrong.doc_problem
    assert unregistered.person is None and not unregistered.doc_problem


def test_a_named_contact_becomes_a_contact_once(world):
    tracer = world.users["tracer_a"]
    row = {"name": "张伟", "doc_number": world.person_a.doc_number,
           "exposed_from": "2022-03-03 09:00", "exposed_to": "2022-03-03 17:00"}  # fmt: skip
    named = inv.add_named_contacts(tracer, _investigation(world), [row]).saved[0]
    counts = inv.record_named_contact(tracer, _investigation(world), named.pk)
    assert counts["created"] == 1
    contact = Contact.objects.get(person=world.person_a)
    assert Exposure.objects.get(contact=contact).source == "named"
    again = inv.record_named_contact(tracer, _investigation(world), named.pk)
    assert again["created"] == 0 and again["exposures"] == 0
    assert Contact.objects.filter(person=world.person_a).count() == 1
    named.refresh_from_db()
    assert named.contact == contact


def test_an_unmatched_named_contact_cannot_be_recorded(world):
    tracer = world.users["tracer_a"]
    named = inv.add_named_contacts(tracer, _investigation(world), [{"name": "无证件"}]).saved[0]
    with pytest.raises(inv.InvestigationInvalid):
        inv.record_named_contact(tracer, _investigation(world), named.pk)


def test_likely_sources(world):
    tracer = world.users["tracer_a"]
    investigation = _investigation(world)
    inv.add_source(tracer, investigation, {"kind": "setting", "description": "农贸市场冷链摊位"})
    with pytest.raises(inv.InvestigationInvalid) as refused:
        inv.add_source(tracer, investigation, {"kind": "case", "case_number": "NOPE"})
    assert "case_number" in refused.value.errors
    with pytest.raises(inv.InvestigationInvalid) as refused:
        inv.add_source(tracer, investigation, {"kind": "person", "doc_number": "3502"})
    assert "18" in refused.value.errors["doc_number"]
    inv.add_source(
        tracer, investigation, {"kind": "person", "doc_number": world.person_b.doc_number}
    )
    assert [s.kind for s in investigation.sources.all()] == ["setting", "person"]


def test_the_page_reads_and_writes_are_audited_and_scoped(world, login):
    url = f"/cases/{world.case_a.pk}/investigation/"
    client = login("tracer_a")
    page = client.get(url).content.decode()
    assert 'data-testid="sections"' in page and world.venue_a.name in page
    assert _actions()[-1] == "investigation.view"
    response = client.post(url + "core/", {"occupation": "教师", "workplace": "某小学"})
    assert response.status_code == 302
    assert Investigation.objects.get(case=world.case_a).occupation == "教师"
    assert _actions()[-1] == "investigation.core"
    for persona in ("tracer_b", "quarantine_a", "grid_a", "lab_a"):
        assert login(persona).get(url).status_code == 404
    assert login("tracer_b").post(url + "core/", {"occupation": "x"}).status_code == 404
    assert login("command").post(url + "core/", {"occupation": "x"}).status_code == 404
    assert Investigation.objects.get(case=world.case_a).occupation == "教师"


def test_the_form_reports_bad_entries_and_warnings(world, login):
    client = _english(login("tracer_a"))
    url = f"/cases/{world.case_a.pk}/investigation/"
    data = {"venue": world.venue_a.pk, "t_in": "2022-03-03 12:00", "t_out": "2022-03-03 11:00",
            "travel": "bus"}  # fmt: skip
    page = client.post(url + "itinerary/", data, follow=True).content.decode()
    assert "The time out is before the time in." in page
    data.update(t_in="2022-02-01 08:00", t_out="2022-02-01 09:00")
    page = client.post(url + "itinerary/", data, follow=True).content.decode()
    assert "outside the infectious window" in page and 'data-testid="outside-window"' in page
    bad = world.person_b.doc_number[:10]
    page = client.post(url + "contacts/", {"name_0": "甲", "doc_number_0": bad, "name_1": "乙"},
                       follow=True).content.decode()  # fmt: skip
    assert "Row 1 (甲): The identity number has 10 characters" in page
    assert _investigation(world).named_contacts.count() == 2


def test_the_list_names_the_late_investigator_and_rolls_up_by_county(world, login):
    Investigation.objects.filter(case=world.case_a).update(core_submitted_at=None)
    page = login("tracer_a").get("/investigations/").content.decode()
    assert world.case_a.number in page and "tracer_a" in page and 'data-testid="late"' in page
    command = login("command").get("/investigations/?late=1").content.decode()
    assert 'data-testid="rollup"' in command and "(350203): <strong>1</strong>" in command
    assert world.case_a.number not in login("tracer_b").get("/investigations/").content.decode()
    rollup = inv.late_by_county(Investigation.objects.all(), timezone.now())
    assert rollup == [{"county": "350203", "name": rollup[0]["name"], "n": 1}]
    assert _actions()[-1] == "investigation.list"


def test_take_over_makes_the_actor_the_investigator(world, login):
    Investigation.objects.filter(case=world.case_a).update(investigator=None)
    client = login("tracer_a")
    client.post(f"/cases/{world.case_a.pk}/investigation/take/")
    assert Investigation.objects.get(case=world.case_a).investigator == world.users["tracer_a"]
