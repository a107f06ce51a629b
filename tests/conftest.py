"""Shared fixtures: every database test runs on SQLite and, when LIASSE_TEST_DATABASE_URL is
set (`.ci/run` sets it), again on PostgreSQL, each test in a schema of its own.

- `settings_file(**sections)` writes a liasse.toml in a fresh data folder and returns its path;
- `settings`, `db`, `hasher`, `blobs`: the platform pieces on that database;
- `demo`: the demo world (cabinet, both companies, the six demo accounts), password DEMO_PASSWORD;
- `ctx_of(login)`: an audit `Context` acting as that login.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from acl.audit import Context
from acl.blobs import BlobStore
from acl.db import Database, make_engine, upgrade_schema
from acl.passwords import PasswordHasher
from acl.principals import load_principal
from config.settings import Settings, load_settings

PG_URL = os.environ.get("LIASSE_TEST_DATABASE_URL", "")
DEMO_PASSWORD = "démo-mot-de-passe-sûr"

# Cheap argon2 parameters: tests hash many passwords; the policy code is the same.
FAST_SECURITY = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1,
                 "failure_delay_seconds": 0.0}

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _pg_admin_engine():
    return create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                         isolation_level="AUTOCOMMIT")


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'liasse.db'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_toml(sections: dict[str, dict]) -> str:
    lines = []
    for name, keys in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in keys.items()]
        lines.append("")
    return "\n".join(lines)


@pytest.fixture
def settings_file(tmp_path, database_url) -> Callable[..., Path]:
    def write(**sections: dict) -> Path:
        merged = {"database": {"url": database_url}, "security": dict(FAST_SECURITY),
                  "server": {"allow_plain_http": True}}
        for name, keys in sections.items():
            merged.setdefault(name, {}).update(keys)
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        path = data / "liasse.toml"
        path.write_text(render_toml(merged), encoding="utf-8")
        return path

    return write


@pytest.fixture
def settings(settings_file) -> Settings:
    return load_settings(settings_file())


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once per run: each test's database starts as a copy
    (running the migrations costs ~0.3 s a test; test_migrations.py still runs them)."""
    path = tmp_path_factory.mktemp("template") / "liasse.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_schema(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def db(settings, migrated_sqlite) -> Iterator[Database]:
    url = settings.database.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        shutil.copyfile(migrated_sqlite, url.removeprefix("sqlite:///"))
    engine = make_engine(url)
    upgrade_schema(engine)  # at head already on SQLite: a version check
    database = Database(engine)
    yield database
    database.dispose()


@pytest.fixture
def hasher(settings) -> PasswordHasher:
    return PasswordHasher(settings.security)


@pytest.fixture
def blobs(settings) -> BlobStore:
    return BlobStore(settings.data_dir / "blobs")


@pytest.fixture
def demo(db, settings, hasher, blobs) -> Database:
    from davserver.demo import create_demo

    with db.transaction() as session:
        create_demo(session, settings, hasher, blobs, DEMO_PASSWORD)
    return db


@pytest.fixture
def demo_password() -> str:
    return DEMO_PASSWORD


@pytest.fixture
def ctx_of(db) -> Callable[..., Context]:
    from acl.accounts import find_user

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
        backend = getattr(item, "callspec", None) and item.callspec.params.get("database_url")
        if item.get_closest_marker("postgresql_only") and backend == "sqlite":
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
