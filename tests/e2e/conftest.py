"""A real `liasse serve` process on a free loopback port, over the demo world.

`live_server` runs on every configured database (SQLite, and PostgreSQL in CI); real clients
(litmus, rclone, cadaver, davfs2, urllib) talk to it over HTTP.
"""

from __future__ import annotations

import base64
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.dav import Dav
from support.server import LiveServer, start_server
from support.world import BACKENDS, DEMO_PASSWORD, demo_world

from acl.db import Database
from config.settings import Settings


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
    with demo_world(templates, request.param, tmp_path_factory.mktemp("world")) as (
            path, settings, db):
        server = start_server(path, DEMO_PASSWORD)
        try:
            yield World(settings, db, server)
        finally:
            server.stop()


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
def client() -> Iterator[Callable]:
    """`client(server, user)`: a WebDAV connection as that user, closed at the end of the
    test."""
    opened: list[Dav] = []

    def open_as(server, user: str) -> Dav:
        dav = Dav(server.base_url, user, server.password)
        opened.append(dav)
        return dav

    yield open_as
    for dav in opened:
        dav.close()


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
