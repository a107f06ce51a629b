"""The drive's hottest reads in plain DBAPI calls: the account check every request makes, and
the resolution of a path.

Going through the ORM session costs more than the query itself: building the statement, its
cache key, the unit of work, ORM objects (measured in bench/: ~0.6 ms of a 1.2 ms request).
These statements are written once with SQLAlchemy, compiled once for the engine's dialect,
and run on a pooled DBAPI connection; their results are converted by the column types' own
result processors, so they read exactly what the ORM would.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import Engine, bindparam, event, select

from acl.db import bind_writer, result_reader
from acl.documents.locks import LOCKS
from acl.documents.models import Node, NodeProperty
from acl.documents.store import LISTING_COLUMNS, NodeRow, Run, is_sound_property, path_steps
from acl.people.models import Company, User
from acl.rights.audit import RIGHTS
from acl.rights.models import Generation


class AccountRow(NamedTuple):
    login: str
    side: str
    active: bool
    credentials_version: int
    must_change_password: bool
    rights_generation: int
    lock_generation: int


class _Prepared:
    """One statement compiled for a dialect, run on a DBAPI connection: its parameters
    written and its rows (selected or returned) read as the column types do."""

    def __init__(self, engine: Engine, statement) -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.names = compiled.positiontup if compiled.positional else None
        self.defaults = compiled.params  # the statement's own literals
        writers = {name: bind_writer(dialect, bind.type)
                   for bind, name in compiled.bind_names.items()}  # a name used twice: once
        self.writers = [(name, writer) for name, writer in writers.items() if writer]
        self.processors = [result_reader(dialect, column.type)
                           for column in statement.exported_columns]

    def all(self, connection, params: dict[str, Any]) -> list:
        """The rows, or [] for a statement that returns none."""
        rows = self._fetch(connection, params, lambda cursor: cursor.fetchall()
                           if cursor.description is not None else [])
        processors = [(i, p) for i, p in enumerate(self.processors) if p is not None]
        if not processors:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for i, process in processors:
                row[i] = process(row[i])
            converted.append(row)
        return converted

    def first(self, connection, params: dict[str, Any]) -> tuple | None:
        row = self._fetch(connection, params, lambda cursor: cursor.fetchone())
        if row is None:
            return None
        return tuple(value if process is None else process(value)
                     for value, process in zip(row, self.processors, strict=True))

    def _fetch(self, connection, params: dict[str, Any], fetch):
        params = {**self.defaults, **params}
        for name, write in self.writers:
            params[name] = write(params[name])
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, [params[n] for n in self.names] if self.positional
                           else params)
            return fetch(cursor)
        finally:
            cursor.close()


NODE_COLUMNS = ("id", "name", "kind", "size", "sha256", "created_at", "modified_at",
                "is_client_file")
ABOVE_COLUMNS = NODE_COLUMNS[:3]


class HotQueries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._opened: list[Any] = []  # every thread's, closed with the engine
        self._opened_lock = threading.Lock()
        self._epoch = 0
        self._begin = "BEGIN IMMEDIATE" if engine.dialect.name == "sqlite" else "BEGIN"
        self._statements: dict[Any, _Prepared] = {}  # keyed by the statement object
        self.IntegrityError = engine.dialect.loaded_dbapi.IntegrityError
        event.listen(engine, "engine_disposed", lambda _engine: self.close())
        def generation(name: str):
            return select(Generation.value).where(Generation.name == name).scalar_subquery()

        self._account = _Prepared(engine, select(
            User.login, User.side, User.active, User.credentials_version,
            User.must_change_password, generation(RIGHTS).label("generation"),
            generation(LOCKS).label("lock_generation"))
            .where(User.id == bindparam("user_id")))
        self._tree_version = _Prepared(engine, select(Company.tree_version).where(
            Company.id == bindparam("company_id")))

        self._used_bytes = _Prepared(engine, select(Company.used_bytes).where(
            Company.id == bindparam("company_id")))
        self._children = _Prepared(engine, select(*LISTING_COLUMNS).where(
            Node.parent_id == bindparam("parent_id"), Node.deleted_at.is_(None))
            .order_by(Node.name))
        members = select(Node.id).where(Node.parent_id == bindparam("parent_id"),
                                        Node.deleted_at.is_(None))
        self._children_properties = _Prepared(engine, select(
            NodeProperty.node_id, NodeProperty.name, NodeProperty.value).where(
            NodeProperty.node_id.in_(members)))
        self._properties = _Prepared(engine, select(NodeProperty.name, NodeProperty.value)
                                     .where(NodeProperty.node_id == bindparam("node_id")))
        self._logins = _Prepared(engine, select(User.id, User.login))

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """This thread's own DBAPI connection for these reads, in autocommit (each query
        sees what is committed, no transaction is left open). It is kept out of the pool:
        checking one out of SQLAlchemy's pool and back for every request cost more than
        the request's two queries (measured in bench/, 8 clients). A connection that
        fails is closed, and the next request opens another."""
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.epoch != self._epoch:
            connection = self.engine.raw_connection()
            if self.engine.dialect.name != "sqlite":  # SQLite's are autocommit already
                connection.rollback()  # (the pool's liveness check may have begun one)
                connection.driver_connection.autocommit = True
            connection.detach()  # the pool neither counts nor resets it any more
            self._local.connection, self._local.epoch = connection, self._epoch
            with self._opened_lock:
                self._opened.append(connection)
        try:
            yield connection
        except self.engine.dialect.loaded_dbapi.Error:
            self._local.connection = None
            with self._opened_lock:
                self._opened.remove(connection)
            try:
                connection.close()
            finally:
                raise

    @contextmanager
    def transaction(self) -> Iterator[Run]:
        """A write transaction on this thread's connection, committed if the block ends
        normally: yields `run(statement, parameters)` for statements written with
        SQLAlchemy (`acl.documents.store.deposit`'s), each compiled once for the engine. On
        SQLite it takes the write lock at once, as `Database.transaction` does."""
        with self.connection() as connection:
            cursor = connection.cursor()
            try:
                cursor.execute(self._begin)
                try:
                    yield lambda statement, params: self._compiled(statement).all(
                        connection, params)
                    cursor.execute("COMMIT")
                except BaseException:
                    cursor.execute("ROLLBACK")  # if this fails too, the connection goes
                    raise
            finally:
                cursor.close()

    def _compiled(self, statement) -> _Prepared:
        prepared = self._statements.get(statement)
        if prepared is None:
            prepared = self._statements[statement] = _Prepared(self.engine, statement)
        return prepared

    def close(self) -> None:
        """Close every thread's connection (when the engine is disposed)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
            self._epoch += 1  # threads open new ones if the engine is used again
        for connection in opened:
            try:
                connection.close()
            except Exception:  # noqa: S110 - closing what may be broken already
                pass

    def account(self, connection, user_id: int) -> AccountRow | None:
        row = self._account.first(connection, {"user_id": user_id})
        return None if row is None else AccountRow(*row)

    def tree_version(self, connection, company_id: int) -> int | None:
        row = self._tree_version.first(connection, {"company_id": company_id})
        return None if row is None else row[0]

    def used_bytes(self, connection, company_id: int) -> int:
        row = self._used_bytes.first(connection, {"company_id": company_id})
        return row[0] if row else 0

    def children(self, connection, parent_id: int) -> list:
        """The live members of a folder as rows of `acl.documents.store.LISTING_COLUMNS`, by name
        (a listing of 10,000 documents builds no ORM object)."""
        return self._children.all(connection, {"parent_id": parent_id})

    def children_properties(self, connection, parent_id: int) -> dict[int, dict[str, str]]:
        """The dead properties of a folder's live members, by node id."""
        found: dict[int, dict[str, str]] = {}
        for node_id, name, value in self._children_properties.all(
                connection, {"parent_id": parent_id}):
            if is_sound_property(value):
                found.setdefault(node_id, {})[name] = value
        return found

    def properties(self, connection, node_id: int) -> dict[str, str]:
        return {name: value for name, value in self._properties.all(
            connection, {"node_id": node_id}) if is_sound_property(value)}

    def logins(self, connection) -> dict[int, str]:
        return dict(self._logins.all(connection, {}))

    def path(self, connection, root_id: int, segments: Sequence[str]
             ) -> tuple[NodeRow, ...] | None:
        """The live nodes along `segments` below a root (as `acl.documents.store.resolve`), or None.
        The nodes above the target carry only their id, name and kind (what a location
        reads of them: the standard folder's name, rights, ids to check they are live)."""
        params = {"root_id": root_id, **{f"name_{i}": s for i, s in enumerate(segments)}}
        row = self._path(len(segments)).first(connection, params)
        if row is None:
            return None
        above = len(ABOVE_COLUMNS)
        nodes = [NodeRow(*row[i:i + above], 0, None, None, None, False)
                 for i in range(0, len(row) - len(NODE_COLUMNS), above)]
        if any(node.kind == "file" for node in nodes):
            return None
        return (*nodes, NodeRow(*row[-len(NODE_COLUMNS):]))

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one instance per engine, kept for life
    def _path(self, depth: int) -> _Prepared:
        steps, conditions = path_steps(depth)
        columns = [getattr(step, name) for step in steps[:-1] for name in ABOVE_COLUMNS]
        columns += [getattr(steps[-1], name) for name in NODE_COLUMNS]
        return _Prepared(self.engine, select(*columns).where(*conditions))
