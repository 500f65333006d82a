from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fangkong.accounts import audit
from fangkong.accounts.models import AuditEntry
from fangkong.cases import actions
from fangkong.cases.models import (
    AssistanceItem,
    Case,
    CaseEvent,
    Contact,
    ContactStatus,
    Exposure,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _open(world, person, **data):
    tracer = world.users["tracer_a"]
    fields = {"classification": "confirmed", "onset_date": "2022-03-10"} | data
    return actions.do_open_case(tracer, actions.check_case(tracer, person.pk, fields))


def test_open_case_numbers_it_and_opens_the_window_four_days_before_onset(world):
    case = _open(world, world.person_a, reported_at="2022-03-12 08:30")
    assert case.number == f"{world.grid_a[:6]}-2022-0002"  # the world's case is 0001
    assert case.window_start == datetime(2022, 3, 6, tzinfo=SHANGHAI)
    assert case.protocol == "8"
    entry = AuditEntry.objects.filter(action="case.open").order_by("-seq").first()
    assert entry.object_id == str(case.pk)
    assert AuditEntry.objects.filter(action="tracing.start").exists()  # confirmed: traced at once
    assert audit.verify().ok


def test_asymptomatic_window_counts_from_the_sample_and_the_ninth_edition_applies(world):
    case = _open(
        world,
        world.person_a,
        classification="asymptomatic",
        onset_date="",
        sampled_date="2022-07-02",
        reported_at="2022-07-03 10:00",
    )
    assert case.window_start == datetime(2022, 6, 28, tzinfo=SHANGHAI)
    assert case.protocol == "9"


def test_every_problem_of_a_new_case_is_named(world):
    tracer = world.users["tracer_a"]
    with pytest.raises(actions.CaseInvalid) as caught:
        actions.check_case(
            tracer,
            world.person_a.pk,
            {"classification": "maybe", "sampled_date": "2022-13-01", "reported_at": "soon"},
        )
    assert set(caught.value.errors) == {"classification", "sampled_date", "reported_at"}


def test_onset_after_the_report_and_missing_dates_are_refused(world):
    tracer = world.users["tracer_a"]
    with pytest.raises(actions.CaseInvalid) as caught:
        actions.check_case(
            tracer,
            world.person_a.pk,
            {
                "classification": "confirmed",
                "onset_date": "2022-03-20",
                "reported_at": "2022-03-12",
            },
        )
    assert "onset_date" in caught.value.errors
    with pytest.raises(actions.CaseInvalid) as caught:
        actions.check_case(tracer, world.person_a.pk, {"classification": "confirmed"})
    assert "onset_date" in caught.value.errors


def test_a_second_open_case_for_the_same_person_is_refused(world):
    with pytest.raises(actions.CaseInvalid) as caught:
        _open(world, world.person_a2)
    assert "person" in caught.value.errors


def test_roles_and_scope_guard_case_opening(world):
    from django.http import Http404

    with pytest.raises(PermissionError):
        actions.check_case(world.users["command"], world.person_a.pk, {})
    with pytest.raises(Http404):
        actions.check_case(world.users["tracer_b"], world.person_a.pk, {})


def test_reclassification_keeps_the_history(world):
    tracer = world.users["tracer_a"]
    actions.do_reclassify(tracer, world.case_a, "asymptomatic", note="复核")
    event = CaseEvent.objects.get(case=world.case_a)
    assert (event.old, event.new, event.note) == ("confirmed", "asymptomatic", "复核")
    assert AuditEntry.objects.order_by("-seq").first().action == "case.reclassify"


def _exposure(person, via, degree, start, hours=1):
    return actions.ExposureIn(person.pk, via.pk, degree, start, start + timedelta(hours=hours))


def test_one_contact_per_person_at_the_lowest_degree(world):
    tracer, case = world.users["tracer_a"], world.case_a
    start = case.window_start + timedelta(days=2)
    counts = actions.do_record_exposures(
        tracer,
        case,
        [
            _exposure(world.person_a, world.person_b, 2, start),
            _exposure(world.person_a, world.person_a2, 1, start + timedelta(hours=3)),
            _exposure(world.person_a, world.person_a2, 1, start + timedelta(hours=3)),  # again
        ],
    )
    contact = Contact.objects.get(person=world.person_a)
    assert contact.degree == 1
    assert contact.last_exposure == start + timedelta(hours=4)
    assert Exposure.objects.filter(contact=contact).count() == 2
    assert counts == {
        "created": 1,
        "closer": 1,
        "exposures": 2,
        "skipped_cases": 0,
        "requests": 0,  # same county as the case: nothing to push
    }


@pytest.mark.parametrize("raced", [False, True])
def test_many_exposures_across_chunks_keep_one_contact_per_person(world, monkeypatch, raced):
    """The set-wise path (chunks of 2 here) gives what one exposure at a time gives: the
    lowest degree, the latest exposure, each exposure once, a known contact made closer.
    raced: on PostgreSQL the plain insert of new contacts misses the known ones, as when
    another writer inserts them meanwhile; the unique index refuses it and the insert is done
    again with ON CONFLICT, to the same result."""
    from datetime import date

    from fangkong.cases import bulk_contacts
    from fangkong.testing import _person

    monkeypatch.setattr(actions, "CHUNK", 2)
    if raced:
        monkeypatch.setattr(bulk_contacts, "_UNKNOWN_IN_RANGE", "WHERE %s::bigint <= %s::bigint")
    tracer, case = world.users["tracer_a"], world.case_a
    start = case.window_start + timedelta(days=1)
    extra = [
        _person(f"接触{i}", world.person_a.jurisdiction_id, date(1990, 1, 1), 100 + i, "")
        for i in range(5)
    ]
    exposures = [
        _exposure(p, world.person_a2, 2, start + timedelta(minutes=i)) for i, p in enumerate(extra)
    ]
    exposures += [_exposure(extra[0], world.person_a2, 1, start + timedelta(hours=5))]
    exposures += [_exposure(extra[1], world.person_a2, 2, start + timedelta(minutes=1))]  # again
    exposures += [_exposure(world.person_b, world.person_a2, 1, start, hours=9)]  # known, closer?
    before = Contact.objects.get(person=world.person_b)
    counts = actions.do_record_exposures(tracer, case, exposures)
    assert counts["created"] == 5 and counts["exposures"] == 7
    assert counts["closer"] == 1 + (before.degree > 1)
    got = {c.person_id: c for c in Contact.objects.filter(case=case)}
    assert got[extra[0].pk].degree == 1
    assert got[extra[0].pk].last_exposure == start + timedelta(hours=6)
    assert all(got[p.pk].degree == 2 for p in extra[1:])
    assert got[world.person_b.pk].last_exposure >= start + timedelta(hours=9)
    assert Exposure.objects.filter(contact__person__in=extra).count() == 6
    again = actions.do_record_exposures(tracer, case, exposures)
    assert (again["created"], again["exposures"], again["closer"]) == (0, 0, 0)


def test_cases_are_never_their_own_contacts(world):
    tracer, case = world.users["tracer_a"], world.case_a
    start = case.window_start + timedelta(days=1)
    counts = actions.do_record_exposures(
        tracer, case, [_exposure(world.person_a2, world.person_b, 1, start)]
    )
    assert counts["skipped_cases"] == 1
    assert not Contact.objects.filter(person=world.person_a2).exists()


def test_a_bad_exposure_writes_nothing(world):
    tracer, case = world.users["tracer_a"], world.case_a
    start = case.window_start + timedelta(days=1)
    backwards = actions.ExposureIn(
        world.person_a.pk, world.person_a2.pk, 1, start, start - timedelta(minutes=5)
    )
    with pytest.raises(actions.NotAContact):
        actions.do_record_exposures(
            tracer, case, [_exposure(world.person_a, world.person_a2, 1, start), backwards]
        )
    assert not Contact.objects.filter(person=world.person_a).exists()


def test_contact_status_moves_only_forward_along_the_workflow(world):
    tracer_b, contact = world.users["tracer_b"], world.contact_b
    actions.do_set_contact_status(tracer_b, contact, ContactStatus.LOCATED)
    with pytest.raises(actions.CaseInvalid):
        actions.do_set_contact_status(tracer_b, contact, ContactStatus.RELEASED)
    actions.do_set_contact_status(tracer_b, contact, ContactStatus.QUARANTINED)
    assert Contact.objects.get(pk=contact.pk).status == ContactStatus.QUARANTINED


def test_a_contact_who_becomes_a_case_is_marked(world):
    tracer_b = world.users["tracer_b"]
    clean = actions.check_case(
        tracer_b, world.person_b.pk, {"classification": "confirmed", "onset_date": "2022-03-09"}
    )
    case = actions.do_open_case(tracer_b, clean)
    assert case.number.startswith(world.grid_b[:6])
    assert Contact.objects.get(person=world.person_b).status == ContactStatus.BECAME_CASE


def test_case_page_counts_contacts_elsewhere_without_naming_them(login, world):
    page = login("tracer_a").get(f"/cases/{world.case_a.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="elsewhere"' in html
    assert world.person_b.name not in html
    assert world.person_b.doc_number[-4:] not in html


def test_receiving_county_sees_the_contact(login, world):
    page = login("tracer_b").get("/contacts/")
    assert world.contact_b.case.number in page.content.decode()
    assert login("tracer_b").get(f"/cases/{world.case_a.pk}/").status_code == 404


def test_case_form_shows_field_errors(login, world):
    page = login("tracer_a").post(
        f"/people/{world.person_a.pk}/case/", {"classification": "confirmed"}
    )
    assert page.status_code == 400
    assert 'data-testid="error-onset_date"' in page.content.decode()


def test_case_form_opens_a_case(login, world):
    page = login("tracer_a").post(
        f"/people/{world.person_a.pk}/case/",
        {"classification": "suspected", "onset_date": "2022-03-01"},
    )
    assert page.status_code == 302
    assert Case.objects.filter(person=world.person_a, classification="suspected").exists()


def test_api_opens_and_lists_cases(login, world):
    client = login("tracer_a")
    created = client.post(
        "/api/cases",
        {"person_id": world.person_a.pk, "classification": "confirmed", "onset_date": "2022-03-01"},
        content_type="application/json",
    )
    assert created.status_code == 201
    listed = client.get("/api/cases").json()
    assert [c["number"] for c in listed["items"]][:1] == [created.json()["number"]]
    refused = client.post(
        "/api/cases",
        {"person_id": world.person_a2.pk, "classification": "confirmed"},
        content_type="application/json",
    )
    assert refused.status_code == 400
    assert {"person", "onset_date"} <= set(refused.json()["errors"])


def test_transmission_graph_links_cases_to_contacts_within_scope(login, world):
    page = login("command").get("/graph/").content.decode()
    assert f'data-person="{world.person_a2.pk}" data-generation="0"' in page
    assert f'data-person="{world.person_b.pk}" data-generation="1"' in page
    county_a = login("tracer_a").get("/graph/").content.decode()
    assert f'data-person="{world.person_b.pk}"' not in county_a  # lives in county B


def test_fhir_export_validates_against_the_fhir_models(login, world):
    from fhir.resources.R4B.bundle import Bundle

    tracer = world.users["command"]
    case = world.case_a
    response = login("command").get(f"/cases/{case.pk}/fhir.json")
    assert response["Content-Type"] == "application/fhir+json"
    bundle = Bundle.model_validate(response.json())  # raises on any invalid resource
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds.count("Patient") == 2 and "Condition" in kinds and "Observation" in kinds
    patient = response.json()["entry"][0]["resource"]
    assert patient["identifier"][0]["value"] == world.person_a2.doc_number  # command may reveal
    assert AuditEntry.objects.filter(action="case.export_fhir", actor_id=tracer.pk).exists()


def test_an_unregistered_contact_writes_nothing(world):
    """Someone the platform does not know: a precise error, and no contact or exposure of the
    list is kept (the set-wise PostgreSQL path and the ORM path alike)."""
    tracer, case = world.users["tracer_a"], world.case_a
    start = case.window_start + timedelta(days=1)
    nobody = actions.ExposureIn(10**12, world.person_a2.pk, 1, start, start + timedelta(hours=1))
    with pytest.raises(actions.NotAContact):
        actions.do_record_exposures(
            tracer, case, [_exposure(world.person_a, world.person_a2, 1, start), nobody]
        )
    assert not Contact.objects.filter(person=world.person_a).exists()
    assert not Exposure.objects.filter(contact__person=world.person_a).exists()


def test_an_exposure_through_an_unregistered_person_or_venue_writes_nothing(world):
    """Exposures carry no database-side references (cases.models): the ids they name are
    checked before anything is written, with an error that says which kind is unknown."""
    tracer, case = world.users["tracer_a"], world.case_a
    start = case.window_start + timedelta(days=1)
    good = _exposure(world.person_a, world.person_a2, 1, start)
    exposures_before = Exposure.objects.count()
    through_nobody = actions.ExposureIn(world.person_b.pk, 10**12, 1, start, start)
    with pytest.raises(actions.NotAContact, match="传播来源人员未登记"):
        actions.do_record_exposures(tracer, case, [good, through_nobody])
    nowhere = actions.ExposureIn(world.person_b.pk, world.person_a2.pk, 1, start, start, 10**12)
    with pytest.raises(actions.NotAContact, match="场所未登记"):
        actions.do_record_exposures(tracer, case, [good, nowhere])
    assert not Contact.objects.filter(person=world.person_a).exists()
    assert Exposure.objects.count() == exposures_before


def test_deleting_what_contacts_name_is_still_guarded(world):
    """Contacts, exposures and assistance items carry no database-side references: Django's
    PROTECT must refuse deleting the people they name, and CASCADE remove a contact's
    exposures with it."""
    from django.db.models import ProtectedError

    tracer, case = world.users["tracer_a"], world.case_a
    start = case.window_start + timedelta(days=1)
    exposure = _exposure(world.person_b, world.person_a2, 1, start)
    actions.do_record_exposures(tracer, case, [replace(exposure, venue_id=world.venue_b.pk)])
    contact = Contact.objects.get(person=world.person_b)  # the world's contact in county B
    item = AssistanceItem.objects.get(person=world.person_b)  # pushed there
    for named in (world.person_b, world.venue_b, case, contact):
        with pytest.raises(ProtectedError):
            named.delete()
    assert Exposure.objects.filter(contact=contact, venue=world.venue_b).count() == 1
    item.request.delete()
    assert not AssistanceItem.objects.filter(pk=item.pk).exists()
    contact.delete()
    assert not Exposure.objects.filter(contact_id=contact.pk).exists()
