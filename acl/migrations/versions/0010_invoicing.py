"""invoicing: settings, customers, articles, documents, lines, payments, numbering series;
one attachment per mail of the outbox

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:00:00

An issued document (it has a number) cannot be changed nor deleted, and neither can its
lines: the database refuses it, as it refuses any change of the audit log. Only its state
moves on (status, sent, filed with the accountant). Money is whole cents, quantities and
unit prices ten-thousandths, rates hundredths (acl.invoicing.models.Scaled).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from acl.db import UTCDateTime

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


# What an issued document says: none of it changes once it has a number.
FROZEN = ("number", "kind", "company_id", "customer_id", "issue_date", "service_date",
          "due_date", "purchase_order", "notes", "payment_terms", "seller", "buyer",
          "total_ht", "total_vat", "total_ttc", "prepaid", "source_id", "issued_at")
_SQLITE = [
    "CREATE TRIGGER invoicing_document_frozen BEFORE UPDATE ON invoicing_document "
    "WHEN OLD.number IS NOT NULL AND (" + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
    + ") BEGIN SELECT RAISE(ABORT, 'an issued invoicing document is frozen'); END",
    "CREATE TRIGGER invoicing_document_kept BEFORE DELETE ON invoicing_document "
    "WHEN OLD.number IS NOT NULL "
    "BEGIN SELECT RAISE(ABORT, 'an issued invoicing document is kept'); END",
    *(f"CREATE TRIGGER invoicing_line_frozen_{verb} BEFORE {verb.upper()} ON invoicing_line "
      f"WHEN (SELECT number FROM invoicing_document WHERE id = {row}.document_id) IS NOT NULL "
      "BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoicing document are frozen'); END"
      for verb, row in (("insert", "NEW"), ("update", "OLD"), ("delete", "OLD"))),
]
_POSTGRES = [
    "CREATE FUNCTION invoicing_document_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN IF TG_OP = 'DELETE' THEN "
    "IF OLD.number IS NOT NULL THEN RAISE EXCEPTION 'an issued invoicing document is kept'; "
    "END IF; RETURN OLD; END IF; "
    "IF OLD.number IS NOT NULL AND ROW(" + ", ".join(f"NEW.{c}" for c in FROZEN)
    + ") IS DISTINCT FROM ROW(" + ", ".join(f"OLD.{c}" for c in FROZEN) + ") THEN "
    "RAISE EXCEPTION 'an issued invoicing document is frozen'; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER invoicing_document_frozen BEFORE UPDATE OR DELETE ON invoicing_document "
    "FOR EACH ROW EXECUTE FUNCTION invoicing_document_frozen()",
    "CREATE FUNCTION invoicing_line_frozen() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "DECLARE issued TEXT; BEGIN "
    "SELECT number INTO issued FROM invoicing_document WHERE id = "
    "(CASE WHEN TG_OP = 'INSERT' THEN NEW.document_id ELSE OLD.document_id END); "
    "IF issued IS NOT NULL THEN "
    "RAISE EXCEPTION 'the lines of an issued invoicing document are frozen'; END IF; "
    "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER invoicing_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON invoicing_line "
    "FOR EACH ROW EXECUTE FUNCTION invoicing_line_frozen()",
]


def _create_triggers() -> None:
    for statement in _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS invoicing_line_frozen ON invoicing_line")
        op.execute("DROP FUNCTION IF EXISTS invoicing_line_frozen()")
        op.execute("DROP TRIGGER IF EXISTS invoicing_document_frozen ON invoicing_document")
        op.execute("DROP FUNCTION IF EXISTS invoicing_document_frozen()")
    else:
        for name in ("invoicing_document_frozen", "invoicing_document_kept",
                     "invoicing_line_frozen_insert", "invoicing_line_frozen_update",
                     "invoicing_line_frozen_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    op.create_table('invoicing_article',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=50), nullable=False),
    sa.Column('designation', sa.String(length=500), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('vat_rate', sa.BigInteger(), nullable=False),
    sa.Column('vat_exemption', sa.String(length=30), nullable=False),
    sa.Column('nature', sa.String(length=10), nullable=False),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_article_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_article')),
    sa.UniqueConstraint('company_id', 'reference', name=op.f('uq_invoicing_article_company_id'))
    )
    with op.batch_alter_table('invoicing_article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_article_company_id'), ['company_id'], unique=False)

    op.create_table('invoicing_customer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('address_line1', sa.String(length=200), nullable=False),
    sa.Column('address_line2', sa.String(length=200), nullable=False),
    sa.Column('postcode', sa.String(length=20), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('delivery_line1', sa.String(length=200), nullable=False),
    sa.Column('delivery_line2', sa.String(length=200), nullable=False),
    sa.Column('delivery_postcode', sa.String(length=20), nullable=False),
    sa.Column('delivery_city', sa.String(length=100), nullable=False),
    sa.Column('delivery_country', sa.String(length=2), nullable=False),
    sa.Column('siren', sa.String(length=14), nullable=False),
    sa.Column('vat_number', sa.String(length=20), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('payment_days', sa.Integer(), nullable=True),
    sa.Column('archived', sa.Boolean(), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_customer_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_customer'))
    )
    with op.batch_alter_table('invoicing_customer', schema=None) as batch_op:
        batch_op.create_index('ix_invoicing_customer_company_name', ['company_id', 'name'], unique=False)

    op.create_table('invoicing_series',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=40), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.Column('last_issue_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_series_company_id_company'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('company_id', 'prefix', name=op.f('pk_invoicing_series'))
    )
    op.create_table('invoicing_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('purchase_order', sa.String(length=100), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('payment_terms', sa.Text(), nullable=False),
    sa.Column('seller', sa.Text(), nullable=False),
    sa.Column('buyer', sa.Text(), nullable=False),
    sa.Column('total_ht', sa.BigInteger(), nullable=False),
    sa.Column('total_vat', sa.BigInteger(), nullable=False),
    sa.Column('total_ttc', sa.BigInteger(), nullable=False),
    sa.Column('prepaid', sa.BigInteger(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_at', UTCDateTime(), nullable=True),
    sa.Column('sent_at', UTCDateTime(), nullable=True),
    sa.Column('filed_at', UTCDateTime(), nullable=True),
    sa.Column('filed_node_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_document_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_invoicing_document_created_by_id_user_account'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['invoicing_customer.id'], name=op.f('fk_invoicing_document_customer_id_invoicing_customer'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['filed_node_id'], ['node.id'], name=op.f('fk_invoicing_document_filed_node_id_node'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_id'], ['invoicing_document.id'], name=op.f('fk_invoicing_document_source_id_invoicing_document'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_document')),
    sa.UniqueConstraint('company_id', 'number', name=op.f('uq_invoicing_document_company_id'))
    )
    with op.batch_alter_table('invoicing_document', schema=None) as batch_op:
        batch_op.create_index('ix_invoicing_document_company_kind_issue', ['company_id', 'kind', 'issue_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoicing_document_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoicing_document_source_id'), ['source_id'], unique=False)

    op.create_table('invoicing_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=50), nullable=False),
    sa.Column('designation', sa.String(length=500), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_price', sa.BigInteger(), nullable=False),
    sa.Column('discount', sa.BigInteger(), nullable=False),
    sa.Column('vat_rate', sa.BigInteger(), nullable=False),
    sa.Column('vat_exemption', sa.String(length=30), nullable=False),
    sa.Column('nature', sa.String(length=10), nullable=False),
    sa.Column('net', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['invoicing_article.id'], name=op.f('fk_invoicing_line_article_id_invoicing_article'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['document_id'], ['invoicing_document.id'], name=op.f('fk_invoicing_line_document_id_invoicing_document'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_line'))
    )
    with op.batch_alter_table('invoicing_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_line_document_id'), ['document_id'], unique=False)

    op.create_table('invoicing_payment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=30), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', UTCDateTime(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['invoicing_document.id'], name=op.f('fk_invoicing_payment_document_id_invoicing_document'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_invoicing_payment_recorded_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoicing_payment'))
    )
    with op.batch_alter_table('invoicing_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoicing_payment_document_id'), ['document_id'], unique=False)

    op.create_table('invoicing_profile',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('legal_form', sa.String(length=50), nullable=False),
    sa.Column('share_capital', sa.String(length=40), nullable=False),
    sa.Column('registry_kind', sa.String(length=10), nullable=False),
    sa.Column('registry_city', sa.String(length=100), nullable=False),
    sa.Column('siren', sa.String(length=14), nullable=False),
    sa.Column('vat_number', sa.String(length=20), nullable=False),
    sa.Column('address_line1', sa.String(length=200), nullable=False),
    sa.Column('address_line2', sa.String(length=200), nullable=False),
    sa.Column('postcode', sa.String(length=20), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=False),
    sa.Column('iban', sa.String(length=40), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=False),
    sa.Column('layout', sa.String(length=20), nullable=False),
    sa.Column('colour', sa.String(length=7), nullable=False),
    sa.Column('accent', sa.String(length=7), nullable=False),
    sa.Column('logo_sha256', sa.String(length=64), nullable=True),
    sa.Column('logo_type', sa.String(length=20), nullable=False),
    sa.Column('logo_position', sa.String(length=10), nullable=False),
    sa.Column('invoice_prefix', sa.String(length=30), nullable=False),
    sa.Column('quote_prefix', sa.String(length=30), nullable=False),
    sa.Column('credit_prefix', sa.String(length=30), nullable=False),
    sa.Column('payment_days', sa.Integer(), nullable=False),
    sa.Column('quote_days', sa.Integer(), nullable=False),
    sa.Column('payment_terms', sa.Text(), nullable=False),
    sa.Column('default_notes', sa.Text(), nullable=False),
    sa.Column('late_penalty', sa.String(length=200), nullable=False),
    sa.Column('discount_terms', sa.String(length=200), nullable=False),
    sa.Column('vat_franchise', sa.Boolean(), nullable=False),
    sa.Column('vat_on_debits', sa.Boolean(), nullable=False),
    sa.Column('reference_document_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_invoicing_profile_company_id_company'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reference_document_id'], ['invoicing_document.id'], name=op.f('fk_invoicing_profile_reference_document_id_invoicing_document'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('company_id', name=op.f('pk_invoicing_profile'))
    )
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment_name', sa.String(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('attachment_type', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('attachment_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sender_name', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('reply_to', sa.String(length=254), server_default='', nullable=False))
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_column('reply_to')
        batch_op.drop_column('sender_name')
        batch_op.drop_column('attachment_sha256')
        batch_op.drop_column('attachment_type')
        batch_op.drop_column('attachment_name')

    op.drop_table('invoicing_profile')
    with op.batch_alter_table('invoicing_payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoicing_payment_document_id'))

    op.drop_table('invoicing_payment')
    with op.batch_alter_table('invoicing_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoicing_line_document_id'))

    op.drop_table('invoicing_line')
    with op.batch_alter_table('invoicing_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoicing_document_source_id'))
        batch_op.drop_index(batch_op.f('ix_invoicing_document_customer_id'))
        batch_op.drop_index('ix_invoicing_document_company_kind_issue')

    op.drop_table('invoicing_document')
    op.drop_table('invoicing_series')
    with op.batch_alter_table('invoicing_customer', schema=None) as batch_op:
        batch_op.drop_index('ix_invoicing_customer_company_name')

    op.drop_table('invoicing_customer')
    with op.batch_alter_table('invoicing_article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoicing_article_company_id'))

    op.drop_table('invoicing_article')
