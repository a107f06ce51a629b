"""drive: trash, versions, dead properties, downloads, events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 14:50:47.156655
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('download',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bytes_sent', sa.BigInteger(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('client', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_download_node_id_node'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_download_user_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_download'))
    )
    with op.batch_alter_table('download', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_download_node_id'), ['node_id'], unique=False)

    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=True),
    sa.Column('folder', sa.String(length=255), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=True),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_event_actor_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_event_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_event_node_id_node'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_kind'), ['kind'], unique=False)

    op.create_table('node_property',
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_node_property_node_id_node'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('node_id', 'name', name=op.f('pk_node_property'))
    )
    op.create_table('node_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('modified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deposited_by_id', sa.Integer(), nullable=True),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deposited_by_id'], ['user_account.id'], name=op.f('fk_node_version_deposited_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_node_version_node_id_node'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_node_version'))
    )
    with op.batch_alter_table('node_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_node_version_node_id'), ['node_id'], unique=False)

    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_client_file', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('download_count', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('received_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('received_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deleted_by_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_node_parent_name'), type_='unique')
        batch_op.create_index(batch_op.f('ix_node_deleted_at'), ['deleted_at'], unique=False)
        batch_op.create_index('ix_node_parent_id', ['parent_id'], unique=False)
        batch_op.create_index('uq_node_live_name', ['parent_id', 'name'], unique=True, sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
        batch_op.create_foreign_key(batch_op.f('fk_node_received_by_id_user_account'), 'user_account', ['received_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_node_deleted_by_id_user_account'), 'user_account', ['deleted_by_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('node', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_node_deleted_by_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_node_received_by_id_user_account'), type_='foreignkey')
        batch_op.drop_index('uq_node_live_name', sqlite_where=sa.text('deleted_at IS NULL'), postgresql_where=sa.text('deleted_at IS NULL'))
        batch_op.drop_index('ix_node_parent_id')
        batch_op.drop_index(batch_op.f('ix_node_deleted_at'))
        batch_op.create_unique_constraint(batch_op.f('uq_node_parent_name'), ['parent_id', 'name'])
        batch_op.drop_column('deleted_by_id')
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('received_by_id')
        batch_op.drop_column('received_at')
        batch_op.drop_column('download_count')
        batch_op.drop_column('is_client_file')

    with op.batch_alter_table('node_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_node_version_node_id'))

    op.drop_table('node_version')
    op.drop_table('node_property')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_kind'))
        batch_op.drop_index(batch_op.f('ix_event_company_id'))

    op.drop_table('event')
    with op.batch_alter_table('download', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_download_node_id'))

    op.drop_table('download')
