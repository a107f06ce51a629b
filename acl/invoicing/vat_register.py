"""The VAT register: collected VAT (sales) and deductible VAT (purchases) by rate, by month
or quarter, and the net amount due — the figures of a CA3 (monthly or quarterly) or CA12
return.

VAT on debits (the company's option, `InvoicingProfile.vat_on_debits`) counts a sale at its
invoice's date (a credit note at its own, against; a deduction of deposits at the final
invoice's); VAT on receipts (the default for services in France) counts it when paid: each
payment carries the share of VAT of what it settles — per rate, the payment × the invoice's
VAT at that rate ÷ what the invoice asks in all (its credit notes and deposits deducted),
rounded half up to the cent. Purchases: deductible at the
supplier's invoice date on debits, at its payment date on receipts (an expense not paid yet
is not deductible yet).

Everything is summed by the database over cents (`acl.invoicing.reports.sales_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import BigInteger, cast, extract, func, select
from sqlalchemy.orm import Session

from acl.invoicing.amounts import format_rate
from acl.invoicing.models import Expense, ExpenseVat, Payment
from acl.invoicing.profile import profile_of
from acl.invoicing.reports import (
    MONTHS,
    ReportFilters,
    _in_period,
    cents,
    euros,
    sales_groups,
    sum_cents,
)
from acl.people.models import Company

ZERO = Decimal("0.00")


@dataclass
class RateLine:
    rate: Decimal
    base: Decimal = ZERO
    vat: Decimal = ZERO

    @property
    def label(self) -> str:
        return f"{format_rate(self.rate)} %"


@dataclass
class VatPeriod:
    label: str
    key: tuple[int, int]
    collected: dict[Decimal, RateLine] = field(default_factory=dict)
    deductible: dict[Decimal, RateLine] = field(default_factory=dict)

    @property
    def collected_vat(self) -> Decimal:
        return sum((line.vat for line in self.collected.values()), ZERO)

    @property
    def deductible_vat(self) -> Decimal:
        return sum((line.vat for line in self.deductible.values()), ZERO)

    @property
    def net_due(self) -> Decimal:
        """Positive: VAT to pay; negative: a credit of VAT."""
        return self.collected_vat - self.deductible_vat


@dataclass
class VatRegister:
    on_debits: bool
    by: str
    periods: list[VatPeriod]
    total: VatPeriod

    @property
    def basis(self) -> str:
        return "TVA sur les débits" if self.on_debits else "TVA sur les encaissements"


def _add(target: dict[Decimal, RateLine], rate_hundredths: int, base: int, vat: int) -> None:
    rate = (Decimal(int(rate_hundredths)) / 100).quantize(Decimal("0.01"))
    line = target.setdefault(rate, RateLine(rate))
    line.base += euros(base)
    line.vat += euros(vat)


def _period_key(year: int, month: int, by: str) -> tuple[tuple[int, int], str]:
    if by == "trimestre":
        quarter = (month - 1) // 3 + 1
        return (year, quarter), f"T{quarter} {year}"
    return (year, month), f"{MONTHS[month - 1]} {year}"


def register(session: Session, company: Company, filters: ReportFilters,
             on_debits: bool | None = None) -> VatRegister:
    if on_debits is None:
        on_debits = profile_of(session, company).vat_on_debits
    periods: dict[tuple[int, int], VatPeriod] = {}

    def period(year, month) -> VatPeriod:
        key, label = _period_key(int(year), int(month), filters.by)
        return periods.setdefault(key, VatPeriod(label, key))

    for year, month, rate, base, vat in _collected(session, company, filters, on_debits):
        _add(period(year, month).collected, rate, base, vat)
    for year, month, rate, base, vat in _deductible(session, company, filters, on_debits):
        _add(period(year, month).deductible, rate, base, vat)
    ordered = [periods[key] for key in sorted(periods)]
    total = VatPeriod("Total de la période", (0, 0))
    for part in ordered:
        for side in ("collected", "deductible"):
            for rate, line in getattr(part, side).items():
                summed = getattr(total, side).setdefault(rate, RateLine(rate))
                summed.base += line.base
                summed.vat += line.vat
    return VatRegister(on_debits, filters.by, ordered, total)


def _collected(session: Session, company: Company, filters: ReportFilters, on_debits: bool):
    rows, vat = sales_groups(company, ReportFilters(
        kind=filters.kind, status=filters.status, customer_id=filters.customer_id,
        country=filters.country))
    if on_debits:
        year, month = extract("year", rows.c.day), extract("month", rows.c.day)
        return session.execute(
            select(year, month, rows.c.rate, sum_cents(rows.c.sign * rows.c.taxable),
                   sum_cents(rows.c.sign * vat)).where(*_in_period(rows.c.day, filters))
            .group_by(year, month, rows.c.rate))
    # On receipts: what each invoice asks per rate and in all, net of credit notes and of
    # deposits deducted, then each payment's share of it.
    per_rate = select(rows.c.account, rows.c.rate,
                      sum_cents(rows.c.sign * rows.c.taxable).label("base"),
                      sum_cents(rows.c.sign * vat).label("vat")) \
        .group_by(rows.c.account, rows.c.rate).subquery("per_rate")
    # What the invoice asks in all, beside each rate (a window: no join of two derived
    # tables, which SQLite would do row by row).
    by_rate = select(per_rate, func.sum(per_rate.c.base + per_rate.c.vat).over(
        partition_by=per_rate.c.account).label("ttc")).cte("by_rate")
    year, month = extract("year", Payment.paid_on), extract("month", Payment.paid_on)
    asked, paid = cast(by_rate.c.ttc, BigInteger), cents(Payment.amount)

    def share(part):  # half up, on positive amounts
        return (2 * paid * part + asked) // (2 * asked)
    # Each payment is found by the index on its document: the derived table is read once.
    return session.execute(
        select(year, month, by_rate.c.rate, sum_cents(share(by_rate.c.base)),
               sum_cents(share(by_rate.c.vat)))
        .select_from(by_rate).join(Payment, Payment.document_id == by_rate.c.account)
        .where(asked > 0, *_in_period(Payment.paid_on, filters))
        .group_by(year, month, by_rate.c.rate))


def _deductible(session: Session, company: Company, filters: ReportFilters, on_debits: bool):
    day = Expense.issue_date if on_debits else Expense.paid_on
    year, month = extract("year", day), extract("month", day)
    return session.execute(
        select(year, month, cents(ExpenseVat.rate), sum_cents(cents(ExpenseVat.taxable)),
               sum_cents(cents(ExpenseVat.vat)))
        .join(Expense, Expense.id == ExpenseVat.expense_id)
        .where(Expense.company_id == company.id, day.is_not(None),
               *_in_period(day, filters))
        .group_by(year, month, ExpenseVat.rate))
