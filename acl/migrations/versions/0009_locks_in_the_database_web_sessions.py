"""WebDAV locks in the database, server-side web sessions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00

Locks lived in a shelve file of the data folder (or in Redis): the web app and the CLI could
not see them, and only Redis shared them between server processes. They are rows now, read
by every channel (issue 15). Locks held at the upgrade are not carried over: clients take
them again (a lock lasts an hour at most). A `locks` generation counter, bumped whenever a
lock is taken or released, lets the drive know at once that no lock exists.

A web session is a row too, so that signing out ends it on the server.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from acl.db import UTCDateTime

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dav_lock',
    sa.Column('token', sa.String(length=100), nullable=False),
    sa.Column('root', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('depth', sa.String(length=10), nullable=False),
    sa.Column('owner', sa.LargeBinary(), nullable=False),
    sa.Column('principal', sa.String(length=64), nullable=False),
    sa.Column('timeout', sa.Float(), nullable=False),
    sa.Column('expire', sa.Float(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_dav_lock'))
    )
    op.create_index(op.f('ix_dav_lock_root'), 'dav_lock', ['root'], unique=False)
    op.create_index(op.f('ix_dav_lock_expire'), 'dav_lock', ['expire'], unique=False)
    op.create_table('web_session',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                            name=op.f('fk_web_session_user_id_user_account'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session'))
    )
    op.create_index(op.f('ix_web_session_user_id'), 'web_session', ['user_id'], unique=False)
    op.create_index(op.f('ix_web_session_created_at'), 'web_session', ['created_at'],
                    unique=False)
    op.execute("INSERT INTO generation (name, value) VALUES ('locks', 0)")


def downgrade() -> None:
    op.execute("DELETE FROM generation WHERE name = 'locks'")
    op.drop_table('web_session')
    op.drop_table('dav_lock')
