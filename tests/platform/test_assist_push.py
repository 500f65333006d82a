"""Pushes from a higher level: a list arrives as a file, bad rows are reported by row and column,
good rows are split into one request per county, and the push completes with its parts."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook

from epicore.idcard import make_resident_id
from fangkong.accounts.models import User
from fangkong.cases import assist, pushes
from fangkong.cases.actions import CaseInvalid
from fangkong.cases.models import AssistanceItem, AssistanceRequest
from fangkong.people.importing import FileProblem, read_table_file
from fangkong.people.models import Person
from fangkong.testing import COUNTY_A, COUNTY_B

HEADER = [
    "协查编号",
    "序号",
    "姓名",
    "证件类型",
    "证件号码",
    "手机号码",
    "现住址编码",
    "详细地址",
    "暴露情况",
    "核查状态",
    "备注",
]
NEW_ID = make_resident_id("350203", date(1990, 1, 1), 15)
FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.fixture
def city_tracer(world):
    user = User.objects.create(username="tracer_city", role="tracer", jurisdiction_id="3502")
    return user


def _xlsx(rows, merge=()) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    for area in merge:
        sheet.merge_cells(area)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _row(name, doc, code, exposure="密切接触者 · 2022-03-02 04:00"):
    return ["SJ-2022-001", "1", name, "居民身份证", doc, "", code, "", exposure, "", ""]


def test_a_push_is_split_by_county_and_every_bad_row_is_reported(world, city_tracer):
    a, b = world.person_a, world.person_b
    rows = [
        _row("张伟", a.doc_number.translate(FULL_WIDTH), a.jurisdiction_id),  # full-width digits
        _row("李娜", b.doc_number, b.jurisdiction_id, exposure=None),  # merged exposure below
        _row("王五", "350203198504120000", world.grid_a),  # wrong check character
        _row("张伟", a.doc_number, a.jurisdiction_id),  # listed twice
        _row("外地", "110105194912310029", "110105001001001"),  # outside the city
        _row("新人", NEW_ID, world.grid_a),  # valid, not registered yet
    ]
    rows[4][6] = "110105"
    data = _xlsx(rows, merge=["I2:I3"])
    records = read_table_file("push.xlsx", data, pushes.PUSH)
    assert records[1][1]["exposure"] == "密切接触者 · 2022-03-02 04:00"  # filled from the merge
    report = pushes.import_push(city_tracer, records, "福建省疫情防控指挥部")
    assert sorted({r for r, _c, _m in report.problems}) == [4, 5, 6]
    assert {c for r, c, _m in report.problems if r == 4} == {"证件号码"}
    assert (report.people_known, report.people_new) == (2, 1)
    parts = {p.to_jurisdiction_id: p for p in report.parts}
    assert set(parts) == {COUNTY_A, COUNTY_B}
    assert parts[COUNTY_A].items.count() == 2 and parts[COUNTY_B].items.count() == 1
    assert (
        report.parent.source == "福建省疫情防控指挥部" and parts[COUNTY_A].parent == report.parent
    )
    assert Person.objects.filter(doc_number=NEW_ID).exists()


def test_a_push_completes_when_all_its_parts_do(world, city_tracer):
    a, b = world.person_a, world.person_b
    records = read_table_file(
        "push.xlsx", _xlsx([_row("张伟", a.doc_number, a.jurisdiction_id), _row("李娜", b.doc_number, b.jurisdiction_id)]),
        pushes.PUSH,
    )  # fmt: skip
    report = pushes.import_push(city_tracer, records, "省指挥部")
    for part, tracer in ((report.parts[0], "tracer_a"), (report.parts[1], "tracer_b")):
        user = world.users[tracer]
        for item in AssistanceItem.objects.filter(request=part):
            assist.set_item_state(user, part.pk, item.pk, "located")
        assist.complete(user, part.pk)
        report.parent.refresh_from_db()
    assert report.parent.state == "completed"
    with pytest.raises(CaseInvalid):
        assist.complete(city_tracer, report.parent.pk)  # only through its parts


def test_wrong_headers_and_a_county_tracer_outside_their_county(world):
    with pytest.raises(FileProblem):
        read_table_file("x.csv", "名字,号码\n张三,1\n".encode(), pushes.PUSH)
    b = world.person_b
    csv = ",".join(HEADER) + "\n" + ",".join(_row("李娜", b.doc_number, b.jurisdiction_id)) + "\n"
    records = read_table_file("x.csv", csv.encode("gbk"), pushes.PUSH)
    report = pushes.import_push(world.users["tracer_a"], records, "市指挥部")
    assert report.parts == [] and report.bad_rows == 1
    assert "outside your jurisdiction" in report.problems[0][2] or "辖区" in report.problems[0][2]
    assert not AssistanceRequest.objects.filter(source="市指挥部").exists()


def test_the_push_page(world, login):
    a = world.person_a
    csv = ",".join(HEADER) + "\n" + ",".join(_row("张伟", a.doc_number, a.jurisdiction_id)) + "\n"
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = login("tracer_a")
    response = client.post(
        "/assist/", {"file": SimpleUploadedFile("p.csv", csv.encode()), "source": "市指挥部"}
    )
    assert response.status_code == 200 and 'data-testid="push-report"' in response.content.decode()
    assert login("command").post("/assist/", {}).status_code == 404
