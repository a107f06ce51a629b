"""Alembic environment: runs on the engine handed over by `acl.db.upgrade_schema`."""

from alembic import context

import acl.schema  # noqa: F401  (registers every table on the metadata)
from acl.db import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
