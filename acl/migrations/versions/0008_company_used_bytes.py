"""company used bytes: kept by triggers, so that quotas and listings need no SUM

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 17:45:00

`company.used_bytes` is the size of the company's live documents (a document's own
`deleted_at` unset), as `SUM(size)` over them would give, kept by triggers on `node`: an
insert adds a row's share, a delete takes it off, an update does both (also when a node
moves to another company). A listing and a quota check then read one row instead of adding
up every document of the company.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _share(row: str) -> str:
    return f"(CASE WHEN {row}.kind = 'file' AND {row}.deleted_at IS NULL THEN {row}.size " \
           "ELSE 0 END)"


def _add(row: str, sign: str) -> str:
    return (f"UPDATE company SET used_bytes = used_bytes {sign} {_share(row)} "
            f"WHERE id = {row}.company_id;")


_SQLITE_TRIGGERS = {
    "node_used_insert": f"AFTER INSERT ON node BEGIN {_add('NEW', '+')} END",
    "node_used_update": f"AFTER UPDATE ON node BEGIN {_add('OLD', '-')} {_add('NEW', '+')} END",
    "node_used_delete": f"AFTER DELETE ON node BEGIN {_add('OLD', '-')} END",
}

_POSTGRES_FUNCTION = f"""CREATE FUNCTION company_used_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN {_add('OLD', '-')} END IF;
      IF TG_OP <> 'DELETE' THEN {_add('NEW', '+')} END IF;
      RETURN NULL;
    END $$"""


def upgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('used_bytes', sa.BigInteger(), nullable=False,
                                      server_default='0'))
    op.execute(f"UPDATE company SET used_bytes = (SELECT COALESCE(SUM({_share('node')}), 0) "
               "FROM node WHERE node.company_id = company.id)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        op.execute("CREATE TRIGGER node_used_bytes AFTER INSERT OR UPDATE OR DELETE ON node "
                   "FOR EACH ROW EXECUTE FUNCTION company_used_bytes()")
    else:
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS node_used_bytes ON node")
        op.execute("DROP FUNCTION IF EXISTS company_used_bytes()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Not a batch (table copy) on SQLite: the other triggers on `node` name `company`.
    op.execute("ALTER TABLE company DROP COLUMN used_bytes")
