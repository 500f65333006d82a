"""Importing Go.Data exports (cases, contacts, relationships): the mapping report names every
column, every translated value and every bad row; good rows are kept; a second import of the
same files changes nothing."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from openpyxl import Workbook

from fangkong.accounts.models import AuditEntry
from fangkong.cases import godata
from fangkong.cases.models import Case, CaseEvent, Contact, Exposure, Outcome
from fangkong.people.importing import FileProblem
from fangkong.people.models import Person

DATA = Path(__file__).parent / "godata_data"
CASES, CONTACTS, RELATIONSHIPS = "cases", "contacts", "relationships"


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def upload(name: str) -> godata.Upload:
    return godata.Upload(f"{name}.csv", (DATA / f"{name}.csv").read_bytes())


def run(world, user="tracer_a", cases=None, with_contacts=True):
    return godata.import_godata(
        world.users[user],
        cases or upload(CASES),
        upload(CONTACTS) if with_contacts else None,
        upload(RELATIONSHIPS) if with_contacts else None,
    )


def problems(report, file):
    return {(p.row, p.column): p.message for p in report.problems if p.file == file}


def snapshot():
    return [m.objects.count() for m in (Person, Case, CaseEvent, Contact, Exposure)]


def test_good_rows_become_cases_contacts_and_exposures(world):
    report = run(world)
    counts = report.counts
    assert (counts["cases_opened"], counts["people_registered"]) == (3, 4)
    assert (counts["contacts_created"], counts["exposures_added"]) == (2, 2)
    chen = Case.objects.get(person__doc_number="35020319900601101X")
    assert (chen.classification, chen.person.name, chen.person.jurisdiction_id) == (
        "confirmed", "陈伟", "350203")  # fmt: skip
    assert str(chen.onset_date) == "2022-03-04"
    zhang = Case.objects.get(person=world.person_a)
    assert (zhang.classification, zhang.outcome) == ("suspected", Outcome.RECOVERED)
    # full-width digits and a place name instead of a code
    li = Person.objects.get(doc_number="350203197502141121")
    assert (li.name, li.jurisdiction_id) == ("李四", "350203")
    contact = Contact.objects.get(person__doc_number="350203200101201212")
    assert (contact.case, contact.degree) == (chen, 1)
    exposure = contact.exposures.get()
    assert timezone.localtime(exposure.start).date().isoformat() == "2022-03-03"
    assert exposure.place.startswith("Slept ate or spend time")
    # the contact's own date of last contact stands in for the relationship's missing one
    ma = Contact.objects.get(person__doc_number="350203196911021329")
    assert (ma.case, str(timezone.localtime(ma.last_exposure).date())) == (zhang, "2022-03-07")


def test_every_bad_row_is_named_by_file_row_and_column(world):
    report = run(world)
    cases = problems(report, CASES)
    assert "check" in cases[(5, "Documents Number [1]")]
    assert "ambiguous" in cases[(6, "Date of onset")]
    assert "outside your jurisdiction" in cases[(7, "Documents Number [1]")]
    assert "UNDER_REVIEW" in cases[(8, "Classification")]
    assert "no identity document" in cases[(9, "Documents Number [1]")].lower()
    assert "row 2" in cases[(10, "ID")]
    assert "350206" in cases[(11, "Addresses Location [1]")]
    assert "asymptomatic" in cases[(13, "Date of onset")]
    assert len(cases) == 8
    contacts = problems(report, CONTACTS)
    assert "outside your jurisdiction" in contacts[(3, "Documents Number [1]")]
    assert "nationality" in contacts[(4, "Documents Type [1]")].lower()
    assert "No relationship" in contacts[(5, "ID")]
    assert "Very high" in contacts[(6, "Risk level")]
    relationships = problems(report, RELATIONSHIPS)
    assert "row 3" in relationships[(3, "Target")]
    assert "row 5 of the cases file" in relationships[(6, "Source")]
    assert "neither" in relationships[(7, "Target")]
    assert "not a date" in relationships[(9, "Date of last contact")]
    assert "row 4" in relationships[(10, "Target")]
    assert report.bad_rows == 8 + 4 + 5


def test_nothing_is_dropped_silently(world):
    report = run(world)
    notes = {(n.file, n.row): n.message for n in report.notes}
    assert "Discarded" in notes[(CASES, 4)]
    assert "two cases" in notes[(RELATIONSHIPS, 5)]

    # every data row is imported, reported bad, or noted: nothing else
    def rows_with(items, file):
        return len({p.row for p in items if p.file == file})

    imported = {CASES: 3, CONTACTS: 2, RELATIONSHIPS: 3}
    for file, total in report.rows.items():
        bad, noted = rows_with(report.problems, file), rows_with(report.notes, file)
        assert imported[file] + bad + noted == total, file
    assert report.rows == {CASES: 12, CONTACTS: 6, RELATIONSHIPS: 9}


def test_a_rejected_row_leaves_nothing_behind(world):
    run(world)  # row 13 registered its person, then failed the case rules
    assert not Person.objects.filter(doc_number="350203198005051517").exists()


def test_mapping_report_lists_columns_and_translations(world):
    report = run(world)
    columns = {(c.file, c.header): c for c in report.columns}
    assert columns[(CASES, "Documents Number [1]")].field == "doc_number"
    assert columns[(CASES, "Date of reporting")].field == "reported"
    assert columns[(CASES, "Occupation")].field == ""
    assert columns[(CASES, "Documents Number [2]")].meaning.startswith("ignored: only the first")
    assert columns[(RELATIONSHIPS, "Certainty level")].field == ""
    assert columns[(CONTACTS, "Risk level")].field == "risk"
    translated = {(f, c, v): (b, n) for f, c, v, b, n in report.translation_rows}
    assert translated[("cases", "Classification", "Suspect")] == ("suspected case", 1)
    assert translated[("cases", "Gender", "LNG_REFERENCE_DATA_CATEGORY_GENDER_MALE")][0] == "male"
    assert translated[("cases", "Outcome", "Recovered")] == ("recovered", 1)
    key = ("contacts", "Risk level", "LNG_REFERENCE_DATA_CATEGORY_RISK_LEVEL_3_HIGH")
    assert translated[key] == ("high", 1)


def test_second_import_changes_nothing(world):
    run(world)
    before = snapshot()
    report = run(world)
    assert snapshot() == before
    assert report.counts["cases_opened"] == report.counts["contacts_created"] == 0
    assert report.counts["cases_unchanged"] == 3
    assert report.counts["exposures_unchanged"] == 3


def test_the_go_data_id_is_kept_with_the_case(world):
    run(world)
    event = CaseEvent.objects.get(field="godata_id", new="2f6b1c3e-0001-4a6e-9d1a-000000000001")
    assert event.case.person.doc_number == "35020319900601101X"
    assert "CASE-00001" in event.note


def test_import_is_audited(world):
    report = run(world)
    details = json.loads(AuditEntry.objects.get(action="case.import_godata").details)
    assert (details["bad_rows"], details["cases_opened"]) == (report.bad_rows, 3)


def test_a_tracer_elsewhere_imports_only_their_own_people(world):
    report = run(world, user="tracer_b", with_contacts=False)
    assert report.counts["cases_opened"] == 2  # 李娜 (registered in county B) and 吴洋 (new)
    assert Case.objects.filter(person=world.person_b).exists()
    assert not Case.objects.filter(person__doc_number="35020319900601101X").exists()
    cases = problems(report, CASES)
    assert "outside your jurisdiction" in cases[(3, "Documents Number [1]")]


def test_a_role_without_cases_may_not_import(world):
    with pytest.raises(PermissionError):
        run(world, user="grid_a")


def _xlsx_of(name: str) -> bytes:
    book = Workbook()
    for row in csv.reader(io.StringIO((DATA / f"{name}.csv").read_text("utf-8"))):
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_export_reads_like_csv(world):
    report = run(world, cases=godata.Upload("cases.xlsx", _xlsx_of(CASES)))
    assert report.counts["cases_opened"] == 3
    assert len(problems(report, CASES)) == 8


def test_a_file_without_the_required_columns_is_refused(world):
    bad = godata.Upload("cases.csv", "First name,Last name\n伟,陈\n".encode())
    with pytest.raises(FileProblem, match="ID, Classification"):
        godata.import_godata(world.users["tracer_a"], bad)


@pytest.mark.parametrize(
    ("raw", "day"),
    [("2022-03-05", "2022-03-05"), ("2022-03-05T00:00:00.000Z", "2022-03-05"),
     ("2022/3/5", "2022-03-05"), ("2022-03-05 00:00:00", "2022-03-05"), ("", None)],
)  # fmt: skip
def test_dates_go_data_writes(raw, day):
    parsed = godata.parse_day(raw)
    assert (parsed.isoformat() if parsed else None) == day


@pytest.mark.parametrize("raw", ["05/03/2022", "2022-02-30", "yesterday"])
def test_dates_refused(raw):
    with pytest.raises(ValueError):
        godata.parse_day(raw)


def test_headers_compare_on_letters():
    assert godata.header_key("Documents Number [1]") == godata.header_key("documents[0].number")
    assert godata.header_key("Date of onset") == godata.header_key("dateOfOnset")


def test_names():
    assert godata.full_name({"first_name": "芳", "last_name": "王"}) == "王芳"
    assert godata.full_name({"first_name": "Ana", "last_name": "Silva"}) == "Ana Silva"


def test_page_uploads_and_shows_the_report(login, world):
    client = login("tracer_a")
    assert client.get("/cases/import/godata/").status_code == 200
    files = {
        name: SimpleUploadedFile(f"{name}.csv", (DATA / f"{name}.csv").read_bytes())
        for name in (CASES, CONTACTS, RELATIONSHIPS)
    }
    response = client.post("/cases/import/godata/", files)
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="problems"' in body and "Documents Number [1]" in body
    assert 'data-testid="translations"' in body


def test_page_without_the_cases_file_says_so(login, world):
    response = login("tracer_a").post("/cases/import/godata/", {})
    assert response.status_code == 400
    assert "请选择病例文件" in response.content.decode()  # the page speaks Chinese by default
