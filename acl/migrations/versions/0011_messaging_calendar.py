"""messaging and fiscal calendar (issue 19): threads, messages, their replaced texts,
documents, read marks, forward addresses; fiscal profiles, firm and company events, comments
on deadlines, alerts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:07:20

A message's replaced texts are kept as they were: the database refuses to change them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from acl.db import UTCDateTime

_SQLITE = [
    "CREATE TRIGGER message_revision_kept BEFORE UPDATE ON message_revision "
    "BEGIN SELECT RAISE(ABORT, 'a replaced text of a message is kept as it was'); END",
]
_POSTGRES = [
    "CREATE FUNCTION message_revision_kept() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'a replaced text of a message is kept as it was'; END $$",
    "CREATE TRIGGER message_revision_kept BEFORE UPDATE ON message_revision "
    "FOR EACH ROW EXECUTE FUNCTION message_revision_kept()",
]
revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('event_key', sa.String(length=120), nullable=False),
    sa.Column('event_title', sa.String(length=300), nullable=False),
    sa.Column('event_on', sa.Date(), nullable=False),
    sa.Column('remind_on', sa.Date(), nullable=False),
    sa.Column('due_at', UTCDateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('mailed_at', UTCDateTime(), nullable=True),
    sa.Column('disabled_at', UTCDateTime(), nullable=True),
    sa.Column('disabled_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_calendar_alert_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['disabled_by_id'], ['user_account.id'], name=op.f('fk_calendar_alert_disabled_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['set_by_id'], ['user_account.id'], name=op.f('fk_calendar_alert_set_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_calendar_alert_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_alert'))
    )
    with op.batch_alter_table('calendar_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_alert_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_alert_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_alert_mailed_at'), ['mailed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_alert_user_id'), ['user_id'], unique=False)

    op.create_table('calendar_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.String(length=20), nullable=False),
    sa.Column('on', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('private', sa.Boolean(), nullable=False),
    sa.Column('batch', sa.String(length=32), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_calendar_event_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_calendar_event_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_event'))
    )
    with op.batch_alter_table('calendar_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_event_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_event_on'), ['on'], unique=False)

    op.create_table('deadline_comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('deadline_key', sa.String(length=120), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_deadline_comment_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_deadline_comment_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_comment'))
    )
    with op.batch_alter_table('deadline_comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_comment_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_comment_deadline_key'), ['deadline_key'], unique=False)

    op.create_table('fiscal_profile',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('vat_periodicity', sa.String(length=20), nullable=False),
    sa.Column('vat_day', sa.Integer(), nullable=False),
    sa.Column('income_tax', sa.String(length=5), nullable=False),
    sa.Column('employees', sa.String(length=20), nullable=False),
    sa.Column('cfe', sa.String(length=30), nullable=False),
    sa.Column('cvae', sa.String(length=30), nullable=False),
    sa.Column('micro', sa.String(length=20), nullable=False),
    sa.Column('company_cars', sa.Boolean(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_fiscal_profile_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['user_account.id'], name=op.f('fk_fiscal_profile_updated_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('company_id', name=op.f('pk_fiscal_profile'))
    )
    op.create_table('forward_address',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('confirmed_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_forward_address_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forward_address')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_forward_address_token_hash'))
    )
    with op.batch_alter_table('forward_address', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forward_address_user_id'), ['user_id'], unique=False)

    op.create_table('message_thread',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('last_message_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_message_thread_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_message_thread_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_thread'))
    )
    with op.batch_alter_table('message_thread', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_thread_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_thread_last_message_at'), ['last_message_at'], unique=False)

    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_side', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('edited_at', UTCDateTime(), nullable=True),
    sa.Column('retracted_at', UTCDateTime(), nullable=True),
    sa.Column('retracted_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['user_account.id'], name=op.f('fk_message_author_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_message_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['retracted_by_id'], ['user_account.id'], name=op.f('fk_message_retracted_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['thread_id'], ['message_thread.id'], name=op.f('fk_message_thread_id_message_thread'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message'))
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_thread_id'), ['thread_id'], unique=False)

    op.create_table('thread_read',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('thread_id', sa.Integer(), nullable=False),
    sa.Column('last_read_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['thread_id'], ['message_thread.id'], name=op.f('fk_thread_read_thread_id_message_thread'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_thread_read_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'thread_id', name=op.f('pk_thread_read'))
    )
    op.create_table('message_document',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=False),
    sa.Column('attached', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_message_document_message_id_message'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_message_document_node_id_node'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', 'node_id', name=op.f('pk_message_document'))
    )
    with op.batch_alter_table('message_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_document_node_id'), ['node_id'], unique=False)

    op.create_table('message_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('replaced_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_message_revision_message_id_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_revision'))
    )
    with op.batch_alter_table('message_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_revision_message_id'), ['message_id'], unique=False)
    for statement in _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS message_revision_kept ON message_revision")
        op.execute("DROP FUNCTION IF EXISTS message_revision_kept()")
    else:
        op.execute("DROP TRIGGER IF EXISTS message_revision_kept")
    with op.batch_alter_table('message_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_revision_message_id'))

    op.drop_table('message_revision')
    with op.batch_alter_table('message_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_document_node_id'))

    op.drop_table('message_document')
    op.drop_table('thread_read')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_thread_id'))
        batch_op.drop_index(batch_op.f('ix_message_company_id'))

    op.drop_table('message')
    with op.batch_alter_table('message_thread', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_thread_last_message_at'))
        batch_op.drop_index(batch_op.f('ix_message_thread_company_id'))

    op.drop_table('message_thread')
    with op.batch_alter_table('forward_address', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forward_address_user_id'))

    op.drop_table('forward_address')
    op.drop_table('fiscal_profile')
    with op.batch_alter_table('deadline_comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_comment_deadline_key'))
        batch_op.drop_index(batch_op.f('ix_deadline_comment_company_id'))

    op.drop_table('deadline_comment')
    with op.batch_alter_table('calendar_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_event_on'))
        batch_op.drop_index(batch_op.f('ix_calendar_event_company_id'))

    op.drop_table('calendar_event')
    with op.batch_alter_table('calendar_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_alert_user_id'))
        batch_op.drop_index(batch_op.f('ix_calendar_alert_mailed_at'))
        batch_op.drop_index(batch_op.f('ix_calendar_alert_due_at'))
        batch_op.drop_index(batch_op.f('ix_calendar_alert_company_id'))

    op.drop_table('calendar_alert')
