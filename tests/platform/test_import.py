"""Importing people lists: every bad row named by row and column, nothing half-done silently."""

import io
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from epicore.idcard import make_resident_id
from fangkong.people import actions, importing
from fangkong.people.models import Person

HEADER = "证件类型,证件号码,姓名,手机号码,现住址编码,详细地址"


def ids(n, region="350203"):
    return [make_resident_id(region, date(1980, 1, 1 + i), 100 + i) for i in range(n)]


def csv_bytes(world, rows, encoding="utf-8"):
    return "\n".join([HEADER, *rows]).encode(encoding)


def good_rows(world, n=3):
    return [
        f"身份证,{doc},测试{i},1381234{i:04d},{world.grid_a},{i}号" for i, doc in enumerate(ids(n))
    ]


def run(world, data, name="list.csv", keep=False, user="tracer_a"):
    return actions.import_people(world.users[user], importing.read_people_file(name, data), keep)


def test_good_file_imports_everyone(world):
    report = run(world, csv_bytes(world, good_rows(world)))
    assert (report.created, report.errors, report.committed) == (3, [], True)


def test_gbk_file_imports(world):
    report = run(world, csv_bytes(world, good_rows(world), encoding="gbk"))
    assert report.created == 3
    assert Person.objects.filter(name="测试0").exists()


def test_wrong_encoding_is_named(world):
    data = "证件号码,姓名,现住址编码\n".encode("utf-16")
    with pytest.raises(importing.FileProblem, match="UTF-8"):
        importing.read_people_file("x.csv", data)


def test_bad_rows_block_the_whole_file_by_default(world):
    rows = good_rows(world) + [
        f"身份证,110105194912310021,坏校验,13812345678,{world.grid_a},",
        f"身份证,{ids(1, '350206')[0]},错网格,13812345678,350299999999999,",
        f"身份证,１１０１０５１９４９１２３１００２Ｘ,全角,138 1234 5678,{world.grid_a},",
        f"身份证,{ids(1)[0]},重复,13812345678,{world.grid_a},",
        f"身份证,{ids(5)[4]},坏手机,2345,{world.grid_a},",
    ]
    report = run(world, csv_bytes(world, rows))
    assert not report.committed and report.created == 0
    assert Person.objects.filter(name__startswith="测试").count() == 0
    by_row = {(e.row, e.field) for e in report.errors}
    assert by_row == {(5, "doc_number"), (6, "jurisdiction"), (8, "doc_number"), (9, "phone")}
    assert "2" in next(e.message for e in report.errors if e.row == 8)  # names the first row


def test_keep_good_rows_imports_the_rest_and_says_so(world):
    rows = good_rows(world) + [f"身份证,110105194912310021,坏校验,13812345678,{world.grid_a},"]
    report = run(world, csv_bytes(world, rows), keep=True)
    assert (report.committed, report.created, report.bad_rows) == (True, 3, 1)


def test_reimport_updates_instead_of_duplicating(world):
    run(world, csv_bytes(world, good_rows(world)))
    changed = [r.replace("1381234", "1391234") for r in good_rows(world)]
    report = run(world, csv_bytes(world, changed))
    assert (report.created, report.updated) == (0, 3)
    assert Person.objects.filter(name__startswith="测试").count() == 3


def test_person_registered_elsewhere_is_reported_not_moved(world):
    row = f"身份证,{world.person_b.doc_number},李娜,13700137000,{world.grid_a},"
    report = run(world, csv_bytes(world, [row]))
    assert [(e.row, e.field) for e in report.errors] == [(2, "doc_number")]
    world.person_b.refresh_from_db()
    assert world.person_b.jurisdiction_id == world.grid_b


def test_truncated_csv_row_is_reported(world):
    data = csv_bytes(world, good_rows(world)) + f"\n身份证,{ids(9)[8]},截断".encode()
    report = run(world, data)
    assert [(e.row, e.field) for e in report.errors] == [(5, "")]
    assert "truncated" in report.errors[0].message or "不完整" in report.errors[0].message


def test_missing_columns_are_named(world):
    with pytest.raises(importing.FileProblem, match="现住址编码"):
        importing.read_people_file("x.csv", "证件号码,姓名\n1,2\n".encode())


def xlsx(rows):
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    sheet.merge_cells("F1:G1")  # merged header cells, as offices like to make
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_numbers_dates_and_merged_cells(world):
    doc = ids(1)[0]
    data = xlsx([HEADER.split(","), ["身份证", doc, "表格", 13812345678, int(world.grid_a), "x"]])
    report = run(world, data, name="list.xlsx")
    assert report.created == 1, report.errors
    assert Person.objects.get(doc_number=doc).phone == "13812345678"


def test_truncated_xlsx_is_named(world):
    data = xlsx([HEADER.split(",")])[:300]
    with pytest.raises(importing.FileProblem):
        importing.read_people_file("list.xlsx", data)


def test_import_page_reports_rows(login, world):
    client = login("grid_a")
    bad = csv_bytes(world, [f"身份证,110105194912310021,坏,13812345678,{world.grid_a},"])
    page = client.post("/people/import/", {"file": SimpleUploadedFile("l.csv", bad)})
    text = page.content.decode()
    assert page.status_code == 200 and "校验码" in text and "未导入任何数据" in text


def test_import_api_reports_rows(login, world):
    client = login("tracer_a")
    response = client.post(
        "/api/people/import",
        {
            "file": SimpleUploadedFile("l.csv", csv_bytes(world, good_rows(world))),
            "keep_good_rows": "false",
        },
    )
    body = response.json()
    assert response.status_code == 200 and body["created"] == 3 and body["committed"]
