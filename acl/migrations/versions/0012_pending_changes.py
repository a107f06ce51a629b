"""Changes of one's own e-mail address or password confirmed by a mailed code

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 12:00:00

The profile page (issue 16): a new e-mail address is taken only once the code sent to it is
typed back, and a new password once the code sent to the account's address is (seed 002).
The pending change waits in this table: the code's hash, a short validity, a few tries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from acl.db import UTCDateTime

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pending_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('new_value', sa.String(length=255), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('expires_at', UTCDateTime(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('used_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                            name=op.f('fk_pending_change_user_id_user_account'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_change'))
    )
    with op.batch_alter_table('pending_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_change_user_id'), ['user_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pending_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_change_user_id'))
    op.drop_table('pending_change')
