"""Health-code pages in a real Chromium: the camera scanner, the certificate check, manual colour
changes with two people, and a resident's appeal answered by staff.

The camera is Chromium's fake capture device playing a Y4M video that the test writes: one QR
code per frame, made with segno from a real token, so the page's getUserMedia + jsQR path is the
one a phone or a checkpoint webcam takes.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import segno

from tests.browser.conftest import follow, launched_chromium

pytestmark = pytest.mark.browser

CERT_VECTORS = Path(__file__).resolve().parents[1] / "engine" / "certs_data"
FRAME_WIDTH, FRAME_HEIGHT = 640, 480
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory) -> Path:
    """Where the fake camera reads its video; each test writes what it holds up to the camera."""
    path = tmp_path_factory.mktemp("camera") / "camera.y4m"
    write_qr_video(path, "FK1:NOTHING YET")
    return path


@pytest.fixture(scope="module")
def browser(camera_video):
    """This module's own Chromium, with a fake camera (replaces the shared fixture: one
    Playwright instance per worker thread at a time)."""
    fake_camera = (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_video}",
    )
    with launched_chromium(*fake_camera) as browser:
        yield browser


def write_qr_video(path: Path, text: str, frames: int = 5) -> None:
    """A Y4M video (4:2:0, full-range luma) showing `text` as a QR code, black on white."""
    symbol = segno.make(text, error="m")
    modules = symbol.symbol_size(scale=1, border=4)[0]
    scale = max(1, (FRAME_HEIGHT - 16) // modules)
    dark = np.array(list(symbol.matrix_iter(scale=scale, border=4)), dtype=bool)
    luma = np.full((FRAME_HEIGHT, FRAME_WIDTH), 255, dtype=np.uint8)
    top, left = (FRAME_HEIGHT - dark.shape[0]) // 2, (FRAME_WIDTH - dark.shape[1]) // 2
    luma[top : top + dark.shape[0], left : left + dark.shape[1]] = np.where(dark, 0, 255)
    chroma = np.full((FRAME_HEIGHT // 2, FRAME_WIDTH // 2), 128, dtype=np.uint8)
    frame = b"FRAME\n" + luma.tobytes() + chroma.tobytes() + chroma.tobytes()
    header = f"YUV4MPEG2 W{FRAME_WIDTH} H{FRAME_HEIGHT} F25:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


def _resident_token(page_as, server) -> str:
    resident = page_as("resident_a")
    response = resident.request.get(server["url"] + "/api/me/code")
    assert response.ok, response.text()
    return response.json()["token"]


def _open_first_scanner(page):
    page.click("nav >> text=场所")
    page.locator("[data-testid=venues] a[href$='/scan/']").first.click()


def test_the_scanner_reads_a_residents_code_from_the_camera(page_as, server, camera_video):
    write_qr_video(camera_video, _resident_token(page_as, server))
    page = page_as("venue_a")
    page.context.grant_permissions(["camera"])
    _open_first_scanner(page)
    submissions = []
    page.on("request", lambda r: submissions.append(r.url) if r.method == "POST" else None)
    page.click("[data-testid=camera-start]")
    result = page.locator("[data-testid=result]")
    result.wait_for(timeout=60_000)  # decoded, submitted like pasted text, answered
    assert result.get_attribute("data-colour") == "green"
    assert page.locator("[data-testid=refused]").count() == 0
    # After the answer the camera starts again for the next person; the same code still in
    # front of it is not submitted twice.
    page.locator("[data-testid=camera][data-state=scanning]").wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    # Counted directly: "刚刚已登记" (merged) in the answer would also come from another test
    # file's scan of the same resident at this venue on the shared server.
    assert len(submissions) == 1, submissions
    page.click("[data-testid=camera-stop]")


def test_a_certificate_is_checked_by_camera_and_by_paste(page_as, server, camera_video):
    trust = server["data"] / "cert-trust"
    trust.mkdir(exist_ok=True)
    for name in ("dgc_at_1_dsc.pem", "shc_issuer_jwks.json"):
        shutil.copy(CERT_VECTORS / name, trust)
    page = page_as("quarantine_a")
    page.goto(server["url"] + "/venues/")
    page.click("[data-testid=cert-check-link]")
    assert "3 个密钥" in page.locator("[data-testid=trust]").inner_text()

    write_qr_video(camera_video, (CERT_VECTORS / "dgc_at_1.txt").read_text().strip())
    page.click("[data-testid=camera-start]")
    result = page.locator("[data-testid=cert-result]")
    result.wait_for(timeout=60_000)
    assert result.get_attribute("data-error") == "expired"  # a 2021 test certificate
    assert page.locator("[data-testid=cert-signature]").inner_text() == "有效"
    assert "Musterfrau-Gößinger" in page.locator("[data-testid=cert-name]").inner_text()
    assert page.locator("[data-testid=cert-entries] tr[data-kind=vaccination]").count() == 1
    page.click("[data-testid=camera-stop]")

    page.fill("textarea[name=text]", (CERT_VECTORS / "shc_example_00.txt").read_text())
    page.click("[data-testid=cert-form] button[type=submit]")
    assert page.locator("[data-testid=cert-result]").get_attribute("data-verified") == "1"
    assert page.locator("[data-testid=cert-format]").inner_text() == "SMART 健康卡"
    assert page.locator("[data-testid=cert-dob]").inner_text() == "1951-01-20"
    assert page.locator("[data-testid=cert-entries] tr[data-kind=vaccination]").count() == 2

    auditor = page_as("auditor")
    auditor.goto(server["url"] + "/audit/")
    assert "certs.check" in auditor.locator("[data-testid=audit]").inner_text()


def _a_person_of_county_a(page, not_this_one: str) -> str:
    """Someone other than resident_a: other tests expect resident_a's code to stay green."""
    follow(page, "nav >> text=人员")
    links = page.locator("[data-testid=people] tbody tr a")
    hrefs = [links.nth(i).get_attribute("href") for i in range(min(links.count(), 5))]
    return next(h.rstrip("/").split("/")[-1] for h in hrefs if not h.endswith(f"/{not_this_one}/"))


def _resident_person_id(page_as) -> str:
    resident = page_as("resident_a")
    return (
        resident.locator("nav a[href^='/people/']").get_attribute("href").strip("/").split("/")[-1]
    )


def test_a_manual_colour_needs_a_second_person_and_shows_in_the_history(page_as, server):
    reason = f"核酸结果录入错误 {uuid.uuid4().hex[:6]}"
    resident_person = _resident_person_id(page_as)
    requester = page_as("tracer_a")
    person_id = _a_person_of_county_a(requester, resident_person)
    requester.goto(f"{server['url']}/people/{person_id}/code/")
    requester.click("a[href$='/override/']")
    requester.select_option("select[name=colour]", "yellow")
    requester.fill("input[name=reason]", reason)
    until = datetime.now(SHANGHAI) + timedelta(days=2)
    requester.fill("input[name=until]", until.strftime("%Y-%m-%d %H:%M"))
    requester.click("main button[type=submit]")
    row = requester.locator("[data-testid=overrides] tr", has_text=reason)
    assert "等待另一人审核" in row.inner_text()  # the requester cannot approve it
    assert row.locator("button").count() == 0

    approver = page_as("command")
    approver.goto(server["url"] + "/overrides/")
    with approver.expect_navigation():
        approver.locator("[data-testid=overrides] tr", has_text=reason).locator(
            "button[name=approve][value='1']"
        ).click()
    assert "command" in approver.locator("[data-testid=overrides] tr", has_text=reason).inner_text()

    history = f"{server['url']}/people/{person_id}/code/"
    for _ in range(90):  # the worker recolours within a second or two (more on a busy machine)
        requester.goto(history)
        if requester.locator("[data-testid=history] tr", has_text=reason).count():
            break
        requester.wait_for_timeout(1000)
    change = requester.locator("[data-testid=history] tr", has_text=reason)
    assert "黄码" in change.inner_text() and "override" in change.inner_text()


def test_a_residents_appeal_is_answered_by_staff(page_as, server):
    text = f"我没有去过该场所 {uuid.uuid4().hex[:6]}"
    resident = page_as("resident_a")
    resident.click("nav >> text=申诉")
    resident.fill("textarea[name=text]", text)
    resident.click("main button[type=submit]")
    mine = resident.locator("[data-testid=appeals] tr", has_text=text)
    assert "等待答复" in mine.inner_text()

    staff = page_as("command")
    staff.click("nav >> text=申诉")
    row = staff.locator("[data-testid=appeals] tr", has_text=text)
    answer = "已核实，系场所码误扫，已更正"
    row.locator("input[name=answer]").fill(answer)
    row.locator("button[type=submit]").click()
    assert answer in staff.locator("[data-testid=appeals] tr", has_text=text).inner_text()

    resident.reload()
    assert answer in resident.locator("[data-testid=appeals] tr", has_text=text).inner_text()
