"""A real `liasse serve` process on a free loopback port, over the demo world.

`live_server` runs on every configured database (SQLite, and PostgreSQL in CI); real clients
(litmus, rclone, cadaver, davfs2, urllib) talk to it over HTTP.
"""

from __future__ import annotations

import base64
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from support.world import BACKENDS, DEMO_PASSWORD, empty_database, write_settings

from acl.db import Database
from config.settings import Settings, load_settings

STARTUP_SECONDS = 60


def liasse_command() -> list[str]:
    exe = Path(sys.executable).parent / "liasse"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "liasse.cli"]


@dataclass
class LiveServer:
    process: subprocess.Popen
    base_url: str
    output: list[str] = field(default_factory=list)
    password: str = ""

    @property
    def dav_url(self) -> str:
        return f"{self.base_url}/dav/"

    def dav(self, *segments: str) -> str:
        """The URL of a path on the drive, each segment percent-encoded."""
        return self.dav_url + "/".join(quote(s) for s in segments)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode


def start_server(settings_path: Path, password: str = "",
                 extra: list[str] | None = None) -> LiveServer:
    """Start `liasse serve --port 0` and wait (bounded) for the line giving its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    process = subprocess.Popen(
        [*liasse_command(), "--config", str(settings_path), "serve", "--port", "0",
         *(extra or [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        if "Application web" in line:
            url = line.split(":", 1)[1].strip().rstrip("/")
            return LiveServer(process, url, output, password)
    process.kill()
    process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()
    raise RuntimeError("liasse serve did not start:\n" + "".join(output))


@pytest.fixture
def serve(settings_file, demo, demo_password) -> Iterator[Callable[..., LiveServer]]:
    """Start servers on the demo world; `serve(**sections)` adds settings sections."""
    started: list[LiveServer] = []

    def start(**sections) -> LiveServer:
        path = settings_file(**sections) if sections else settings_file()
        server = start_server(path, demo_password)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def live_server(serve) -> LiveServer:
    return serve()


@dataclass
class World:
    settings: Settings
    db: Database
    server: LiveServer

    def settle(self) -> None:
        """Return once the server has written every download receipt handed over (it does
        before answering a PROPFIND), so that the next test finds them already stored."""
        request = urllib.request.Request(self.server.dav_url, method="PROPFIND", headers={
            "Depth": "0", "Authorization": "Basic " + base64.b64encode(
                f"expert:{self.server.password}".encode()).decode()})
        with urllib.request.urlopen(request, timeout=60) as reply:
            assert reply.status == 207


@pytest.fixture(scope="module", params=BACKENDS)
def shared_world(request, tmp_path_factory, templates) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("world")
    with empty_database(request.param, folder) as url:
        path = write_settings(folder / "data", url)
        settings = load_settings(path)
        template = templates.demo(request.param)
        db = templates.open(url, template)
        template.copy_documents(settings.data_dir / "blobs")
        try:
            server = start_server(path, DEMO_PASSWORD)
            try:
                yield World(settings, db, server)
            finally:
                server.stop()
        finally:
            db.dispose()


@pytest.fixture
def world(shared_world) -> Iterator[World]:
    """The demo world and a server on it, shared by those tests of a module that do not need
    a fresh one (a server costs ~1.5 s to start and ~0.5 s to stop): tests of refusals, each
    comparing what is stored before and after, and litmus's suites, run one after the other
    against one server as `litmus` itself runs them. A test that writes, changes the settings
    or the rights, or fails to sign in (failures count per address) has a world of its own:
    `live_server` or `serve`."""
    yield shared_world
    shared_world.settle()


@pytest.fixture
def require_binary() -> Callable[[str, str], str]:
    """`require_binary(name, debian_package)`: the path, or a skip naming the package."""

    def find(name: str, package: str) -> str:
        path = shutil.which(name)
        if path is None:
            pytest.skip(f"Debian package {package} is not installed ({name} not found)")
        return path

    return find


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


@pytest.fixture(scope="module")
def chromium():
    """A headless Debian Chromium driven by Playwright (never a downloaded browser), one per
    module: starting Playwright and the browser costs ~1.5 s, a page in a fresh context (its
    own cookies, storage and downloads) ~0.5 s."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Python package playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian package chromium is not installed (/usr/bin/chromium not found)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium):
    """A page in a browser context of its own, as a new browser profile would be."""
    context = chromium.new_context(accept_downloads=True, locale="fr-FR",
                                   viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


def sign_in(page, server: LiveServer, login: str) -> None:
    """Fill the sign-in form as a person would."""
    page.goto(server.base_url + "/connexion")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(server.password)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/tableau-de-bord")


@pytest.fixture
def browser_sign_in():
    return sign_in
