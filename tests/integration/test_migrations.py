"""Alembic: an empty database upgrades to head and then matches the models exactly."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from acl.db import Base, alembic_config, make_engine, upgrade_schema


def test_empty_database_upgrades_to_head_and_matches_models(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_schema(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
            assert context.get_current_revision() == head
            assert compare_metadata(context, Base.metadata) == []
        upgrade_schema(engine)  # idempotent: a second `liasse serve` changes nothing
    finally:
        engine.dispose()


def test_downgrade_to_base_removes_every_table(database_url):
    engine = make_engine(database_url)
    try:
        upgrade_schema(engine)
        command.downgrade(alembic_config(engine), "base")
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
    finally:
        engine.dispose()
