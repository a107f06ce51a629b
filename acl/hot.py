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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, bindparam, select

from acl.audit import RIGHTS
from acl.documents import path_steps
from acl.models import Company, Generation, User


class NodeRow(NamedTuple):
    """The columns of a node that a resolved path needs (duck-types `Node` for
    `acl.documents.Location`)."""

    id: int
    name: str
    kind: str
    size: int
    sha256: str | None
    created_at: datetime
    modified_at: datetime
    is_client_file: bool


class AccountRow(NamedTuple):
    login: str
    side: str
    active: bool
    credentials_version: int
    rights_generation: int


class _Prepared:
    """One statement compiled for a dialect, run on a DBAPI connection."""

    def __init__(self, engine: Engine, statement) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        self.names = compiled.positiontup if compiled.positional else None
        self.defaults = compiled.params  # the statement's own literals
        self.processors = [column.type.dialect_impl(engine.dialect).result_processor(
                               engine.dialect, None)
                           for column in statement.selected_columns]

    def first(self, connection, params: dict[str, Any]) -> tuple | None:
        params = {**self.defaults, **params}
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, [params[n] for n in self.names] if self.positional
                           else params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return tuple(value if process is None else process(value)
                     for value, process in zip(row, self.processors, strict=True))


NODE_COLUMNS = ("id", "name", "kind", "size", "sha256", "created_at", "modified_at",
                "is_client_file")


class HotQueries:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        generation = select(Generation.value).where(Generation.name == RIGHTS) \
            .scalar_subquery()
        self._account = _Prepared(engine, select(
            User.login, User.side, User.active, User.credentials_version,
            generation.label("generation")).where(User.id == bindparam("user_id")))
        self._tree_version = _Prepared(engine, select(Company.tree_version).where(
            Company.id == bindparam("company_id")))

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled DBAPI connection; given back (rolled back) on exit."""
        connection = self.engine.raw_connection()
        try:
            yield connection
        finally:
            connection.close()

    def account(self, connection, user_id: int) -> AccountRow | None:
        row = self._account.first(connection, {"user_id": user_id})
        return None if row is None else AccountRow(*row)

    def tree_version(self, connection, company_id: int) -> int | None:
        row = self._tree_version.first(connection, {"company_id": company_id})
        return None if row is None else row[0]

    def path(self, connection, root_id: int, segments: Sequence[str]
             ) -> tuple[NodeRow, ...] | None:
        """The live nodes along `segments` below a root (as `acl.documents.resolve`), or
        None."""
        params = {"root_id": root_id, **{f"name_{i}": s for i, s in enumerate(segments)}}
        row = self._path(len(segments)).first(connection, params)
        if row is None:
            return None
        width = len(NODE_COLUMNS)
        nodes = tuple(NodeRow(*row[i:i + width]) for i in range(0, len(row), width))
        if any(node.kind == "file" for node in nodes[:-1]):
            return None
        return nodes

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one instance per engine, kept for life
    def _path(self, depth: int) -> _Prepared:
        steps, conditions = path_steps(depth)
        columns = [getattr(step, name) for step in steps for name in NODE_COLUMNS]
        return _Prepared(self.engine, select(*columns).where(*conditions))
