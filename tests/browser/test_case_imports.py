"""Lists arriving as files, in a real browser: a push from a higher level split into requests,
and Go.Data exports with their mapping report."""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import server_database

DATA = Path(__file__).parents[1] / "platform" / "godata_data"
HEADER = "协查编号,序号,姓名,证件类型,证件号码,手机号码,现住址编码,详细地址,暴露情况,核查状态,备注"


def _a_resident(server) -> tuple[str, str, str]:
    with server_database(server) as db:
        return db.execute(
            "SELECT name, doc_number, jurisdiction_id FROM people_person WHERE jurisdiction_id "
            "LIKE '350203%' AND doc_type = 'resident_id' ORDER BY id DESC LIMIT 1"
        ).fetchone()


def test_a_push_from_above_is_received_and_split(page_as, server):
    name, doc, place = _a_resident(server)
    csv = f"{HEADER}\nSJ-1,1,{name},居民身份证,{doc},,{place},,密切接触者 · 2022-03-02 04:00,,\n"
    csv += f"SJ-1,2,王五,居民身份证,350203198504120000,,{place},,,,\n"
    page = page_as("tracer_a")
    page.click("nav >> text=协查")
    page.fill("input[name=source]", "省疫情防控指挥部")
    page.set_input_files(
        "input[name=file]",
        {"name": "push.csv", "mimeType": "text/csv", "buffer": csv.encode("gbk")},
    )
    with page.expect_navigation():
        page.click("[data-testid=push-upload]")
    report = page.locator("[data-testid=push-report]").inner_text()
    assert "拆分为 1 个协查" in report and "1 行未接收" in report
    assert page.locator("[data-testid=push-problems] tbody tr").count() == 1
    page.locator("[data-testid=push-report] a").first.click()
    items = page.locator("[data-testid=items]").inner_text()
    assert doc[-4:] in items and "待落位" in items  # the person, masked on the page, to locate


def test_go_data_exports_come_with_a_mapping_report(page_as):
    page = page_as("tracer_a")
    page.click("nav >> text=病例")
    page.click("[data-testid=godata-link]")
    for field in ("cases", "contacts", "relationships"):
        page.set_input_files(f"input[name={field}]", str(DATA / f"{field}.csv"))
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.locator("[data-testid=report]").count() == 1
    assert page.locator("[data-testid=columns] tbody tr").count() > 5
    assert "Classification" in page.locator("[data-testid=translations]").inner_text()
