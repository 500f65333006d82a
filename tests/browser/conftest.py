"""A real server (`fangkong serve` on its own SQLite database) and a real Chromium.

The server is set up exactly as `make demo` does (`fangkong demo --no-serve`), smaller.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "fangkong-demo"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("server")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(FANGKONG_DATA=str(data), DJANGO_SETTINGS_MODULE="fangkong.settings")
    command = [sys.executable, "-m", "fangkong"]
    subprocess.run(
        [*command, "demo", "--no-serve", "--people", "400"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    port = _free_port()
    log = open(data / "server.log", "w")
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), "--with-worker"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(port, process)
        yield {"url": f"http://127.0.0.1:{port}", "data": Path(data), "env": env}
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def launched_chromium(*extra_args: str):
    """A Playwright Chromium (Debian's executable) as a context manager, or skip/fail when the
    machine has none. Module scope for callers: Playwright's sync API keeps an event loop running
    in this thread while it is open, and Django refuses database calls under a running loop
    (SynchronousOnlyOperation), so the browser must be gone before another test file runs in
    this worker."""
    from contextlib import contextmanager

    if not CHROMIUM:
        if os.environ.get("FANGKONG_REQUIRE_BROWSER"):
            pytest.fail("chromium is required (FANGKONG_REQUIRE_BROWSER) but not installed")
        pytest.skip("no chromium on this machine: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    @contextmanager
    def _open():
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    *extra_args,
                ],
            )
            try:
                yield browser
            finally:
                browser.close()

    return _open()


@pytest.fixture(scope="module")
def browser():
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def page_as(browser, server):
    """page_as("tracer_a") -> a logged-in page in a fresh browser context (zh-Hans)."""
    contexts = []

    def _open(username: str, locale: str = "zh-CN"):
        context = browser.new_context(locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.goto(server["url"] + "/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        return page

    yield _open
    for context in contexts:
        context.close()


def server_database(server) -> sqlite3.Connection:
    """The test server's SQLite database, to read (as a context manager: one transaction)."""
    return sqlite3.connect(next(server["data"].glob("*.sqlite3")))


def a_person_to_open_a_case_for(server, county: str = "350203") -> int:
    """Someone of `county` with check-ins and no case yet, and not resident_a (whose code other
    tests expect green). Chosen from the server's database, not by position in the people list:
    files share a server per test worker, in an order that varies, and an earlier file's import
    (Go.Data) puts people with cases at the top of that list."""
    with server_database(server) as db:
        row = db.execute(
            "SELECT p.id FROM people_person p WHERE p.jurisdiction_id LIKE ? || '%'"
            " AND EXISTS (SELECT 1 FROM venues_checkin c WHERE c.person_id = p.id)"
            " AND NOT EXISTS (SELECT 1 FROM cases_case k WHERE k.person_id = p.id)"
            " AND p.id NOT IN (SELECT person_id FROM accounts_user WHERE person_id IS NOT NULL)"
            " ORDER BY p.id LIMIT 1",
            (county,),
        ).fetchone()
    assert row, f"no one left in {county} to open a case for"
    return row[0]


def follow(page, target) -> None:
    """Click a link or button (selector or locator) that loads another page, and wait until it
    has loaded. A bare click returns once the navigation starts; count() does not wait, so a
    count read right after it can see the old page or a half-received new one (0 rows)."""
    with page.expect_navigation():
        if isinstance(target, str):
            page.click(target)  # the first match, as page.click does (a locator must be unique)
        else:
            target.click()


def open_confirmed_case(page, server) -> None:
    """As a tracer: open a confirmed case (onset 2022-03-02) for a fresh person of county A."""
    page.goto(f"{server['url']}/people/{a_person_to_open_a_case_for(server)}/")
    page.click("[data-testid=open-case]")
    page.select_option("select[name=classification]", "confirmed")
    page.fill("input[name=onset_date]", "2022-03-02")
    page.fill("input[name=reported_at]", "2022-03-03 09:00")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "/cases/" in page.url, page.locator("main").inner_text()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed page test carries the end of the server's log: a 500 or a lock wait behind a
    missing element is otherwise invisible in CI, where the server's files are gone."""
    outcome = yield
    report = outcome.get_result()
    server = item.funcargs.get("server") if hasattr(item, "funcargs") else None
    if report.failed and server:
        log = server["data"] / "server.log"
        if log.exists():
            tail = log.read_text(errors="replace").splitlines()[-60:]
            report.sections.append(("server log (last 60 lines)", "\n".join(tail)))
