"""Transport boxes and the lab page in a real browser, on the demo city (`fangkong demo` seeds a
box received and resulted late, a box on its way to 厦门市第一医院 and a sealed tube DEMO-T06
waiting to be packed; labs/demo.py)."""

from __future__ import annotations

LAB = "厦门市第一医院"


def _submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_sampling_staff_pack_seal_and_hand_over_a_box(page_as):
    page = page_as("grid_a")
    page.click("nav >> text=转运箱")
    page.fill("[data-testid=open-code]", "BR-1")
    page.fill("[data-testid=open-site]", "中山公园采样点")
    page.fill("[data-testid=open-lab]", LAB)
    _submit(page, "[data-testid=open]")
    assert "BR-1" in page.locator("main .msg.success").inner_text()
    page.fill("[data-testid=step-code]", "BR-1")
    _submit(page, "[data-testid=seal]")  # an empty box is refused, with the reason
    assert "BR-1" in page.locator("main .msg.error").inner_text()
    page.fill("[data-testid=step-code]", "BR-1")
    page.fill("[data-testid=step-barcode]", "DEMO-T06")
    _submit(page, "[data-testid=pack]")
    assert "DEMO-T06" not in page.locator("[data-testid=loose-tubes]").inner_text()
    page.fill("[data-testid=step-code]", "BR-1")
    _submit(page, "[data-testid=seal]")
    page.fill("[data-testid=step-code]", "BR-1")
    page.fill("[data-testid=step-courier]", "李师傅")
    _submit(page, "[data-testid=hand-over]")
    row = page.locator("[data-testid=boxes] tr[data-box=BR-1]")
    assert "运输中" in row.inner_text() and "李师傅" in row.inner_text()
    row.locator("a").click()
    events = page.locator("[data-testid=events]").inner_text()
    assert "DEMO-T06" in events and "李师傅" in events


def test_the_lab_receives_a_box_and_sees_late_tubes(page_as):
    page = page_as("lab_a")
    page.click("nav >> text=检测结果")
    assert "DEMO-BOX-2" in page.locator("[data-testid=arriving]").inner_text()
    page.fill("[data-testid=receive-code]", "DEMO-BOX-2")
    page.fill("[data-testid=receive-lab]", "另一家检测机构")
    _submit(page, "[data-testid=receive-box]")
    assert LAB in page.locator("main .msg.error").inner_text()  # addressed to another lab
    page.fill("[data-testid=receive-code]", "DEMO-BOX-2")
    page.fill("[data-testid=receive-lab]", LAB)
    _submit(page, "[data-testid=receive-box]")
    assert "DEMO-BOX-2" in page.locator("main .msg.success").inner_text()
    assert "DEMO-BOX-2" not in page.locator("[data-testid=arriving]").inner_text()
    late = page.locator("[data-testid=late]").inner_text()
    assert "DEMO-T01" in late and "DEMO-T03" in late  # resulted late; still waiting
    assert "中山公园采样点" in page.locator("[data-testid=by-site]").inner_text()
    assert LAB in page.locator("[data-testid=by-lab]").inner_text()
