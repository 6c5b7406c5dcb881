"""A real server process on loopback with the demo data, and a real Chromium driven by
Playwright. Without Chromium the journeys are skipped (locally) or fail (in CI: CI=true)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import casework_process, copy_demo, process_env

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
PASSWORD = "casework-demo"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "Chromium is not installed (Debian: apt install chromium); browser journeys need it"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


@dataclass
class Server:
    url: str
    db: Path


@pytest.fixture(scope="module")
def demo_server(demo_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A copy of the session's demo database, served as in production: a web server and a job
    worker (a balance check started from a page runs as a job), each its own process."""
    folder = tmp_path_factory.mktemp("demo")
    db, port = copy_demo(demo_database, folder), free_port()
    env = process_env(folder, CASEWORK_DATABASE_URL=f"sqlite:///{db}")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in [("serve", ["serve", "--port", str(port)]), ("worker", ["worker"])]:
            processes.append(
                casework_process(["casework", *args], env, folder, folder / f"{name}.log")
            )
        wait_for(f"http://127.0.0.1:{port}/login")
        yield Server(f"http://127.0.0.1:{port}", db)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


class Session:
    """One person's browser tab; collects console errors (CSP violations included)."""

    def __init__(self, browser: Any, server: Server, phone: bool = False) -> None:
        viewport = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 900}
        self.context = browser.new_context(viewport=viewport, locale="en-US")
        self.page = self.context.new_page()
        self.server = server
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str) -> Any:
        self.page.goto(self.server.url + path)
        return self.page

    def login(self, username: str) -> Session:
        page = self.open("/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        return self.speak("en")  # the demo users speak Macedonian; the test reads English

    def open_menu(self) -> None:
        """On a phone the header's links and language switch are folded into its menu."""
        menu = self.page.locator("details.site-menu:not([open]) > summary")
        if menu.is_visible():
            menu.click()

    def speak(self, locale: str) -> Session:
        self.open_menu()
        self.page.click(f"button[value={locale}]")
        self.page.wait_for_load_state()
        return self

    def finish(self, name: str) -> None:
        OUTPUT.mkdir(exist_ok=True)
        self.page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)
        self.context.close()
        assert self.errors == [], self.errors
