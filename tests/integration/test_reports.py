"""The reports add up (issue 18, item 3): invoices, a credit note, partial payments and
expenses across two VAT rates and the boundary of the first and second quarters of 2026,
every total checked against figures computed by hand (below, next to each number), on VAT
on debits and on receipts; the filters and their refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from support import invoicing as inv

from acl.errors import InvalidInput, NotFound
from acl.invoicing import documents, expenses, reports, vat_register
from acl.invoicing.documents import DraftInput, LineInput
from acl.invoicing.expenses import ExpenseInput, VatInput
from acl.invoicing.reports import ReportFilters

TODAY = date(2026, 6, 30)
H1 = ReportFilters(start=date(2026, 1, 1), end=date(2026, 6, 30), by="trimestre")


def _invoice(s, space, day: str, *lines: tuple[str, str]):
    document = inv.draft(s, space, lines=[
        LineInput(f"Prestation {i}", "1", "forfait", price, rate)
        for i, (price, rate) in enumerate(lines, start=1)], issue_date=day)
    return documents.issue(s, space.company(s), document, today=TODAY)


@pytest.fixture
def books(demo):
    """A: 1 000 @ 20 % + 200 @ 5,5 % on 10/03 (VAT 200 + 11, TTC 1 411);
    B: 333,33 @ 20 % + 100 @ 5,5 % on 25/03 (VAT 66,67 + 5,50, TTC 505,50);
    C: credit note on A, 100 @ 20 % on 05/04 (VAT 20, TTC 120);
    D: 500 @ 5,5 % on 20/04 (VAT 27,50, TTC 527,50).
    Payments: A 600 on 31/03 and 500 on 15/04; B 505,50 on 10/04; D 200 on 05/05.
    Expenses: E1 300 @ 20 % (VAT 60) of 15/03 paid 02/04; E2 100 @ 5,5 % (5,50) + 50 @ 20 %
    (10) of 08/04, unpaid."""
    with demo.transaction() as s:
        space = inv.set_up(s)
        company = space.company(s)
        a = _invoice(s, space, "10/03/2026", ("1000", "20"), ("200", "5,5"))
        b = _invoice(s, space, "25/03/2026", ("333,33", "20"), ("100", "5,5"))
        note = documents.credit_note_for(s, company, a, None)
        documents.save_draft(s, company, note, DraftInput(
            customer_id=str(space.customer_id), issue_date="05/04/2026",
            lines=[LineInput("Prestation 1", "1", "forfait", "100", "20")]))
        documents.issue(s, company, note, today=TODAY)
        d = _invoice(s, space, "20/04/2026", ("500", "5,5"))
        for document, day, amount in [(a, "31/03/2026", "600"), (a, "15/04/2026", "500"),
                                      (b, "10/04/2026", "505,50"), (d, "05/05/2026", "200")]:
            documents.record_payment(s, document, paid_on=day, amount=amount,
                                     method="virement")
        expenses.create(s, company, ExpenseInput(
            supplier="Pièces Auto", issue_date="15/03/2026", paid_on="02/04/2026",
            category="fournitures", lines=[VatInput("20", "300", "60")]))
        expenses.create(s, company, ExpenseInput(
            supplier="Énergie Sud", issue_date="08/04/2026", category="énergie",
            lines=[VatInput("5,5", "100", "5,50"), VatInput("20", "50", "10")]))
        assert (a.total_vat, b.total_vat, note.total_vat, d.total_vat) == (
            D("211.00"), D("72.17"), D("20.00"), D("27.50"))
        return space


def _lines(part) -> dict[str, tuple[D, D]]:
    return {line.label: (line.base, line.vat) for line in part.values()}


def test_vat_register_on_debits_by_quarter(demo, books):
    with demo.session() as s:
        found = vat_register.register(s, books.company(s), H1, on_debits=True)
    q1, q2 = found.periods
    assert (q1.label, q2.label) == ("T1 2026", "T2 2026")
    # Q1: A and B. 20 %: 1 000 + 333,33; VAT 200 + 66,67. 5,5 %: 200 + 100; VAT 11 + 5,50.
    assert _lines(q1.collected) == {"20 %": (D("1333.33"), D("266.67")),
                                    "5,5 %": (D("300.00"), D("16.50"))}
    assert _lines(q1.deductible) == {"20 %": (D("300.00"), D("60.00"))}  # E1 by its date
    assert (q1.collected_vat, q1.deductible_vat, q1.net_due) == (
        D("283.17"), D("60.00"), D("223.17"))
    # Q2: C against (-100 / -20) at 20 %, D at 5,5 % (500 / 27,50); E2 deductible.
    assert _lines(q2.collected) == {"20 %": (D("-100.00"), D("-20.00")),
                                    "5,5 %": (D("500.00"), D("27.50"))}
    assert _lines(q2.deductible) == {"20 %": (D("50.00"), D("10.00")),
                                     "5,5 %": (D("100.00"), D("5.50"))}
    assert (q2.collected_vat, q2.deductible_vat, q2.net_due) == (
        D("7.50"), D("15.50"), D("-8.00"))
    # The half year: the VAT of the documents (211 + 72,17 - 20 + 27,50) less 75,50.
    assert found.total.collected_vat == D("290.67")
    assert found.total.net_due == D("215.17")


def test_vat_register_on_receipts_by_quarter(demo, books):
    """What A asks, net of C: 20 %: 900 / 180; 5,5 %: 200 / 11; in all 1 291.
    600 paid on 31/03: 20 %: 600 × 900 / 1 291 = 418,28 (VAT 600 × 180 / 1 291 = 83,66);
    5,5 %: 92,95 (VAT 5,11). 500 on 15/04: 348,57 (69,71) and 77,46 (4,26). B whole on
    10/04: 333,33 (66,67) and 100 (5,50). 200 of D's 527,50 on 05/05: 189,57 (10,43).
    Purchases when paid: E1 on 02/04 (Q2); E2 not paid."""
    with demo.session() as s:
        found = vat_register.register(s, books.company(s), H1, on_debits=False)
    q1, q2 = found.periods
    assert _lines(q1.collected) == {"20 %": (D("418.28"), D("83.66")),
                                    "5,5 %": (D("92.95"), D("5.11"))}
    assert q1.deductible == {} and q1.net_due == D("88.77")
    assert _lines(q2.collected) == {"20 %": (D("681.90"), D("136.38")),
                                    "5,5 %": (D("367.03"), D("20.19"))}
    assert _lines(q2.deductible) == {"20 %": (D("300.00"), D("60.00"))}
    assert (q2.collected_vat, q2.net_due) == (D("156.57"), D("96.57"))


def test_vat_register_by_month_and_the_company_s_option(demo, books):
    with demo.session() as s:
        company = books.company(s)
        monthly = vat_register.register(s, company, ReportFilters(
            start=date(2026, 4, 1), end=date(2026, 4, 30)))
        assert not monthly.on_debits  # the company did not opt for debits: receipts
        (april,) = monthly.periods
        assert april.label == "avril 2026"
        # 500 of A (69,71 + 4,26) and B (66,67 + 5,50) were paid in April; E1 too (60).
        assert april.collected_vat == D("146.14") and april.net_due == D("86.14")


def test_revenue_by_customer_and_month(demo, books):
    with demo.session() as s:
        found = reports.revenue(s, books.company(s), H1)
    # 1 200 + 433,33 - 100 + 500 ; VAT 211 + 72,17 - 20 + 27,50.
    assert (found.total.ht, found.total.vat, found.total.ttc) == (
        D("2033.33"), D("290.67"), D("2324.00"))
    assert [(name, f.ht) for name, f in found.by_customer] == [(inv.CUSTOMER, D("2033.33"))]
    assert [(label, f.ht, f.vat) for label, f in found.by_month] == [
        ("mars 2026", D("1633.33"), D("283.17")), ("avril 2026", D("400.00"), D("7.50"))]
    assert found.count == 4
    with demo.session() as s:
        only_credit = reports.revenue(s, books.company(s), ReportFilters(kind="avoir"))
        march = reports.revenue(s, books.company(s), ReportFilters(
            start=date(2026, 3, 1), end=date(2026, 3, 31)))
        abroad = reports.revenue(s, books.company(s), ReportFilters(country="BE"))
        paid = reports.revenue(s, books.company(s), ReportFilters(status="payé"))
    assert only_credit.total.ht == D("-100.00") and march.total.ht == D("1633.33")
    assert abroad.total.ht == D("0.00") and abroad.count == 0
    assert paid.total.ht == D("433.33")  # B only


def test_unpaid_with_ageing_on_30_june(demo, books):
    with demo.session() as s:
        found = reports.unpaid(s, books.company(s), ReportFilters(), today=TODAY)
    # A: 1 411 - 120 - 1 100 = 191, due 09/04 (30 days): 82 days late. D: 527,50 - 200 =
    # 327,50, due 20/05: 41 days late. B is paid.
    assert [(r.number[-4:], r.left, r.days_late, r.bucket) for r in found.rows] == [
        ("0001", D("191.00"), 82, "61 à 90 jours"), ("0003", D("327.50"), 41, "31 à 60 jours")]
    assert found.total == D("518.50") and found.count == 2
    assert found.buckets["61 à 90 jours"] == D("191.00")
    assert found.buckets["non échu"] == D("0.00")
    assert found.by_customer == [(inv.CUSTOMER, found.buckets, D("518.50"))]
    with demo.session() as s:
        before = reports.unpaid(s, books.company(s), ReportFilters(), today=date(2026, 4, 1))
    # On 1 April, the credit note (05/04) and D (20/04) do not exist yet: A owes
    # 1 411 - 600 = 811 and B 505,50, neither due.
    assert [(r.left, r.bucket) for r in before.rows] == [
        (D("811.00"), "non échu"), (D("505.50"), "non échu")]


def test_expenses_by_supplier_category_and_month(demo, books):
    with demo.session() as s:
        found = reports.expenses_report(s, books.company(s), H1)
    assert (found.total.ht, found.total.vat, found.count) == (D("450.00"), D("75.50"), 2)
    assert [(n, f.ht) for n, f in found.by_supplier] == [
        ("Pièces Auto", D("300.00")), ("Énergie Sud", D("150.00"))]
    assert [(n, f.vat) for n, f in found.by_category] == [
        ("fournitures", D("60.00")), ("énergie", D("15.50"))]
    assert [(n, f.ttc) for n, f in found.by_month] == [
        ("mars 2026", D("360.00")), ("avril 2026", D("165.50"))]


def test_bad_filters_are_refused(demo, books):
    with demo.session() as s:
        company = books.company(s)
        with pytest.raises(InvalidInput, match="La fin de la période précède son début."):
            reports.check_filters(s, company, ReportFilters(start=date(2026, 4, 1),
                                                            end=date(2026, 3, 1)))
        with pytest.raises(NotFound, match="Client introuvable."):
            other = inv.bakery(s)
            from sqlalchemy import select

            from acl.invoicing.models import Customer
            theirs = s.scalar(select(Customer.id).where(Customer.company_id == other.id))
            reports.check_filters(s, company, ReportFilters(customer_id=theirs))
        with pytest.raises(InvalidInput, match="Type de document inconnu."):
            reports.check_filters(s, company, ReportFilters(kind="devis"))


def test_a_deposit_and_its_final_invoice_count_once(demo):
    """Quote: 1 000 @ 20 % + 200 @ 5,5 % (VAT 211). Deposit of 30 % on 05/03: 300 @ 20 % (60)
    + 60 @ 5,5 % (3,30), TTC 423,30, paid 06/03. Final invoice on 10/04: 1 200 (211), less
    the deposit: 987,70 asked, paid 20/04. March counts the deposit, April the rest: 700
    (140) and 140 (7,70) — the quote's amounts once in all, on debits as on receipts."""
    with demo.transaction() as s:
        space = inv.set_up(s)
        company = space.company(s)
        quote = inv.draft(s, space, kind=documents.DocKind.QUOTE, lines=[
            LineInput("Chantier", "1", "forfait", "1000", "20"),
            LineInput("Fournitures", "1", "forfait", "200", "5,5")], issue_date="01/03/2026")
        documents.issue(s, company, quote, today=TODAY)
        deposit = documents.deposit_on_quote(s, company, quote, "30", None)
        documents.save_draft(s, company, deposit, DraftInput(
            customer_id=str(space.customer_id), issue_date="05/03/2026",
            lines=DraftInput.of(deposit).lines))
        documents.issue(s, company, deposit, today=TODAY)
        documents.record_payment(s, deposit, paid_on="06/03/2026", amount="423,30",
                                 method="virement")
        final = documents.invoice_from_quote(s, company, quote, None)
        documents.save_draft(s, company, final, DraftInput(
            customer_id=str(space.customer_id), issue_date="10/04/2026",
            lines=DraftInput.of(final).lines))
        documents.issue(s, company, final, today=TODAY)
        assert (deposit.total_ttc, final.total_ttc, final.prepaid) == (
            D("423.30"), D("1411.00"), D("423.30"))
        documents.record_payment(s, final, paid_on="20/04/2026", amount="987,70",
                                 method="virement")
    with demo.session() as s:
        company = space.company(s)
        for on_debits in (True, False):
            q1, q2 = vat_register.register(s, company, H1, on_debits=on_debits).periods
            assert _lines(q1.collected) == {"20 %": (D("300.00"), D("60.00")),
                                            "5,5 %": (D("60.00"), D("3.30"))}, on_debits
            assert _lines(q2.collected) == {"20 %": (D("700.00"), D("140.00")),
                                            "5,5 %": (D("140.00"), D("7.70"))}, on_debits
        found = reports.revenue(s, company, H1)
        assert (found.total.ht, found.total.vat) == (D("1200.00"), D("211.00"))
        assert [(label, f.ht) for label, f in found.by_month] == [
            ("mars 2026", D("360.00")), ("avril 2026", D("840.00"))]
        assert found.deposits_deducted.ht == D("-360.00")
        assert reports.unpaid(s, company, ReportFilters(), today=TODAY).rows == []
