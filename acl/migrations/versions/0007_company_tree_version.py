"""company tree version: bumped by triggers on every change of a company's nodes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 17:30:00

The drive caches folder listings; a listing stays valid while its company's `tree_version`
has not moved. Triggers keep it in step with every write to `node` and `node_property`,
whoever makes it (the drive, the web app, the CLI, another server process).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_BUMP = "UPDATE company SET tree_version = tree_version + 1 WHERE id = "
_OF_NODE = "(SELECT company_id FROM node WHERE id = {}.node_id)"

_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER node_tree_insert AFTER INSERT ON node BEGIN {_BUMP}NEW.company_id; END",
    f"CREATE TRIGGER node_tree_update AFTER UPDATE ON node BEGIN {_BUMP}OLD.company_id; "
    f"{_BUMP}NEW.company_id AND NEW.company_id <> OLD.company_id; END",
    f"CREATE TRIGGER node_tree_delete AFTER DELETE ON node BEGIN {_BUMP}OLD.company_id; END",
    f"CREATE TRIGGER node_property_tree_insert AFTER INSERT ON node_property BEGIN "
    f"{_BUMP}{_OF_NODE.format('NEW')}; END",
    f"CREATE TRIGGER node_property_tree_update AFTER UPDATE ON node_property BEGIN "
    f"{_BUMP}{_OF_NODE.format('NEW')}; END",
    f"CREATE TRIGGER node_property_tree_delete AFTER DELETE ON node_property BEGIN "
    f"{_BUMP}{_OF_NODE.format('OLD')}; END",
]
_SQLITE_NAMES = ["node_tree_insert", "node_tree_update", "node_tree_delete",
                 "node_property_tree_insert", "node_property_tree_update",
                 "node_property_tree_delete"]

_POSTGRES_TRIGGERS = [
    f"""CREATE FUNCTION company_tree_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_TABLE_NAME = 'node' THEN
        IF TG_OP <> 'INSERT' THEN {_BUMP}OLD.company_id; END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.company_id <> OLD.company_id) THEN
          {_BUMP}NEW.company_id;
        END IF;
      ELSIF TG_OP = 'DELETE' THEN
        {_BUMP}{_OF_NODE.format('OLD')};
      ELSE
        {_BUMP}{_OF_NODE.format('NEW')};
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER node_tree_changed AFTER INSERT OR UPDATE OR DELETE ON node
       FOR EACH ROW EXECUTE FUNCTION company_tree_changed()""",
    """CREATE TRIGGER node_property_tree_changed AFTER INSERT OR UPDATE OR DELETE
       ON node_property FOR EACH ROW EXECUTE FUNCTION company_tree_changed()""",
]


def upgrade() -> None:
    with op.batch_alter_table('company', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tree_version', sa.Integer(), nullable=False,
                                      server_default='0'))
    if op.get_bind().dialect.name == "postgresql":
        for statement in _POSTGRES_TRIGGERS:
            op.execute(statement)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS node_tree_changed ON node")
        op.execute("DROP TRIGGER IF EXISTS node_property_tree_changed ON node_property")
        op.execute("DROP FUNCTION IF EXISTS company_tree_changed()")
    else:
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Not a batch (table copy) on SQLite: the other triggers on `node` name `company`.
    op.execute("ALTER TABLE company DROP COLUMN tree_version")
