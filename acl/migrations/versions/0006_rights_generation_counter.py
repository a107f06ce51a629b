"""rights generation counter

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 15:42:36.452467
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('generation',
    sa.Column('name', sa.String(length=30), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_generation'))
    )
    op.execute("INSERT INTO generation (name, value) VALUES ('rights', 0)")


def downgrade() -> None:
    op.drop_table('generation')
