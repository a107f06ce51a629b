"""A company's invoicing space: its settings (the seller it is), customers, articles, quotes,
invoices, deposit invoices and credit notes, their lines and payments, and the numbering
series. Private to the company: cabinet staff see none of it (`acl.invoicing.access`).

Amounts are exact: money is stored as whole cents, quantities and unit prices as
ten-thousandths, VAT rates as hundredths of a percent (`Scaled`), so that SQLite, which has
no decimal type, sums them as exactly as PostgreSQL; Python sees `Decimal`.

An issued document (it has a number) is frozen by the database itself, as the audit log is:
triggers refuse any change of what it says (migration 0010), and any change of its lines.
Only its state moves on: sent, paid, accepted, invoiced, filed with the accountant.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from acl.db import Base, UTCDateTime, utcnow
from acl.documents import models as _documents  # noqa: F401  (the tables the keys point at)


class Scaled(TypeDecorator):
    """A `Decimal` stored as a whole number of 10^-places units: exact on every database."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, places: int) -> None:
        super().__init__()
        self.places = places
        self.factor = Decimal(10) ** places

    def process_bind_param(self, value: Decimal | None, dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value) * self.factor
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(scaled)

    def process_result_value(self, value: int | None, dialect) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(value) / self.factor).quantize(Decimal(1).scaleb(-self.places))


def Money() -> Scaled:  # noqa: N802 - reads as a type
    return Scaled(2)


class DocKind(enum.StrEnum):
    QUOTE = "devis"
    INVOICE = "facture"
    DEPOSIT = "acompte"  # a deposit invoice (UNTDID 1001: 386)
    CREDIT_NOTE = "avoir"

    @property
    def label(self) -> str:
        return {"devis": "Devis", "facture": "Facture", "acompte": "Facture d'acompte",
                "avoir": "Avoir"}[self.value]

    @property
    def is_invoice(self) -> bool:
        """An invoice, a deposit invoice or a credit note: a document of the accounts."""
        return self != DocKind.QUOTE


class DocStatus(enum.StrEnum):
    DRAFT = "brouillon"
    ISSUED = "émis"
    SENT = "envoyé"
    PAID = "payé"
    ACCEPTED = "accepté"  # a quote, "bon pour accord"
    REFUSED = "refusé"  # a quote
    INVOICED = "facturé"  # a quote turned into an invoice


class Layout(enum.StrEnum):
    CLASSIC = "classique"
    BANNER = "bandeau"
    SOBER = "épuré"


class Nature(enum.StrEnum):
    GOODS = "bien"
    SERVICE = "service"


class CustomerKind(enum.StrEnum):
    PROFESSIONAL = "professionnel"
    PRIVATE = "particulier"


class InvoicingProfile(Base):
    """The company as the seller of its documents, and how they look."""

    __tablename__ = "invoicing_profile"
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"),
                                            primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    legal_form: Mapped[str] = mapped_column(String(50), default="")
    share_capital: Mapped[str] = mapped_column(String(40), default="")  # "10 000 €"
    registry_kind: Mapped[str] = mapped_column(String(10), default="")  # "RCS", "RM" or ""
    registry_city: Mapped[str] = mapped_column(String(100), default="")
    siren: Mapped[str] = mapped_column(String(14), default="")  # SIREN or SIRET
    vat_number: Mapped[str] = mapped_column(String(20), default="")
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    iban: Mapped[str] = mapped_column(String(40), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    layout: Mapped[str] = mapped_column(String(20), default=Layout.CLASSIC.value)
    colour: Mapped[str] = mapped_column(String(7), default="#1f4e79")
    accent: Mapped[str] = mapped_column(String(7), default="#e8eef5")
    logo_sha256: Mapped[str | None] = mapped_column(
        String(64), nullable=True, info={"blob": "logo de facturation de l'entreprise"})
    logo_type: Mapped[str] = mapped_column(String(20), default="")
    logo_position: Mapped[str] = mapped_column(String(10), default="gauche")
    invoice_prefix: Mapped[str] = mapped_column(String(30), default="F-{année}-")
    quote_prefix: Mapped[str] = mapped_column(String(30), default="D-{année}-")
    credit_prefix: Mapped[str] = mapped_column(String(30), default="AV-{année}-")
    payment_days: Mapped[int] = mapped_column(Integer, default=30)
    quote_days: Mapped[int] = mapped_column(Integer, default=30)
    payment_terms: Mapped[str] = mapped_column(Text, default="")
    default_notes: Mapped[str] = mapped_column(Text, default="")
    late_penalty: Mapped[str] = mapped_column(
        String(200), default="taux d'intérêt de la BCE majoré de 10 points")
    discount_terms: Mapped[str] = mapped_column(
        String(200), default="pas d'escompte pour paiement anticipé")
    vat_franchise: Mapped[bool] = mapped_column(Boolean, default=False)  # art. 293 B du CGI
    vat_on_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    reference_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoicing_document.id", ondelete="SET NULL"), nullable=True)


class Customer(Base):
    __tablename__ = "invoicing_customer"
    __table_args__ = (Index("ix_invoicing_customer_company_name", "company_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=CustomerKind.PROFESSIONAL.value)
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    delivery_line1: Mapped[str] = mapped_column(String(200), default="")  # "" = the same
    delivery_line2: Mapped[str] = mapped_column(String(200), default="")
    delivery_postcode: Mapped[str] = mapped_column(String(20), default="")
    delivery_city: Mapped[str] = mapped_column(String(100), default="")
    delivery_country: Mapped[str] = mapped_column(String(2), default="")
    siren: Mapped[str] = mapped_column(String(14), default="")  # SIREN or SIRET
    vat_number: Mapped[str] = mapped_column(String(20), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    payment_days: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: default
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Article(Base):
    __tablename__ = "invoicing_article"
    __table_args__ = (UniqueConstraint("company_id", "reference"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"),
                                            index=True)
    reference: Mapped[str] = mapped_column(String(50))
    designation: Mapped[str] = mapped_column(String(500))
    unit: Mapped[str] = mapped_column(String(20), default="unité")
    unit_price: Mapped[Decimal] = mapped_column(Scaled(4), default=Decimal(0))
    vat_rate: Mapped[Decimal] = mapped_column(Scaled(2), default=Decimal(20))
    vat_exemption: Mapped[str] = mapped_column(String(30), default="")  # a rate of 0
    nature: Mapped[str] = mapped_column(String(10), default=Nature.SERVICE.value)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class InvoicingDocument(Base):
    """A quote, an invoice, a deposit invoice or a credit note. A draft has no number and
    follows its customer; issued, it keeps in `seller` and `buyer` (JSON) what it said."""

    __tablename__ = "invoicing_document"
    __table_args__ = (
        UniqueConstraint("company_id", "number"),
        Index("ix_invoicing_document_company_kind_issue", "company_id", "kind", "issue_date"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default=DocStatus.DRAFT.value)
    number: Mapped[str | None] = mapped_column(String(40), nullable=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoicing_customer.id", ondelete="SET NULL"), nullable=True, index=True)
    issue_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    service_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # quote: valid until
    purchase_order: Mapped[str] = mapped_column(String(100), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    payment_terms: Mapped[str] = mapped_column(Text, default="")
    # What the document said of its parties, frozen at issue (JSON).
    seller: Mapped[str] = mapped_column(Text, default="")
    buyer: Mapped[str] = mapped_column(Text, default="")
    total_ht: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    total_vat: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    total_ttc: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    prepaid: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))  # deposits deducted
    # The quote an invoice comes from, the invoice a credit note corrects, the quote a
    # deposit invoice is taken on.
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoicing_document.id", ondelete="RESTRICT"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Filed in the company's Ventes folder for the accountant (the document node).
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    filed_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="SET NULL"), nullable=True)

    lines: Mapped[list[DocumentLine]] = relationship(
        order_by="DocumentLine.position", cascade="all, delete-orphan",
        back_populates="document")
    payments: Mapped[list[Payment]] = relationship(
        order_by="Payment.paid_on", cascade="all, delete-orphan", back_populates="document")

    @property
    def kind_enum(self) -> DocKind:
        return DocKind(self.kind)

    @property
    def status_enum(self) -> DocStatus:
        return DocStatus(self.status)

    @property
    def is_draft(self) -> bool:
        return self.number is None


class DocumentLine(Base):
    __tablename__ = "invoicing_line"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("invoicing_document.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    article_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoicing_article.id", ondelete="SET NULL"), nullable=True)
    reference: Mapped[str] = mapped_column(String(50), default="")
    designation: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Scaled(4))
    unit: Mapped[str] = mapped_column(String(20), default="unité")
    unit_price: Mapped[Decimal] = mapped_column(Scaled(4))
    discount: Mapped[Decimal] = mapped_column(Scaled(2), default=Decimal(0))  # percent
    vat_rate: Mapped[Decimal] = mapped_column(Scaled(2))
    vat_exemption: Mapped[str] = mapped_column(String(30), default="")
    nature: Mapped[str] = mapped_column(String(10), default=Nature.SERVICE.value)
    net: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))

    document: Mapped[InvoicingDocument] = relationship(back_populates="lines")


class Payment(Base):
    __tablename__ = "invoicing_payment"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(
        ForeignKey("invoicing_document.id", ondelete="RESTRICT"), index=True)
    paid_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money())
    method: Mapped[str] = mapped_column(String(30))
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    document: Mapped[InvoicingDocument] = relationship(back_populates="payments")


class NumberSeries(Base):
    """The last number given in a series (a company's resolved prefix, "F-2026-"), and the
    issue date it was given on: numbers follow each other without a gap, dates never go
    back."""

    __tablename__ = "invoicing_series"
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"),
                                            primary_key=True)
    prefix: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
    last_issue_date: Mapped[date | None] = mapped_column(Date, nullable=True)


class Expense(Base):
    """A purchase invoice the company recorded (dépense): typed, imported, or confirmed from an
    e-invoice received in Achats. Its VAT per rate is in `ExpenseVat`; `node_id` is the
    document in Achats it comes with (the document's page finds it back by this key)."""

    __tablename__ = "invoicing_expense"
    __table_args__ = (Index("ix_invoicing_expense_company_issue", "company_id", "issue_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    supplier: Mapped[str] = mapped_column(String(200))
    supplier_vat: Mapped[str] = mapped_column(String(20), default="")
    number: Mapped[str] = mapped_column(String(60), default="")
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    category: Mapped[str] = mapped_column(String(60), default="")
    paid_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    total_ht: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    total_vat: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    total_ttc: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    origin: Mapped[str] = mapped_column(String(30), default="saisie")
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="SET NULL"), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    vat_lines: Mapped[list[ExpenseVat]] = relationship(
        order_by="ExpenseVat.rate.desc()", cascade="all, delete-orphan",
        back_populates="expense")


class ExpenseVat(Base):
    """One VAT rate of an expense: the amount without VAT at that rate and its VAT."""

    __tablename__ = "invoicing_expense_vat"
    id: Mapped[int] = mapped_column(primary_key=True)
    expense_id: Mapped[int] = mapped_column(
        ForeignKey("invoicing_expense.id", ondelete="CASCADE"), index=True)
    rate: Mapped[Decimal] = mapped_column(Scaled(2))
    taxable: Mapped[Decimal] = mapped_column(Money())
    vat: Mapped[Decimal] = mapped_column(Money())

    expense: Mapped[Expense] = relationship(back_populates="vat_lines")


class ReceivedState(enum.StrEnum):
    PROPOSED = "à confirmer"
    CONFIRMED = "confirmée"
    DISMISSED = "écartée"
    UNREADABLE = "illisible"


class ReceivedInvoice(Base):
    """An e-invoice (Factur-X PDF, UBL or CII XML) found in a deposit into Achats: what was
    read of it (`data`, JSON: a pre-filled expense to confirm), or why it could not be
    read (`problem`)."""

    __tablename__ = "invoicing_received"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"),
                                            index=True)
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="SET NULL"), nullable=True, index=True)
    name: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(20), default=ReceivedState.PROPOSED.value)
    problem: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[str] = mapped_column(Text, default="")
    expense_id: Mapped[int | None] = mapped_column(
        ForeignKey("invoicing_expense.id", ondelete="SET NULL"), nullable=True)
    found_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
