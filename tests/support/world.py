"""Test installations: settings files, empty databases (a SQLite file or a PostgreSQL schema)
and the templates their databases start from."""

from __future__ import annotations

import functools
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text

from acl.db import Database, alembic_config, make_engine, upgrade_schema
from acl.documents.blobs import open_store
from acl.rights.passwords import PasswordHasher
from config.settings import Settings, load_settings

PG_URL = os.environ.get("LIASSE_TEST_DATABASE_URL", "")
DEMO_PASSWORD = "démo-mot-de-passe-sûr"

# Cheap argon2 parameters: tests hash many passwords; the policy code is the same.
FAST_SECURITY = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1,
                 "failure_delay_seconds": 0.0}

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@functools.cache
def _pg_admin_engine() -> Engine:
    """One for the run: a connection of its own for each schema made costs ~10 ms."""
    return create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                         isolation_level="AUTOCOMMIT")


@contextmanager
def _pg_schema() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema, dropped on exit."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def empty_database(backend: str, folder: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file in `folder`, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'liasse.db'}"
        return
    with _pg_schema() as url:
        yield url


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


def write_settings(data: Path, database_url: str, **sections: dict) -> Path:
    """`data`/liasse.toml: the test settings on that database, plus `sections`."""
    merged = {"database": {"url": database_url}, "security": dict(FAST_SECURITY),
              # one process unless a test asks for more (tests/e2e/test_workers.py)
              "server": {"allow_plain_http": True, "workers": 1}}
    for name, keys in sections.items():
        merged.setdefault(name, {}).update(keys)
    data.mkdir(parents=True, exist_ok=True)
    path = data / "liasse.toml"
    path.write_text(render_toml(merged), encoding="utf-8")
    return path


# --- templates: what every test's database starts from ----------------------------------------

# (statement, parameters, executemany) as SQLAlchemy handed them to the DBAPI cursor
Statement = tuple[str, Any, bool]


@dataclass(frozen=True)
class Template:
    """A database state built once: a SQLite file to copy, or on PostgreSQL every statement
    that built it, to replay (names are unqualified: the replay builds the same tables,
    sequences, functions, triggers and rows in the schema of the connection's search_path);
    and the folder of the documents its rows refer to, if any."""

    sqlite_file: Path | None = None
    statements: tuple[Statement, ...] = ()
    blobs: Path | None = None

    def apply(self, engine: Engine) -> None:
        """Give an empty database this state (a database that is not empty is left as is)."""
        if engine.dialect.name == "sqlite":
            path = Path(engine.url.database)
            if not path.exists() or path.stat().st_size == 0:  # (make_engine makes it empty)
                shutil.copyfile(self.sqlite_file, path)
            return
        with engine.begin() as connection:
            if connection.exec_driver_sql("SELECT to_regclass('alembic_version')").scalar():
                return
            psycopg_connection = connection.connection.driver_connection
            # Pipeline mode: sent without waiting for each answer (~0.1 s instead of ~0.2 s);
            # an error is raised at the end of the block, and rolls the transaction back.
            # Without server-side prepared statements: psycopg prepares a statement run five
            # times and evicts old ones from its cache of 100, and inside one pipeline an
            # eviction once met a statement still to execute ("prepared statement _pg3_14
            # does not exist", seen once in CI). Restored after: the test's own statements
            # run as the server's do.
            threshold, psycopg_connection.prepare_threshold = \
                psycopg_connection.prepare_threshold, None
            try:
                with psycopg_connection.pipeline(), psycopg_connection.cursor() as cursor:
                    for statement, parameters, executemany in self.statements:
                        (cursor.executemany if executemany else cursor.execute)(statement,
                                                                                parameters)
            finally:
                psycopg_connection.prepare_threshold = threshold

    def copy_documents(self, blobs: Path) -> None:
        """Put the documents the template's rows refer to in the blob folder `blobs`."""
        assert self.blobs is not None, "a template without documents"
        shutil.copytree(self.blobs, blobs, dirs_exist_ok=True)


@contextmanager
def _recording(engine: Engine) -> Iterator[list[Statement]]:
    statements: list[Statement] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        # SQLAlchemy's "insertmanyvalues" batches rows into one statement with one mapping
        # of parameters, yet says `executemany`: it is one execute.
        statements.append((statement, parameters,
                           executemany and not isinstance(parameters, dict)))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


class Templates:
    """Built on first use, once per run (per backend): running the migrations costs ~0.3 s a
    test on SQLite and ~0.5 s on PostgreSQL, the demo ~0.1 s and ~0.3 s (test_migrations.py
    still runs every migration, test_demo_server.py `liasse demo`).

    The demo world is built again when its quarter of an hour is over: its rows' dates are
    then those of the test's day in any time zone, at most 15 minutes old."""

    def __init__(self, folders: pytest.TempPathFactory) -> None:
        self.folders = folders
        self.built: dict[tuple, Template] = {}
        self.head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()

    def _get(self, key: tuple, build: Callable[[], Template]) -> Template:
        if key not in self.built:
            self.built[key] = build()
        return self.built[key]

    def migrated(self, backend: str) -> Template:
        return self._get(("migrated", backend), lambda: self._build(backend, demo=False))

    def demo(self, backend: str) -> Template:
        quarter = int(time.time() // 900)
        return self._get(("demo", backend, quarter), lambda: self._build(backend, demo=True))

    def _build(self, backend: str, *, demo: bool) -> Template:
        folder = self.folders.mktemp("template")
        base = self.migrated(backend) if demo else Template()
        with empty_database(backend, folder) as url:
            engine = make_engine(url)
            if demo:
                base.apply(engine)
            with _recording(engine) as statements:
                if demo:
                    _create_demo(engine, write_settings(folder / "data", url))
                else:
                    upgrade_schema(engine)
            if backend == "sqlite":
                with engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
        blobs = folder / "data" / "blobs" if demo else None
        if backend == "sqlite":
            return Template(sqlite_file=folder / "liasse.db", blobs=blobs)
        schema = url.rsplit("%3D", 1)[1]
        assert not [s for s, _, _ in statements if schema in s], "a statement names its schema"
        return Template(statements=base.statements + tuple(statements), blobs=blobs)

    def open(self, url: str, template: Template) -> Database:
        """The database at `url`, given the template's state if it is empty, at head."""
        engine = make_engine(url)
        template.apply(engine)
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == self.head
        return Database(engine)


def _create_demo(engine: Engine, settings_path: Path) -> None:
    from liasse.demo import create_demo

    settings = load_settings(settings_path)
    with Database(engine).transaction() as session:
        create_demo(session, settings, PasswordHasher(settings.security),
                    open_store(settings), DEMO_PASSWORD)


@contextmanager
def demo_world(templates: Templates, backend: str, folder: Path
               ) -> Iterator[tuple[Path, Settings, Database]]:
    """The demo world in `folder` on `backend`, with its documents: (settings file, settings,
    database), disposed of on exit."""
    with empty_database(backend, folder) as url:
        path = write_settings(folder / "data", url)
        settings = load_settings(path)
        template = templates.demo(backend)
        db = templates.open(url, template)
        template.copy_documents(settings.data_dir / "blobs")
        try:
            yield path, settings, db
        finally:
            db.dispose()
