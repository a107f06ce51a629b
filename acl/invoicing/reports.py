"""The reports of a company's invoicing (seed 001: "Liste des Revenus, Liste des Dépenses,
Registre de TVA, Liste des Impayés"), for its users and, while it consents, for the firm.

Every figure is summed by the database over whole cents (`Scaled` columns, exact on SQLite
as on PostgreSQL) in a few grouped queries; Python only arranges the grouped rows. The sales
are read per document and per VAT rate (`sales_groups`), so that:

- a credit note counts against (its amounts are stated positive);
- a final invoice that deducts deposit invoices counts only what it adds to them: the
  deposits counted at their own date, their amounts are taken off at the final invoice's;
- the VAT of a rate is the taxable amount of the document at that rate × the rate, rounded
  half up to the cent once per document and rate, exactly as the document computed it
  (EN 16931, `acl.invoicing.amounts`), so the register adds up to the documents' VAT.

The VAT register is in `acl.invoicing.vat_register`; files and chart in `report_files` and
`chart`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from acl.errors import InvalidInput, NotFound
from acl.invoicing.models import (
    Customer,
    DocKind,
    DocStatus,
    DocumentLine,
    Expense,
    InvoicingDocument,
    Payment,
)
from acl.people.models import Company

SALES_KINDS = (DocKind.INVOICE.value, DocKind.DEPOSIT.value, DocKind.CREDIT_NOTE.value)
BUCKETS = ("non échu", "1 à 30 jours", "31 à 60 jours", "61 à 90 jours", "plus de 90 jours")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")
LIST_LIMIT = 500  # rows shown on a page (the files list them all); totals cover everything


def cents(column):
    return type_coerce(column, BigInteger)


def euros(value) -> Decimal:
    return (Decimal(int(value or 0)) / 100).quantize(Decimal("0.01"))


def sum_cents(expression):
    """SUM of cents, as a whole number (PostgreSQL's SUM of a bigint is a numeric, whose
    division would not be the integer one the rounding below relies on)."""
    return cast(func.coalesce(func.sum(expression), 0), BigInteger)


@dataclass(frozen=True)
class ReportFilters:
    """What a report covers: a period (issue dates, inclusive), a kind of document, its
    status, one customer, the customers of one country, months or quarters."""

    start: date | None = None
    end: date | None = None
    kind: str = ""
    status: str = ""
    customer_id: int | None = None
    country: str = ""
    by: str = "mois"  # or "trimestre"


def check_filters(session: Session, company: Company | None, filters: ReportFilters) -> None:
    if filters.start and filters.end and filters.end < filters.start:
        raise InvalidInput("La fin de la période précède son début.", field="end")
    if filters.kind and filters.kind not in SALES_KINDS:
        raise InvalidInput("Type de document inconnu.", field="kind")
    if filters.status and filters.status not in {s.value for s in DocStatus}:
        raise InvalidInput("État de document inconnu.", field="status")
    if filters.customer_id is not None:
        customer = session.get(Customer, filters.customer_id)
        if customer is None or company is None or customer.company_id != company.id:
            raise NotFound("Client introuvable.")
    if filters.by not in ("mois", "trimestre"):
        raise InvalidInput("Regroupement inconnu : par mois ou par trimestre.", field="by")


def _document_conditions(document, company: Company, filters: ReportFilters) -> list:
    conditions = [document.company_id == company.id, document.number.is_not(None),
                  document.kind.in_(SALES_KINDS)]
    if filters.kind:
        conditions.append(document.kind == filters.kind)
    if filters.status:
        conditions.append(document.status == filters.status)
    if filters.customer_id is not None:
        conditions.append(document.customer_id == filters.customer_id)
    if filters.country:
        conditions.append(document.customer_id.in_(
            select(Customer.id).where(Customer.company_id == company.id,
                                      Customer.country == filters.country.upper())))
    return conditions


def sales_groups(company: Company, filters: ReportFilters):
    """One row per issued document (or deposit deducted) and VAT rate: the document (`doc`),
    the invoice it settles into (`account`: a credit note's invoice, a deduction's final
    invoice), its date, customer, sign, rate (hundredths of a percent), taxable amount and
    VAT (cents, stated positive), whatever the period (the callers choose the dates)."""
    own, line = aliased(InvoicingDocument), aliased(DocumentLine)
    is_credit = own.kind == DocKind.CREDIT_NOTE.value
    own_rows = select(
        own.id.label("doc"),
        case((is_credit, own.source_id), else_=own.id).label("account"),
        own.issue_date.label("day"), own.customer_id.label("customer_id"),
        case((is_credit, -1), else_=1).label("sign"),
        cents(line.vat_rate).label("rate"),
        sum_cents(cents(line.net)).label("taxable"),
    ).join(line, line.document_id == own.id).where(
        *_document_conditions(own, company, filters)).group_by(
        own.id, own.source_id, own.kind, own.issue_date, own.customer_id, line.vat_rate)
    final, deposit, line2 = (aliased(InvoicingDocument), aliased(InvoicingDocument),
                             aliased(DocumentLine))
    deducted = select(
        deposit.id.label("doc"), final.id.label("account"),
        final.issue_date.label("day"), final.customer_id.label("customer_id"),
        literal(-1).label("sign"), cents(line2.vat_rate).label("rate"),
        sum_cents(cents(line2.net)).label("taxable"),
    ).join(deposit, and_(deposit.source_id == final.source_id,
                         deposit.kind == DocKind.DEPOSIT.value,
                         deposit.number.is_not(None), deposit.company_id == company.id,
                         deposit.issued_at <= final.issued_at)) \
        .join(line2, line2.document_id == deposit.id).where(
        *_document_conditions(final, company, filters), final.kind == DocKind.INVOICE.value,
        final.source_id.is_not(None), cents(final.prepaid) > 0).group_by(
        deposit.id, final.id, final.issue_date, final.customer_id, line2.vat_rate)
    rows = union_all(own_rows, deducted).cte("sales")
    # EN 16931: the VAT of a rate, rounded half up once per document and rate.
    vat = (rows.c.taxable * rows.c.rate + 5000) // 10000
    return rows, vat


def _in_period(column, filters: ReportFilters) -> list:
    conditions = []
    if filters.start is not None:
        conditions.append(column >= filters.start)
    if filters.end is not None:
        conditions.append(column <= filters.end)
    return conditions


def month_label(year: int, month: int) -> str:
    return f"{MONTHS[month - 1]} {year}"


# -- Revenue --

@dataclass
class Figures:
    ht: Decimal = Decimal("0.00")
    vat: Decimal = Decimal("0.00")

    @property
    def ttc(self) -> Decimal:
        return self.ht + self.vat


@dataclass
class Revenue:
    total: Figures
    by_customer: list[tuple[str, Figures]]
    by_month: list[tuple[str, Figures]]
    documents: list[InvoicingDocument]
    names: dict[int, str]
    deposits_deducted: Figures
    count: int = 0


def revenue(session: Session, company: Company, filters: ReportFilters, *,
            limit: int | None = LIST_LIMIT) -> Revenue:
    rows, vat = sales_groups(company, filters)
    period = _in_period(rows.c.day, filters)
    ht = sum_cents(rows.c.sign * rows.c.taxable)
    tax = sum_cents(rows.c.sign * vat)
    total = session.execute(select(ht, tax).where(*period)).one()
    deducted = session.execute(select(ht, tax).where(
        *period, rows.c.doc != rows.c.account, rows.c.sign == -1,
        rows.c.doc.in_(select(InvoicingDocument.id).where(
            InvoicingDocument.kind == DocKind.DEPOSIT.value)))).one()
    by_customer = [(name or "(sans client)", Figures(euros(a), euros(b)))
                   for name, a, b in session.execute(
        select(Customer.name, ht, tax).select_from(rows)
        .outerjoin(Customer, Customer.id == rows.c.customer_id).where(*period)
        .group_by(Customer.id, Customer.name).order_by(ht.desc()))]
    year, month = extract("year", rows.c.day), extract("month", rows.c.day)
    by_month = [(month_label(int(y), int(m)), Figures(euros(a), euros(b)))
                for y, m, a, b in session.execute(
        select(year, month, ht, tax).where(*period).group_by(year, month)
        .order_by(year, month))]
    listed = select(InvoicingDocument).where(
        *_document_conditions(InvoicingDocument, company, filters),
        *_in_period(InvoicingDocument.issue_date, filters))
    count = session.scalar(select(func.count()).select_from(listed.subquery()))
    documents = list(session.scalars(listed.order_by(
        InvoicingDocument.issue_date, InvoicingDocument.number).limit(limit)))
    from acl.invoicing.documents import customers_named

    return Revenue(Figures(euros(total[0]), euros(total[1])), by_customer, by_month,
                   documents, customers_named(session, documents),
                   Figures(euros(deducted[0]), euros(deducted[1])), count)


# -- Expenses --

@dataclass
class Expenses:
    total: Figures
    by_supplier: list[tuple[str, Figures]]
    by_category: list[tuple[str, Figures]]
    by_month: list[tuple[str, Figures]]
    rows: list[Expense]
    count: int = 0


def expenses_report(session: Session, company: Company, filters: ReportFilters, *,
                    limit: int | None = LIST_LIMIT) -> Expenses:
    conditions = [Expense.company_id == company.id,
                  *_in_period(Expense.issue_date, filters)]
    ht, tax = sum_cents(cents(Expense.total_ht)), sum_cents(cents(Expense.total_vat))

    def grouped(*keys):
        return session.execute(select(*keys, ht, tax).where(*conditions).group_by(*keys)
                               .order_by(ht.desc() if len(keys) == 1 else keys[0]))
    total = session.execute(select(func.count(), ht, tax).where(*conditions)).one()
    year, month = extract("year", Expense.issue_date), extract("month", Expense.issue_date)
    by_month = [(month_label(int(y), int(m)), Figures(euros(a), euros(b)))
                for y, m, a, b in session.execute(
        select(year, month, ht, tax).where(*conditions).group_by(year, month)
        .order_by(year, month))]
    return Expenses(
        Figures(euros(total[1]), euros(total[2])),
        [(name, Figures(euros(a), euros(b))) for name, a, b in grouped(Expense.supplier)],
        [(name, Figures(euros(a), euros(b))) for name, a, b in grouped(Expense.category)],
        by_month,
        list(session.scalars(select(Expense).where(*conditions).order_by(
            Expense.issue_date, Expense.id).limit(limit))), total[0])


# -- Unpaid --

@dataclass
class UnpaidRow:
    document_id: int
    number: str
    customer: str
    issue_date: date
    due_date: date | None
    total_ttc: Decimal
    left: Decimal
    days_late: int
    bucket: str


@dataclass
class Unpaid:
    rows: list[UnpaidRow]
    buckets: dict[str, Decimal]
    by_customer: list[tuple[str, dict[str, Decimal], Decimal]]
    total: Decimal
    count: int = 0
    today: date = field(default_factory=date.today)


def unpaid(session: Session, company: Company, filters: ReportFilters,
           today: date | None = None, *, limit: int | None = LIST_LIMIT) -> Unpaid:
    """Issued invoices not fully paid on `today`: what is left (total less deposits deducted,
    credit notes and payments), days late, ageing bucket; by customer."""
    today = today or date.today()
    credit = aliased(InvoicingDocument)
    credited = select(credit.source_id.label("id"),
                      sum_cents(cents(credit.total_ttc)).label("amount")).where(
        credit.company_id == company.id, credit.kind == DocKind.CREDIT_NOTE.value,
        credit.number.is_not(None), credit.issue_date <= today).group_by(
        credit.source_id).subquery()
    paid = select(Payment.document_id.label("id"),
                  sum_cents(cents(Payment.amount)).label("amount")).where(
        Payment.paid_on <= today).group_by(Payment.document_id).subquery()
    document = InvoicingDocument
    # What is left on `today`: deposits deducted, credit notes and payments up to that day.
    left = (cents(document.total_ttc) - cents(document.prepaid)
            - func.coalesce(credited.c.amount, 0) - func.coalesce(paid.c.amount, 0))
    kind_filter = filters if filters.kind in ("", DocKind.INVOICE.value,
                                              DocKind.DEPOSIT.value) else None
    if kind_filter is None:
        return Unpaid([], dict.fromkeys(BUCKETS, Decimal("0.00")), [], Decimal("0.00"), 0, today)
    conditions = [*_document_conditions(document, company, filters),
                  document.kind.in_((DocKind.INVOICE.value, DocKind.DEPOSIT.value)),
                  *_in_period(document.issue_date, filters), document.issue_date <= today,
                  left > 0]
    bounds = [today - timedelta(days=d) for d in (0, 30, 60, 90)]
    due = func.coalesce(document.due_date, document.issue_date)
    bucket = case((due >= bounds[0], 0), (due >= bounds[1], 1), (due >= bounds[2], 2),
                  (due >= bounds[3], 3), else_=4)
    base = select(document.id).outerjoin(credited, credited.c.id == document.id) \
        .outerjoin(paid, paid.c.id == document.id)
    per_bucket = [sum_cents(case((bucket == i, left), else_=0)) for i in range(len(BUCKETS))]
    totals = session.execute(base.with_only_columns(func.count(), *per_bucket)
                             .where(*conditions)).one()
    by_customer = [(name or "(sans client)", dict(zip(BUCKETS, map(euros, amounts),
                                                      strict=True)), euros(sum(amounts)))
                   for name, *amounts in session.execute(
        base.with_only_columns(Customer.name, *per_bucket)
        .outerjoin(Customer, Customer.id == document.customer_id).where(*conditions)
        .group_by(Customer.id, Customer.name).order_by(Customer.name))]
    rows = []
    for doc_id, number, name, issued, due_date, ttc, owed, index in session.execute(
            base.with_only_columns(document.id, document.number, Customer.name,
                                   document.issue_date, document.due_date,
                                   cents(document.total_ttc), left, bucket)
            .outerjoin(Customer, Customer.id == document.customer_id).where(*conditions)
            .order_by(due, document.number).limit(limit)):
        late = max(0, (today - (due_date or issued)).days)
        rows.append(UnpaidRow(doc_id, number, name or "", issued, due_date, euros(ttc),
                              euros(owed), late, BUCKETS[index]))
    buckets = dict(zip(BUCKETS, map(euros, totals[1:]), strict=True))
    return Unpaid(rows, buckets, by_customer, sum(buckets.values(), Decimal("0.00")),
                  totals[0], today)


# -- Twelve months, for the chart --

def twelve_months(session: Session, company: Company, today: date | None = None
                  ) -> list[tuple[str, Decimal, Decimal]]:
    """(month, revenue HT, expenses HT) for the twelve months ending with this one."""
    today = today or date.today()
    first = date(today.year - (1 if today.month < 12 else 0), today.month % 12 + 1, 1)
    filters = ReportFilters(start=first, end=today)
    sales = {label: figures.ht for label, figures in
             revenue_by_month(session, company, filters)}
    spent = {label: figures.ht for label, figures in
             expenses_report(session, company, filters).by_month}
    months = []
    year, month = first.year, first.month
    for _ in range(12):
        label = month_label(year, month)
        months.append((label, sales.get(label, Decimal(0)), spent.get(label, Decimal(0))))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def revenue_by_month(session: Session, company: Company, filters: ReportFilters
                     ) -> list[tuple[str, Figures]]:
    rows, vat = sales_groups(company, filters)
    year, month = extract("year", rows.c.day), extract("month", rows.c.day)
    return [(month_label(int(y), int(m)), Figures(euros(a), euros(b)))
            for y, m, a, b in session.execute(
        select(year, month, sum_cents(rows.c.sign * rows.c.taxable),
               sum_cents(rows.c.sign * vat)).where(*_in_period(rows.c.day, filters))
        .group_by(year, month).order_by(year, month))]
