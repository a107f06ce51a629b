"""Database base class, engine, sessions and schema migration.

SQLite is the embedded default (WAL, foreign keys, busy timeout); PostgreSQL runs the same
code. Services take a session as first argument and never commit: the edge does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String, TypeDecorator

from acl.errors import Refused, describe_os_error
from config.names import ACCENTED, PLAIN, fold

# Explicit constraint names so that Alembic migrations are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bind_writer(dialect, column_type) -> Callable[[Any], Any] | None:
    """How a parameter of this type is written for the dialect, as SQLAlchemy writes it (None:
    as it is); SQLite's UTC datetimes as the same text in one C call (SQLAlchemy's writer
    formats eight fields in Python). For statements run on the driver directly (`acl.documents.hot`,
    the download history)."""
    if isinstance(column_type, UTCDateTime) and dialect.name == "sqlite":
        return _sqlite_datetime
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def result_reader(dialect, column_type) -> Callable[[Any], Any] | None:
    """How a column's value is read from the driver, as SQLAlchemy reads it (None: as it
    is); SQLite's UTC datetimes (ISO text) parsed by `datetime.fromisoformat` in C — 10,000
    rows of a listing carry 30,000 of them, and SQLAlchemy's generic parser costs ten times
    more."""
    if isinstance(column_type, UTCDateTime) and dialect.name == "sqlite":
        return as_utc
    return column_type.dialect_impl(dialect).result_processor(dialect, None)


def _sqlite_datetime(value: datetime | None) -> str | None:
    """What UTCDateTime then SQLAlchemy's SQLite DATETIME write: naive UTC, microseconds."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str | None) -> datetime | None:
    """An aware UTC datetime from a column value; SQLite aggregates (min, max) bypass the
    column type and return the stored text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def make_engine(url: str, *, password: str = "", busy_timeout_ms: int = 10000,
                connections: int = 16, create: bool = True) -> Engine:
    """An engine for `url`; for SQLite, WAL + foreign keys + busy timeout on every connection.

    `connections` should cover the server's threads: a request holds one connection until
    its response is sent and may open a second for a write (a receipt, a commit).

    A SQLite file is created (by its first connection) only with `create` (`liasse init`,
    `liasse demo`); other commands get `Refused` for a missing file rather than an empty
    base. Its folder is never created here: a mistyped path is refused, not made.
    """
    pool = {"pool_size": connections, "max_overflow": connections, "pool_timeout": 60}
    parsed = make_url(url)
    if password and parsed.password is None and not parsed.drivername.startswith("sqlite"):
        parsed = parsed.set(password=password)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.drivername.startswith("sqlite"):
        return create_engine(parsed, pool_pre_ping=True, **pool)
    if parsed.database and parsed.database != ":memory:":
        _check_sqlite_file(Path(parsed.database), create=create)
    if parsed.database in (None, "", ":memory:"):
        pool = {}
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions skip SELECTs).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a crash of the process; only a power cut may lose
        # the last commits, never corrupt the base (sqlite.org/wal.html, "Durability").
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()
        dbapi_connection.create_function("liasse_fold", 1, fold, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # A writer takes the write lock at BEGIN so that it waits (busy timeout) instead of
        # failing at once when it upgrades a read lock held alongside another writer.
        immediate = connection.get_execution_options().get("sqlite_immediate")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    try:
        if path.exists():
            return
        folder_ok = path.parent.is_dir()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise Refused(f"Base de données inutilisable : {path} ({exc}).") from None
    if not create:
        raise Refused(f"Base de données introuvable : {path} (lancez d'abord « liasse init », "
                      "ou corrigez le réglage [database] url).")
    if not folder_ok:
        raise Refused(f"Le dossier {path.parent} de la base de données n'existe pas ou n'est "
                      "pas un dossier.")
    # Made empty and private before SQLite opens it (which makes its journals with the
    # base's permissions): it holds password hashes; the settings file is 600 too.
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:  # made meanwhile by another process: it is that one's
        pass
    except OSError as exc:
        raise Refused(f"Impossible de créer la base de données {path} : "
                      f"{describe_os_error(exc)}.") from None


# What a request met by `Database.unavailable` answers (503, with Retry-After in seconds).
UNAVAILABLE_MESSAGE = ("Base de données momentanément occupée ou injoignable : rien n'a été "
                       "enregistré, réessayez dans un instant.")
RETRY_AFTER_SECONDS = 2


class Database:
    """The engine and its two session factories: one for reads, one for writes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # The errors that say the database is busy past its timeout (SQLite's one writer) or
        # out of reach for a moment (PostgreSQL restarting, the network between a node and
        # it cut): the request's transaction was rolled back and nothing is half-written, so
        # every edge answers 503 with Retry-After, which clients retry, never 500.
        # SQLAlchemy wraps the driver's errors in OperationalError; statements run on the
        # driver directly (acl.documents.hot) raise the driver's own.
        self.unavailable: tuple[type[BaseException], ...] = (
            OperationalError, engine.dialect.loaded_dbapi.OperationalError)
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(
            bind=engine.execution_options(sqlite_immediate=True), expire_on_commit=False)

    def session(self) -> Session:
        return self._read()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write session committed on success and rolled back on any error."""
        session = self._write()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade_schema(engine: Engine) -> None:
    """Bring the schema to the newest migration (used by `liasse init` and `liasse serve`).

    A base stamped with a revision this version does not know is `Refused`."""
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        command.upgrade(alembic_config(engine), "head")
    except CommandError:
        raise Refused("La base de données a été mise à jour par une version plus récente de "
                      "Liasse, ou n'est pas une base Liasse : mettez Liasse à jour.") from None


class folded(FunctionElement):  # noqa: N801 (a SQL function)
    """A text column (or expression) as names are compared, `config.names.fold` in SQL:
    `folded(Company.name) == fold(typed)` ignores case and accents on SQLite (a function
    each connection registers) and PostgreSQL (lower + translate, no extension needed)."""

    type = String()
    inherit_cache = True


@compiles(folded, "sqlite")
def _folded_sqlite(element, compiler, **kw) -> str:
    return f"liasse_fold({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_postgresql(element, compiler, **kw) -> str:
    quoted = PLAIN.replace("'", "''")
    return f"translate(lower({compiler.process(element.clauses, **kw)}), '{ACCENTED}', '{quoted}')"


def schema_revision(connection) -> str | None:
    """The migration the database is at (None: no Liasse schema)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def known_revision(revision: str) -> str | None:
    """The revision if this version of Liasse has its migration, else None (a newer one)."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    script = ScriptDirectory(str(Path(__file__).parent / "migrations"))
    try:
        return revision if script.get_revision(revision) is not None else None
    except CommandError:
        return None


def migrate_to(engine: Engine, revision: str) -> None:
    """Bring the schema up (or an empty one down) to `revision`, a known one."""
    from alembic import command

    with engine.connect() as connection:
        current = schema_revision(connection)
    config = alembic_config(engine)
    if current is None or current == revision:
        command.upgrade(config, revision)
    else:
        from alembic.script import ScriptDirectory

        script = ScriptDirectory.from_config(config)
        ahead = revision in {r.revision for r in script.iterate_revisions(current, "base")}
        (command.downgrade if ahead else command.upgrade)(config, revision)
