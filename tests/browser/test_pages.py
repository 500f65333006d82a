"""Pages in a real Chromium against a real server: what officers and residents actually see."""

import re

import pytest

from tests.browser.conftest import follow, open_confirmed_case

pytestmark = pytest.mark.browser


def test_login_search_open_and_reveal_with_audit(page_as, server):
    page = page_as("tracer_a")
    assert "疫情防控一体化平台" in page.content()
    follow(page, "text=人员")
    rows = page.locator("[data-testid=people] tbody tr")
    assert rows.count() > 0
    first_name = rows.first.locator("td").first.inner_text()
    page.fill("input[name=q]", first_name)
    follow(page, "button:has-text('查询')")
    follow(page, page.locator("[data-testid=people] tbody tr a").first)
    masked = page.locator("[data-testid=doc]").inner_text()
    assert re.fullmatch(r"\d{4}\*{10}[\dX]{4}", masked)
    page.fill("input[name=reason]", "密接电话流调")
    page.click("button:has-text('显示完整信息')")
    full = page.locator("[data-testid=doc]").inner_text()
    assert re.fullmatch(r"\d{17}[\dX]", full) and full[:4] == masked[:4]
    page.screenshot(path=str(server["data"] / "person.png"), full_page=True)

    auditor = page_as("auditor")
    auditor.goto(server["url"] + "/audit/")
    table = auditor.locator("[data-testid=audit]").inner_text()
    assert "person.reveal" in table and "tracer_a" in table and "密接电话流调" in table
    auditor.click("text=校验完整审计链")
    assert "审计链完整" in auditor.locator("[data-testid=verify]").inner_text()


def test_other_county_gets_404(page_as, server):
    page = page_as("tracer_a")
    page.click("text=人员")
    href = page.locator("[data-testid=people] tbody tr a").first.get_attribute("href")
    other = page_as("tracer_b")
    response = other.goto(server["url"] + href)
    assert response.status == 404


def test_tree_browser_walks_down_to_grids(page_as):
    page = page_as("command")
    page.click("text=辖区")
    assert "厦门市" in page.locator("h1").inner_text()
    for _ in range(4):  # county, township, community, grid
        follow(page, page.locator("[data-testid=children] tbody tr a").first)
    assert "网格" in page.locator("h1").inner_text()
    assert page.locator("[data-testid=children]").count() == 0


def test_switch_to_english(page_as):
    page = page_as("tracer_a")
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert page.locator("nav").inner_text().count("People") == 1
    assert page.locator("html").get_attribute("lang") == "en"


def test_register_form_explains_a_mistyped_id(page_as, server):
    page = page_as("grid_a")
    page.goto(server["url"] + "/people/new/")
    page.fill("input[name=doc_number]", "110105194912310021")
    page.fill("input[name=name]", "测试")
    page.fill("input[name=jurisdiction]", "350203001001001")
    page.click("button:has-text('登记')")
    assert "校验码为 1，应为 X" in page.locator("[data-testid=error-doc_number]").inner_text()


def test_resident_sees_only_their_own_record(page_as, server):
    page = page_as("resident_a")
    assert page.url.endswith("/me/code/")  # a resident lands on their health code
    assert page.locator("[data-testid=qr] svg").count() == 1
    assert page.locator("[data-testid=code]").get_attribute("data-colour") == "green"
    page.click("text=我的档案")
    assert "/people/" in page.url
    own = page.url
    number = int(own.rstrip("/").split("/")[-1])
    assert page.goto(f"{server['url']}/people/{number + 1}/").status == 404


def test_resident_scans_a_venue_poster(page_as):
    operator = page_as("venue_a")
    follow(operator, "nav >> text=场所")
    follow(operator, operator.locator("[data-testid=venues] a:has-text('场所码')").first)
    assert operator.locator("[data-testid=qr] svg").count() == 1
    token = operator.locator("[data-testid=token]").inner_text()
    # As shown (and copied), every space of the base45 token kept: runs of spaces used to
    # collapse, and the scan was refused for a token that happened to hold two in a row.
    shown = operator.locator("[data-testid=token]")
    assert shown.evaluate("e => getComputedStyle(e).whiteSpace") == "pre-wrap"
    assert token == shown.text_content()
    resident = page_as("resident_a")
    resident.click("nav >> text=扫场所码")
    resident.fill("input[name=token]", token)
    with resident.expect_navigation():
        resident.click("main button[type=submit]")
    answer = resident.locator("[data-testid=result]")
    assert answer.count() == 1, resident.locator("main").inner_text()  # refused, or an error page
    assert answer.get_attribute("data-colour") == "green"


def test_a_confirmed_case_is_traced_and_its_contacts_appear(page_as, server):
    """The mission in one test: open a case, the worker traces it, contacts and graph appear."""
    page = page_as("tracer_a")
    open_confirmed_case(page, server)
    follow(page, page.locator("[data-testid=runs] a").first)
    for _ in range(60):  # the run page refreshes itself every 3 s while the worker traces
        if page.locator("[data-testid=state]").inner_text() in ("已完成", "失败"):
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert page.locator("[data-testid=state]").inner_text() == "已完成"
    assert int(page.locator("[data-testid=close]").inner_text()) > 0
    follow(page, page.locator("[data-testid=run] a").first)
    assert page.locator("[data-testid=contacts] tbody tr").count() > 0
    follow(page, "nav >> text=传播链")
    assert page.locator("[data-testid=graph] .node.case").count() >= 1
    assert page.locator("[data-testid=graph] .node.close").count() >= 1
