"""Quarantine pages in a real browser, on the demo city (`fangkong demo` seeds two hotels, a
reserve site, one person in a room and one on the way)."""

from __future__ import annotations


def _open_site(page, name: str = "思明区集中隔离酒店"):
    page.click("nav >> text=隔离场所")
    page.click(f"[data-testid=sites] >> text={name}")
    assert page.locator("h1").inner_text().startswith(name)


def test_site_staff_check_in_record_a_fever_and_the_doctor_sees_the_alert(page_as):
    page = page_as("quarantine_a")
    _open_site(page)
    arriving = page.locator("[data-testid=arriving] button").first
    with page.expect_navigation():
        arriving.click()
    assert "已入住" in page.locator("main .msg").first.inner_text()
    assert page.locator("[data-testid=staying] tbody tr").count() >= 2
    page.locator("[data-testid=staying] tbody tr a").first.click()
    page.fill("[data-testid=temperature]", "38.5")
    page.check("[data-testid=symptom-cough]")
    with page.expect_navigation():
        page.click("[data-testid=save-reading]")
    assert "38.5" in page.locator("[data-testid=readings]").inner_text()
    with page.expect_navigation():
        page.click("[data-testid=release]")
    assert "period ends" in page.locator("main").inner_text()  # refused: too early
    page.click("main >> text=思明区集中隔离酒店")
    alerts = page.locator("[data-testid=alerts]")
    assert "38.5" in alerts.inner_text() and "cough" in alerts.inner_text()
    alerts.locator("input[name=note]").first.fill("已复测，送发热门诊")
    with page.expect_navigation():
        alerts.locator("button").first.click()
    assert (
        page.locator("[data-testid=alerts]").count() == 0
        or "38.5" not in page.locator("[data-testid=alerts]").inner_text()
    )


def test_a_thermometer_misread_is_refused_with_the_reason(page_as):
    page = page_as("quarantine_a")
    _open_site(page)
    page.locator("[data-testid=staying] tbody tr a").first.click()
    page.fill("[data-testid=temperature]", "365")
    with page.expect_navigation():
        page.click("[data-testid=save-reading]")
    assert "outside what a thermometer reads" in page.locator("main").inner_text()


def test_headquarters_activate_a_reserve_site(page_as):
    page = page_as("command")
    page.click("nav >> text=隔离场所")
    reserve_before = int(page.locator("[data-testid=reserve]").inner_text())
    assert reserve_before > 0
    with page.expect_navigation():
        page.locator("[data-testid=sites] button[data-testid^=activate]").first.click()
    assert int(page.locator("[data-testid=reserve]").inner_text()) < reserve_before
    assert page.locator("[data-testid=sites] button[data-testid^=activate]").count() == 0


def test_the_site_page_in_english(page_as):
    page = page_as("quarantine_a")
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    page.click("nav >> text=Quarantine sites")
    page.click("[data-testid=sites] >> text=思明区集中隔离酒店")
    headings = page.locator("main h2").all_inner_texts()
    assert "Arriving" in headings and any(h.startswith("In rooms") for h in headings)
