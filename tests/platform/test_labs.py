from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fangkong.cases.models import Case, TracingRun
from fangkong.healthcode.models import CodeState
from fangkong.jobs import queue
from fangkong.labs import actions
from fangkong.labs.models import PersonTest, ResultUpload, Tube


@pytest.fixture
def lab(world):
    return world.users["lab_a"]


def _pool(world, lab, barcode="T0001", people=None, size=5):
    actions.open_tube(lab, barcode, size, "中山公园采样点", world.grid_a)
    for person in people or [world.person_a, world.person_b]:
        actions.scan_into(lab, barcode, person)
    return actions.seal(lab, barcode)


def test_a_negative_pool_makes_every_member_negative(world, lab):
    assert _pool(world, lab) == {"members": 2, "under_filled": True}
    assert actions.record_result(lab, "T0001", "negative", None, "厦门市第一医院") == "applied"
    tests = PersonTest.objects.filter(tube__barcode="T0001")
    assert {t.person_id for t in tests} == {world.person_a.pk, world.person_b.pk}
    assert all(t.outcome == "negative" and t.pooled for t in tests)


def test_a_positive_pool_recalls_every_member_and_a_positive_retest_opens_a_traced_case(world, lab):
    _pool(world, lab)
    actions.record_result(lab, "T0001", "positive", 28.5, "厦门市第一医院")
    assert actions.pending_retests().count() == 2
    actions.record_individual(lab, world.person_b, timezone.now(), "negative")
    sampled = timezone.now() - timedelta(hours=2)
    actions.record_individual(lab, world.person_a, sampled, "positive")
    assert actions.pending_retests().count() == 0
    case = Case.objects.get(person=world.person_a)
    assert (case.classification, case.sampled_date) == ("asymptomatic", timezone.localdate(sampled))
    assert TracingRun.objects.filter(cases=case).exists()
    queue.run_pending()
    assert CodeState.objects.get(person=world.person_a).colour == "red"


def test_duplicate_uploads_change_nothing_and_conflicts_are_held(world, lab):
    _pool(world, lab)
    actions.record_result(lab, "T0001", "negative", None, "lab")
    assert actions.record_result(lab, "T0001", "negative", None, "lab") == "duplicate"
    assert PersonTest.objects.filter(tube__barcode="T0001").count() == 2
    assert actions.record_result(lab, "T0001", "positive", 30.0, "lab") == "held"
    tube = Tube.objects.get(barcode="T0001")
    assert (tube.state, tube.outcome) == ("held", "negative")  # never silently overwritten
    assert ResultUpload.objects.filter(tube=tube).count() == 3


@pytest.mark.parametrize(
    "step, code",
    [
        (lambda w, lab: actions.record_result(lab, "NOPE", "negative", None, "x"), "unknown_tube"),
        (lambda w, lab: actions.open_tube(lab, "T9", 7, "site", w.grid_a), "tube_size"),
        (lambda w, lab: actions.record_result(lab, "T0002", "negative", None, "x"), "not_sealed"),
        (lambda w, lab: actions.scan_into(lab, "T0003", w.person_a), "in_open_tube"),
        (lambda w, lab: actions.scan_into(lab, "T0002", w.person_a), "already_in_tube"),
        (lambda w, lab: actions.record_result(lab, "T0002", "maybe", None, "x"), "bad_outcome"),
    ],
)
def test_bad_sampling_and_results_are_refused_by_name(world, lab, step, code):
    actions.open_tube(lab, "T0002", 1, "site", world.grid_a)
    actions.scan_into(lab, "T0002", world.person_a)
    actions.open_tube(lab, "T0003", 5, "site", world.grid_a)
    with pytest.raises(actions.Refused) as refused:
        step(world, lab)
    assert refused.value.code == code


def test_a_full_tube_refuses_one_more(world, lab):
    actions.open_tube(lab, "T0004", 1, "site", world.grid_a)
    actions.scan_into(lab, "T0004", world.person_a)
    with pytest.raises(actions.Refused) as refused:
        actions.scan_into(lab, "T0004", world.person_b)
    assert refused.value.code == "tube_full"


def test_malformed_ct_values_are_refused(world, lab):
    _pool(world, lab)
    with pytest.raises(actions.Refused) as refused:
        actions.record_result(lab, "T0001", "positive", -3, "lab")
    assert refused.value.code == "bad_ct"


def test_roles_without_the_capability_cannot_sample(world):
    with pytest.raises(PermissionError):
        actions.open_tube(world.users["tracer_a"], "T5", 5, "site", world.grid_a)


def _upload(client, name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post("/labs/", {"file": SimpleUploadedFile(name, data), "lab": "一院"})


def test_a_gbk_result_file_applies_good_rows_and_names_every_bad_one(world, lab, login):
    _pool(world, lab)
    actions.open_tube(lab, "T0009", 1, "site", world.grid_a)  # never sealed
    text = "采样管条码,检测结果,Ct值\nT0001,阴性,\nNOPE,阴性,\nT0009,阴性,\nT0001,阳性,abc\n"
    page = _upload(login("lab_a"), "results.csv", text.encode("gbk"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "1" in html and 'data-testid="problems"' in html
    report = page.context["report"]
    assert report.applied == 1
    assert [(row, column) for row, column, _ in report.problems] == [
        (3, "条码"),
        (4, "条码"),
        (5, "Ct值"),
    ]
    again = _upload(login("lab_a"), "results.csv", text.encode("gbk")).context["report"]
    assert (again.applied, again.duplicates) == (0, 1)  # the same file twice changes nothing


def test_a_file_in_neither_encoding_or_without_the_columns_is_refused(world, login):
    client = login("lab_a")
    assert _upload(client, "r.csv", b"\xff\xfe\x00garbage\xff").status_code == 400
    missing = _upload(client, "r.csv", "条码,备注\nT1,x\n".encode())
    assert missing.status_code == 400 and "检测结果" in missing.content.decode()


def test_sampling_page_opens_fills_and_seals_a_tube(world, login):
    client = login("grid_a")
    client.post("/labs/sampling/", {"step": "open", "barcode": "S1", "size": "10", "site": "小区"})
    added = client.post(
        "/labs/sampling/",
        {"step": "scan", "barcode": "S1", "doc_number": world.person_a.doc_number},
    )
    assert added.status_code == 200 and 'data-testid="message"' in added.content.decode()
    bad = client.post("/labs/sampling/", {"step": "scan", "barcode": "S1", "doc_number": "123"})
    assert bad.status_code == 400
    sealed = client.post("/labs/sampling/", {"step": "seal", "barcode": "S1"})
    assert Tube.objects.get(barcode="S1").state == "sealed"
    assert "1" in sealed.content.decode()


def test_a_positive_pool_flags_its_members_codes_until_their_retest(world, lab):
    _pool(world, lab)
    actions.record_result(lab, "T0001", "positive", 28.5, "厦门市第一医院")
    queue.run_pending()

    def reasons(person):
        return [r["code"] for r in CodeState.objects.get(person=person).reasons]

    assert "pooled_positive_recall" in reasons(world.person_b)  # red anyway: a close contact
    actions.record_individual(lab, world.person_b, timezone.now(), "negative")
    queue.run_pending()
    assert "pooled_positive_recall" not in reasons(world.person_b)


def test_recalled_people_show_up_for_the_sampling_staff_of_their_area(world, lab, login):
    _pool(world, lab)
    actions.record_result(lab, "T0001", "positive", 28.5, "厦门市第一医院")
    page = login("grid_a").get("/labs/sampling/").content.decode()
    assert "T0001" in page  # person_a lives in grid A
    page = login("lab_a").get("/labs/sampling/").content.decode()
    recalls = page[page.index('data-testid="recalls"') :]
    assert str(world.person_a) in recalls and str(world.person_b) not in recalls  # county B


def test_people_and_tubes_named_by_lab_rows_cannot_be_deleted(world, lab):
    """The lab rows carry no database-side references (models.TubeMember): Django's PROTECT
    must still refuse deleting what they name."""
    from django.db.models import ProtectedError

    _pool(world, lab)
    actions.record_result(lab, "T0001", "negative", None, "厦门市第一医院")
    with pytest.raises(ProtectedError) as refused:
        world.person_a.delete()
    named = {type(o).__name__ for o in refused.value.protected_objects}
    assert {"TubeMember", "PersonTest"} <= named
    with pytest.raises(ProtectedError) as refused:
        Tube.objects.get(barcode="T0001").delete()
    assert "TubeMember" in {type(o).__name__ for o in refused.value.protected_objects}
    assert PersonTest.objects.filter(person=world.person_a).count() == 1
