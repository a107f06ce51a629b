"""The report pages, PDFs and workbooks (issue 18, items 3 and 4): signed in as `expert`,
Boulangerie Martin's reports are refused until `martin` consents, then show the figures of
the demo's invoices; the chart; each bad filter answered with its French sentence or 404."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from support import invoicing as inv
from support.web import text_of

from acl.invoicing import amounts, documents, reports, vat_register
from acl.invoicing.documents import Filters
from acl.invoicing.models import Customer, Expense
from acl.invoicing.reports import ReportFilters

START = (date.today() - timedelta(days=365)).strftime("%d/%m/%Y")
END = date.today().strftime("%d/%m/%Y")
PERIOD = f"start={START}&end={END}"


@pytest.fixture
def bakery_id(demo):
    with demo.session() as s:
        return inv.bakery(s).id


def test_expert_reads_the_demo_figures_once_martin_consents(visit, demo, bakery_id):
    expert, martin = visit("expert"), visit("martin")
    url = f"/facturation/entreprise/{bakery_id}/rapports"
    assert expert.get(f"{url}/revenus?{PERIOD}").status_code == 404
    martin.post("/facturation/acces-cabinet", {"action": "grant"})
    with demo.session() as s:
        company = inv.bakery(s)
        year = Filters(start=date.today() - timedelta(days=365), end=date.today())
        issued = documents.list_totals(s, company, year)  # the list's own sums
        left = sum((st.left_to_pay for st in documents.standings(
            s, documents.listing(s, company, year)).values()), amounts.ZERO)
    page = expert.page(f"{url}/revenus?{PERIOD}")
    # No deposit in the demo: the revenue equals the sums of the invoice list.
    assert f"{amounts.format_amount(issued.total_ht)}" in page
    assert f"{amounts.format_amount(issued.total_vat)}" in page
    assert "Hôtel du Parc" in page and "Café des Arts" in page
    assert "<svg" in page and "Revenus et dépenses HT par mois" in page
    unpaid = expert.page(f"{url}/impayes?{PERIOD}")
    assert amounts.format_amount(left) in unpaid and "Café des Arts" in unpaid
    vat = expert.page(f"{url}/tva?{PERIOD}&by=mois")
    assert "TVA sur les encaissements" in vat and "TVA nette due" in vat
    pdf = expert.get(f"{url}/tva.pdf?{PERIOD}")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(expert.get(f"{url}/revenus.xlsx?{PERIOD}").data))
    sheet = book.active
    values = [tuple(v for v in row if v is not None)
              for row in sheet.iter_rows(values_only=True)]
    assert ("Client", "HT", "TVA", "TTC") in values
    total = next(row for row in values if row[0] == "Total")
    assert total[1] == pytest.approx(float(issued.total_ht))  # a number, not a formula
    # The company's own users reach the same reports from their space.
    own = martin.get("/facturation/rapports")
    assert own.status_code == 302 and f"/entreprise/{bakery_id}/rapports/revenus" in \
        own.headers["Location"]


def test_the_vat_page_equals_the_register(visit, demo, bakery_id):
    martin = visit("martin")
    with demo.session() as s:
        found = vat_register.register(s, inv.bakery(s), ReportFilters(
            start=date.today() - timedelta(days=365), end=date.today(), by="trimestre"))
    page = martin.page(f"/facturation/entreprise/{bakery_id}/rapports/tva?{PERIOD}")
    assert amounts.format_amount(found.total.net_due) in page
    for part in found.periods:
        assert part.label in page


@pytest.mark.parametrize(("query", "status", "message"), [
    ("start=01/04/2026&end=01/03/2026", 400, "La fin de la période précède son début."),
    ("start=31/02/2026", 400, "« 31/02/2026 » n'est pas une date (JJ/MM/AAAA)."),
    ("end=demain", 400, "« demain » n'est pas une date (JJ/MM/AAAA)."),
    ("kind=devis", 400, "Type de document inconnu."),
    ("by=semaine", 400, "Regroupement inconnu"),
    ("customer=abc", 404, None),
])
def test_bad_filters(visit, demo, bakery_id, query, status, message):
    martin = visit("martin")
    for suffix in ("", ".pdf", ".xlsx"):
        answer = martin.get(f"/facturation/entreprise/{bakery_id}/rapports/tva{suffix}?{query}")
        assert answer.status_code == status, (suffix, query)
        if message:
            assert message in text_of(answer)


def test_a_customer_or_a_company_one_may_not_see_is_not_found(visit, demo, bakery_id):
    with demo.transaction() as s:
        space = inv.set_up(s)  # Garage Dupont's customer
        garage_id = space.company_id
        theirs = space.customer_id
        ours = s.scalar(select(Customer.id).where(Customer.company_id == bakery_id))
    martin = visit("martin")
    base = f"/facturation/entreprise/{bakery_id}/rapports/revenus"
    assert martin.get(f"{base}?customer={theirs}").status_code == 404
    assert martin.get(f"{base}?customer={ours}").status_code == 200
    assert martin.get(f"/facturation/entreprise/{garage_id}/rapports/revenus").status_code == 404
    assert martin.get("/facturation/entreprise/999999/rapports/tva").status_code == 404
    assert martin.get(f"/facturation/entreprise/{bakery_id}/rapports/autre").status_code == 404


def test_the_company_dashboard_shows_the_chart_to_who_invoices(visit, demo):
    page = visit("martin").page("/tableau-de-bord")
    assert "Revenus et dépenses des douze derniers mois" in page and "<svg" in page
    assert "<svg" not in visit("secretaire").page("/tableau-de-bord")


def test_reports_domain_matches_list_totals(demo):
    with demo.session() as s:
        company = inv.bakery(s)
        since = date.today() - timedelta(days=365)
        found = reports.revenue(s, company, ReportFilters(start=since, end=date.today()))
        listed = documents.list_totals(s, company, Filters(start=since, end=date.today()))
    assert (found.total.ht, found.total.vat) == (listed.total_ht, listed.total_vat)


def test_a_long_list_shows_its_first_rows_and_the_files_hold_them_all(visit, demo, bakery_id):
    from acl.invoicing import expenses
    from acl.invoicing.expenses import ExpenseInput, VatInput

    day = (date.today() - timedelta(days=10)).strftime("%d/%m/%Y")
    with demo.transaction() as s:
        company = inv.bakery(s)
        for n in range(reports.LIST_LIMIT + 1):
            expenses.create(s, company, ExpenseInput(
                supplier="Minoterie du Rhône", supplier_vat="", number=f"L-{n:04}",
                issue_date=day, category="matières premières",
                lines=[VatInput("5,5", "10,00", "0,55")]))
        listed = s.scalar(select(func.count()).select_from(Expense).where(
            Expense.company_id == company.id, Expense.issue_date >= date.today()
            - timedelta(days=365)))
    martin = visit("martin")
    url = f"/facturation/entreprise/{bakery_id}/rapports/depenses?{PERIOD}"
    page = martin.page(url)
    assert (f"Les {reports.LIST_LIMIT} premières dépenses sur {listed} ; le PDF et le fichier "
            "Excel les contiennent tous.") in page
    book = load_workbook(io.BytesIO(martin.get(url.replace("depenses?", "depenses.xlsx?"))
                                    .data))
    numbers = {row[2] for row in book.active.iter_rows(values_only=True)
               if isinstance(row[2], str) and row[2].startswith("L-")}
    assert len(numbers) == reports.LIST_LIMIT + 1
