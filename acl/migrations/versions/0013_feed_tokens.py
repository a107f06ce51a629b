"""Feed tokens: per-user secrets for feed readers and calendar apps

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 12:00:00

RSS/Atom and ICS feeds (issue 20) are fetched by programs that cannot sign in: each carries a
secret of its user in its URL. Only the secret's hash is kept; a token is named, revocable,
rotatable, and stops when its account's credentials change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from acl.db import UTCDateTime

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('feed_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('credentials_version', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('rotated_at', UTCDateTime(), nullable=True),
    sa.Column('revoked_at', UTCDateTime(), nullable=True),
    sa.Column('last_used_at', UTCDateTime(), nullable=True),
    sa.Column('last_used_from', sa.String(length=100), nullable=False),
    sa.Column('demo_secret', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                            name=op.f('fk_feed_token_user_id_user_account'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_token')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_feed_token_secret_hash'))
    )
    with op.batch_alter_table('feed_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_token_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feed_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_token_user_id'))
    op.drop_table('feed_token')
