"""Investigation pages in a real browser on the demo city: a tracer opens a case, fills its
investigation (itinerary at a venue, a named contact with a mistyped ID number), sees the
deadlines and who is late; headquarters see the late count of the county."""

from __future__ import annotations

from tests.browser.conftest import follow, open_confirmed_case


def _open_case(page, server) -> str:
    open_confirmed_case(page, server)
    return page.locator("h1").inner_text().split()[1]


def test_a_tracer_fills_an_investigation_and_sees_what_is_late(page_as, server):
    page = page_as("tracer_a")
    number = _open_case(page, server)
    page.click("[data-testid=investigation]")
    assert page.locator("[data-testid=investigator]").inner_text() == "tracer_a"
    assert page.locator("[data-testid=late-report]").inner_text() == "逾期"  # reported in 2022

    page.select_option("[data-testid=venue]", index=1)
    page.fill("[data-testid=t_in]", "2022-03-01 12:00")
    page.fill("[data-testid=t_out]", "2022-03-01 13:00")
    with page.expect_navigation():
        page.click("[data-testid=save-entry]")
    assert "2022-03-01 12:00" in page.locator("[data-testid=itinerary]").inner_text()

    page.fill("[data-testid=t_in]", "2022-03-01 12:00")
    page.fill("[data-testid=t_out]", "2022-03-01 11:00")
    with page.expect_navigation():
        page.click("[data-testid=save-entry]")
    assert "离开时间早于到达时间" in page.locator("main").inner_text()

    page.fill("input[name=name_0]", "同事甲")
    page.fill("input[name=doc_number_0]", "35020319900101123")
    page.fill("input[name=name_1]", "同事乙")
    page.fill("input[name=phone_1]", "13800000001")
    with page.expect_navigation():
        page.click("[data-testid=save-named]")
    assert "第 1 行（同事甲）" in page.locator("main .msg").first.inner_text()
    assert page.locator("[data-testid=named] tbody tr").count() == 2

    with page.expect_navigation():
        page.click("[data-testid=submit-itinerary]")  # a confirmed case: a run starts
    assert "追踪任务" in page.locator("main").inner_text()
    assert page.locator("[data-testid=submit-itinerary]").count() == 0

    page.click("nav >> text=流调报告")
    row = page.locator("[data-testid=investigations] tr", has_text=number)
    assert "tracer_a" in row.inner_text() and "逾期" in row.inner_text()


def test_headquarters_see_late_investigations_per_county(page_as, server):
    tracer = page_as("tracer_a")
    _open_case(tracer, server)
    page = page_as("command")
    follow(page, "nav >> text=流调报告")
    assert "思明区" in page.locator("[data-testid=rollup]").inner_text()
    follow(page, "[data-testid=late-only]")
    assert page.locator("[data-testid=investigations] tbody tr [data-testid=late]").count() >= 1


def test_the_investigation_list_in_english(page_as):
    page = page_as("tracer_a")
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    page.click("nav >> text=Investigations")
    assert page.locator("h1").inner_text() == "Investigations"
