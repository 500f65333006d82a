"""A real server (`fangkong serve` on its own SQLite database) and a real Chromium.

The server is set up exactly as `make demo` does (`fangkong demo --no-serve`), smaller.
"""

from __future__ import annotations

import os
import shutil
import socket
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
