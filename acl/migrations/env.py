"""Alembic environment: runs on the engine handed over by `acl.db.upgrade_schema`.

Every `liasse` command brings the schema up to date, and several nodes (or an administrator's
command beside them) may start at once after an upgrade: on PostgreSQL the migrations run
under a transaction-level advisory lock, so that one process migrates while the others wait,
then find the schema at its newest revision and do nothing (without it, each ran the same
migrations and all but one failed on what the first had just created). SQLite's single
writer already serializes them.
"""

from alembic import context
from sqlalchemy import text

import acl.schema  # noqa: F401  (registers every table on the metadata)
from acl.db import Base

MIGRATION_LOCK = 0x11A55F  # beside liasse.worker.ADVISORY_KEY
engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Per schema, as the worker's election (liasse.worker): two installations
            # sharing one database in separate schemas do not wait for each other.
            connection.execute(text(
                "SELECT pg_advisory_xact_lock(:k, hashtext(coalesce(current_schema(), '')))"),
                {"k": MIGRATION_LOCK})
        context.run_migrations()
    connection.commit()
