"""A testing campaign in a real browser: headquarters set it up, a lab uploads member results,
completion moves and the grid's missing list shrinks."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.browser.conftest import follow


def _local(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M")


def test_a_campaign_from_creation_to_completion(page_as, server):
    page = page_as("command")
    page.click("nav >> text=核酸检测任务")
    now = datetime.now()
    form = page.locator("[data-testid=new-campaign]")
    form.locator("input[name=name]").fill("思明区浏览器测试全员核酸")
    form.locator("input[name=jurisdiction]").fill("350203")
    form.locator("input[name=starts_at]").fill(_local(now - timedelta(hours=1)))
    form.locator("input[name=ends_at]").fill(_local(now + timedelta(hours=10)))
    with page.expect_navigation():
        page.click("[data-testid=create-campaign]")
    follow(page, "[data-testid=campaigns] >> text=思明区浏览器测试全员核酸")
    expected = int(page.locator("[data-testid=totals] dd").first.inner_text())
    assert expected > 0
    assert page.locator("[data-testid=units] tbody tr").count() >= 1
    page.fill("input[name=name]", "湖滨南路采样点")
    with page.expect_navigation():
        page.click("[data-testid=add-site]")
    assert "湖滨南路采样点" in page.locator("[data-testid=sites]").inner_text()
    campaign_url = page.url

    lab = page_as("lab_a")
    lab.goto(campaign_url)
    doc = _a_resident_id(server)
    csv = f"采样管条码,证件号码,采样时间,检测结果\nWEB-1,{doc},{now:%Y-%m-%d %H:%M},阴性\nWEB-1,123,{now:%Y-%m-%d %H:%M},阴性\n"
    lab.set_input_files(
        "input[name=file]", {"name": "m.csv", "mimeType": "text/csv", "buffer": csv.encode("gbk")}
    )
    with lab.expect_navigation():
        lab.click("[data-testid=upload-members]")
    messages = lab.locator("main").inner_text()
    assert "新增 1 管" in messages and "第 3 行" in messages  # the bad row, by number
    page.reload()
    assert page.locator("[data-testid=sampled]").inner_text().startswith("1")


def _a_resident_id(server) -> str:
    import sqlite3

    database = next(server["data"].glob("*.sqlite3"))
    with sqlite3.connect(database) as db:
        (doc,) = db.execute(
            "SELECT doc_number FROM people_person WHERE jurisdiction_id LIKE '350203%' "
            "AND doc_type = 'resident_id' ORDER BY id LIMIT 1"
        ).fetchone()
    return doc
