"""Why a database cannot be used, told in French (`acl.errors.describe_database_error`), from
the real drivers' errors: SQLite files, and a PostgreSQL server on 127.0.0.1."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from acl.errors import describe_database_error

PG = "postgresql+psycopg://{user}@127.0.0.1:{port}/{database}"


def sqlite_error(path: str, statement: str = "SELECT 1") -> BaseException:
    with pytest.raises(sqlite3.DatabaseError) as raised:
        connection = sqlite3.connect(path, timeout=0)
        try:
            connection.execute(statement)
        finally:
            connection.close()
    return raised.value


def postgres_error(**url) -> BaseException:
    engine = create_engine(PG.format(**{"user": "postgres", "port": 5432,
                                        "database": "postgres", **url}),
                           connect_args={"connect_timeout": 10})
    try:
        with pytest.raises(OperationalError) as raised, engine.connect():
            pass
    finally:
        engine.dispose()
    return raised.value.orig


def test_sqlite_file_that_cannot_be_opened(tmp_path):
    error = sqlite_error(str(tmp_path / "absent" / "x.db"))
    assert describe_database_error(error) == "son fichier ne peut pas être ouvert"


def test_sqlite_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "x.db"
    path.write_bytes(b"pas une base" * 1000)
    assert describe_database_error(sqlite_error(str(path), "SELECT * FROM sqlite_master")) == \
        "ce fichier n'est pas une base de données"


def test_sqlite_database_locked_by_another_writer(tmp_path):
    path = str(tmp_path / "x.db")
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")
        error = sqlite_error(path, "INSERT INTO t VALUES (1)")
    finally:
        holder.close()
    assert describe_database_error(error) == \
        "elle est occupée par une autre écriture, réessayez"


@pytest.fixture
def postgres():
    engine = create_engine(PG.format(user="postgres", port=5432, database="postgres"),
                           connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432 (package postgresql)")
    finally:
        engine.dispose()


def test_postgres_server_that_does_not_answer():
    assert describe_database_error(postgres_error(port=1)) == \
        "aucun serveur PostgreSQL ne répond à cette adresse"


def test_postgres_database_that_does_not_exist(postgres):
    name = f"absente_{uuid.uuid4().hex[:8]}"
    assert describe_database_error(postgres_error(database=name)) == \
        f"la base « {name} » n'existe pas sur le serveur PostgreSQL"


def test_postgres_role_that_does_not_exist(postgres):
    name = f"inconnu_{uuid.uuid4().hex[:8]}"
    assert describe_database_error(postgres_error(user=name)) == \
        f"le rôle PostgreSQL « {name} » n'existe pas"


def test_an_unusual_reason_is_given_as_the_driver_says_it_on_one_line():
    assert describe_database_error(Exception("quelque chose\n   d'autre")) == \
        "quelque chose d'autre"
