"""Tables as JSON lines, and back: the database-neutral part of a backup.

The tables are read as the database holds them (reflected, so any revision of the schema,
and the stored value rather than what a model's type makes of it: whole cents stay whole,
UTC times stay UTC). Each row is one JSON array in the order of its table's columns; each
column has a kind that says how its values are written (a time in ISO 8601 with its offset,
bytes in base64, a decimal as text), so that a snapshot of SQLite goes into PostgreSQL and
back unchanged.

Rows go back in one transaction, tables in the order of their foreign keys, with the
tables' triggers off: the triggers that keep counters (a company's used bytes and tree
version) would count every document twice, and those that freeze an issued invoice would
refuse its lines. A key that points into its own table (a folder's parent) at a row not
inserted yet is set afterwards. PostgreSQL's sequences then start after the largest key.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, MetaData, Table, bindparam, select, text
from sqlalchemy.schema import sort_tables_and_constraints

BATCH = 1000  # rows per INSERT (executemany)
ALEMBIC_TABLE = "alembic_version"
# Rows the migrations themselves write (counters that start at 0): a schema just made holds
# them, and a restore replaces them with the snapshot's.
SEEDED_BY_MIGRATIONS = frozenset({"generation"})

_KIND_OF_TYPE = [(bool, "boolean"), (int, "integer"), (float, "float"), (Decimal, "decimal"),
                 (datetime, "datetime"), (date, "date"), (bytes, "bytes"), (str, "text"),
                 (dict, "json"), (list, "json")]
KINDS = frozenset(kind for _, kind in _KIND_OF_TYPE) | {"raw"}


class DamagedRows(ValueError):
    """A line that is not what its table's columns say (`str(error)` says what, in French)."""


def reflect(connection: Connection) -> MetaData:
    """The database's own tables (the migrations' bookkeeping left out)."""
    metadata = MetaData()
    metadata.reflect(connection)
    if ALEMBIC_TABLE in metadata.tables:
        metadata.remove(metadata.tables[ALEMBIC_TABLE])
    return metadata


def ordered_tables(metadata: MetaData) -> list[Table]:
    """Every table after the tables its foreign keys point at (ties by name)."""
    return [table for table, _ in sort_tables_and_constraints(
        sorted(metadata.tables.values(), key=lambda t: t.name)) if table is not None]


def column_kind(column) -> str:
    try:
        python_type = column.type.python_type
    except NotImplementedError:  # a column without a declared type (SQLite allows it)
        return "raw"
    for base, kind in _KIND_OF_TYPE:
        if issubclass(python_type, base):
            return kind
    return "raw"


def encoder(kind: str) -> Callable[[Any], Any]:
    if kind == "datetime":
        return lambda v: (v if v.tzinfo else v.replace(tzinfo=UTC)).isoformat()
    if kind == "date":
        return lambda v: v.isoformat()
    if kind == "bytes":
        return lambda v: base64.b64encode(bytes(v)).decode("ascii")
    if kind == "decimal":
        return str
    return lambda v: v


def decoder(kind: str) -> Callable[[Any], Any]:
    """Raises ValueError or TypeError for a value its kind cannot hold."""
    if kind == "datetime":
        def as_datetime(v):
            value = datetime.fromisoformat(v)
            if value.tzinfo is None:
                raise ValueError("time without offset")
            return value.astimezone(UTC)
        return as_datetime
    if kind == "date":
        return date.fromisoformat
    if kind == "bytes":
        return lambda v: base64.b64decode(v.encode("ascii"), validate=True)
    if kind == "decimal":
        return lambda v: Decimal(str(v))
    expected = {"boolean": bool, "integer": int, "float": (int, float), "text": str,
                "json": (dict, list)}.get(kind)
    if expected is None:
        return lambda v: v

    def checked(v):
        if not isinstance(v, expected) or (kind == "integer" and isinstance(v, bool)):
            raise TypeError(f"not {kind}")
        return v
    return checked


def dump_rows(connection: Connection, table: Table) -> tuple[list[tuple[str, str]],
                                                              Iterator[str]]:
    """The table's columns with their kinds, and its rows as JSON lines (by primary key)."""
    columns = [(c.name, column_kind(c)) for c in table.columns]
    encoders = [encoder(kind) for _, kind in columns]
    order = list(table.primary_key.columns) or list(table.columns)

    def lines() -> Iterator[str]:
        result = connection.execution_options(stream_results=True, yield_per=BATCH) \
            .execute(select(table).order_by(*order))
        for row in result:
            yield json.dumps([None if value is None else encode(value)
                              for encode, value in zip(encoders, row, strict=True)],
                             ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return columns, lines()


def parse_line(line: str, decoders: list[Callable[[Any], Any]]) -> list[Any]:
    """One JSON line as the values of its columns; DamagedRows if it is not one."""
    try:
        values = json.loads(line)
    except ValueError:
        raise DamagedRows("une ligne n'est pas du JSON valide") from None
    if not isinstance(values, list) or len(values) != len(decoders):
        raise DamagedRows("une ligne n'a pas le nombre de colonnes annoncé")
    try:
        return [None if value is None else decode(value)
                for decode, value in zip(decoders, values, strict=True)]
    except (ValueError, TypeError, AttributeError):
        raise DamagedRows("une valeur ne correspond pas au type de sa colonne") from None


class TriggersOff:
    """The tables' own triggers, off until `restore` (inside the caller's transaction):
    PostgreSQL disables them (the tables are the restoring role's: it made them); SQLite
    cannot, so they are dropped and made again from their own text."""

    def __init__(self, connection: Connection, tables: Iterable[Table]) -> None:
        self.connection = connection
        self.tables = [t.name for t in tables]
        self.sqlite: list[tuple[str, str]] = []
        if connection.dialect.name == "postgresql":
            for name in self.tables:
                connection.exec_driver_sql(f'ALTER TABLE "{name}" DISABLE TRIGGER USER')
        else:
            self.sqlite = list(connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"))
            for name, _ in self.sqlite:
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')

    def restore(self) -> None:
        if self.connection.dialect.name == "postgresql":
            for name in self.tables:
                self.connection.exec_driver_sql(f'ALTER TABLE "{name}" ENABLE TRIGGER USER')
        for _, sql in self.sqlite:
            self.connection.exec_driver_sql(sql)


class TableLoader:
    """Inserts one table's rows in batches; keys into its own table (or into a table of a
    foreign-key cycle) that point at rows not there yet are inserted empty and set by
    `finish`."""

    def __init__(self, connection: Connection, table: Table, columns: list[str],
                 earlier: set[str]) -> None:
        self.connection = connection
        self.table = table
        self.columns = columns
        self.rows: list[dict[str, Any]] = []
        self.count = 0
        key = list(table.primary_key.columns)
        self.key = key[0].name if len(key) == 1 else None
        # (column, referred column) of single-column keys that may point forward
        self.forward: list[tuple[str, str]] = []
        self.seen: dict[str, set[Any]] = {}
        for fk in table.foreign_key_constraints:
            if len(fk.columns) != 1 or self.key is None:
                continue
            column = next(iter(fk.columns))
            if not column.nullable:
                continue
            if fk.referred_table is table:
                referred = fk.elements[0].column.name
                self.forward.append((column.name, referred))
                self.seen.setdefault(referred, set())
            elif fk.referred_table.name not in earlier:  # a cycle: always set afterwards
                self.forward.append((column.name, ""))
        self.later: list[dict[str, Any]] = []

    def add(self, values: list[Any]) -> None:
        row = dict(zip(self.columns, values, strict=True))
        for column, referred in self.forward:
            value = row[column]
            if value is not None and (not referred or value not in self.seen[referred]):
                self.later.append({"_key": row[self.key], "_value": value, "_column": column})
                row[column] = None
        for referred, seen in self.seen.items():
            seen.add(row[referred])
        self.rows.append(row)
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.connection.execute(self.table.insert(), self.rows)
            self.count += len(self.rows)
            self.rows = []

    def finish(self) -> None:
        self.flush()
        for column, _ in self.forward:
            updates = [{"_key": u["_key"], "_value": u["_value"]} for u in self.later
                       if u["_column"] == column]
            if updates:
                self.connection.execute(
                    self.table.update().where(self.table.c[self.key] == bindparam("_key"))
                    .values({column: bindparam("_value")}), updates)


def reset_sequences(connection: Connection, tables: Iterable[Table]) -> None:
    """PostgreSQL: each table's key sequence continues after its largest key."""
    if connection.dialect.name != "postgresql":
        return  # SQLite's next key is the largest one plus one
    for table in tables:
        key = list(table.primary_key.columns)
        if len(key) != 1 or column_kind(key[0]) != "integer":
            continue
        connection.execute(text(
            f'SELECT setval(pg_get_serial_sequence(:table, :column), max("{key[0].name}")) '
            f'FROM "{table.name}" HAVING max("{key[0].name}") IS NOT NULL'),
            {"table": f'"{table.name}"', "column": key[0].name})


def has_rows(connection: Connection, metadata: MetaData) -> list[str]:
    """The tables that hold at least one row (beyond what the migrations write)."""
    return [table.name for table in metadata.sorted_tables
            if table.name not in SEEDED_BY_MIGRATIONS
            and connection.execute(select(text("1")).select_from(table).limit(1)).first()]
