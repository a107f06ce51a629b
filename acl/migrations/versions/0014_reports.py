"""Reports for the firm: the company's consent, expenses, received e-invoices

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 12:00:00

Issue 18: a company's interlocuteur lets the firm read its invoicing (one row per company,
dated, the change audited); purchases (expenses) with their VAT per rate and the Achats
document they come with; e-invoices found in deposits into Achats, offered as expenses.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from acl.db import UTCDateTime

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('invoicing_consent',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('changed_at', UTCDateTime(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user_account.id'], name=op.f('fk_invoicing_consent_changed_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_consent_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('company_id', name=op.f('pk_invoicing_consent'))
    )
    op.create_table('invoicing_expense',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('supplier_vat', sa.String(length=20), nullable=False),
    sa.Column('number', sa.String(length=60), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('category', sa.String(length=60), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('total_ht', sa.BigInteger(), nullable=False),
    sa.Column('total_vat', sa.BigInteger(), nullable=False),
    sa.Column('total_ttc', sa.BigInteger(), nullable=False),
    sa.Column('origin', sa.String(length=30), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_expense_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_invoicing_expense_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_invoicing_expense_node_id_node'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_expense'))
    )
    op.create_index('ix_invoicing_expense_company_issue', 'invoicing_expense', ['company_id', 'issue_date'], unique=False)
    op.create_index(op.f('ix_invoicing_expense_node_id'), 'invoicing_expense', ['node_id'], unique=False)
    op.create_table('invoicing_expense_vat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('expense_id', sa.Integer(), nullable=False),
    sa.Column('rate', sa.BigInteger(), nullable=False),
    sa.Column('taxable', sa.BigInteger(), nullable=False),
    sa.Column('vat', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['expense_id'], ['invoicing_expense.id'], name=op.f('fk_invoicing_expense_vat_expense_id_invoicing_expense'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_expense_vat'))
    )
    op.create_index(op.f('ix_invoicing_expense_vat_expense_id'), 'invoicing_expense_vat', ['expense_id'], unique=False)
    op.create_table('invoicing_received',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('expense_id', sa.Integer(), nullable=True),
    sa.Column('found_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_received_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['expense_id'], ['invoicing_expense.id'], name=op.f('fk_invoicing_received_expense_id_invoicing_expense'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['node_id'], ['node.id'], name=op.f('fk_invoicing_received_node_id_node'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_received'))
    )
    op.create_index(op.f('ix_invoicing_received_company_id'), 'invoicing_received', ['company_id'], unique=False)
    op.create_index(op.f('ix_invoicing_received_node_id'), 'invoicing_received', ['node_id'], unique=False)
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_index(op.f('ix_invoicing_received_node_id'), table_name='invoicing_received')
    op.drop_index(op.f('ix_invoicing_received_company_id'), table_name='invoicing_received')
    op.drop_table('invoicing_received')
    op.drop_index(op.f('ix_invoicing_expense_vat_expense_id'), table_name='invoicing_expense_vat')
    op.drop_table('invoicing_expense_vat')
    op.drop_index(op.f('ix_invoicing_expense_node_id'), table_name='invoicing_expense')
    op.drop_index('ix_invoicing_expense_company_issue', table_name='invoicing_expense')
    op.drop_table('invoicing_expense')
    op.drop_table('invoicing_consent')
    # ### end Alembic commands ###
