#!/usr/bin/env python3
"""Reports at volume (issue 18): a company holding 10,000 issued invoices (two VAT rates
each), 20,000 payments and 5,000 expenses; the time of each report as a page, a PDF and an
.xlsx over a year, and the memory the process gains doing them.

    .venv/bin/python bench/reports_bench.py                 # SQLite
    .venv/bin/python bench/reports_bench.py --quick         # a tenth of it
    .venv/bin/python bench/reports_bench.py --database postgresql://postgres@127.0.0.1/db

Runs in-process on the demo world in a temporary folder, in Garage Dupont's space. The rows
are written in bulk (drafts with their lines, then numbered: the database's triggers keep an
issued document frozen, as in use), not through the editor: the bench is about reading them.
Each report is a few grouped queries; what grows with the rows is only what a file lists
(a page shows the first `reports.LIST_LIMIT` documents; a PDF or an .xlsx lists them all).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from invoicing_bench import PASSWORD, _space, _time, _world  # noqa: E402


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _fill(db, company_id: int, customers: list[int], invoices: int, payments: int,
          expenses: int, first: date) -> None:
    from sqlalchemy import insert, update

    from acl.invoicing import amounts
    from acl.invoicing.models import (
        DocumentLine,
        Expense,
        ExpenseVat,
        InvoicingDocument,
        Payment,
    )

    rows, lines, numbered = [], [], []
    for n in range(invoices):
        day = first + timedelta(days=n * 360 // invoices)
        net = (Decimal(100 + n % 50), Decimal(40))
        totals = amounts.totals([amounts.Line(Decimal(1), net[0], Decimal(20)),
                                 amounts.Line(Decimal(1), net[1], Decimal("5.5"))])
        rows.append(dict(company_id=company_id, kind="facture", status="brouillon",
                         customer_id=customers[n % len(customers)], issue_date=day,
                         service_date=day, due_date=day + timedelta(days=30),
                         total_ht=totals.total_ht, total_vat=totals.total_vat,
                         total_ttc=totals.total_ttc, prepaid=Decimal(0)))
    with db.transaction() as s:
        ids = [row.id for row in s.execute(insert(InvoicingDocument).returning(
            InvoicingDocument.id), rows)]
    for n, document_id in enumerate(ids):
        for position, (price, rate) in enumerate(((Decimal(100 + n % 50), Decimal(20)),
                                                  (Decimal(40), Decimal("5.5"))), start=1):
            lines.append(dict(document_id=document_id, position=position,
                              designation=f"Prestation {position}", quantity=Decimal(1),
                              unit="forfait", unit_price=price, vat_rate=rate, net=price))
        numbered.append(dict(id=document_id, number=f"F-BENCH-{n + 1:06d}", status="émis"))
    with db.transaction() as s:
        s.execute(insert(DocumentLine), lines)
        s.execute(update(InvoicingDocument), numbered)
    paid = []
    for n in range(payments):  # two partial payments on most invoices
        document = rows[n // 2 % invoices]
        paid.append(dict(document_id=ids[n // 2 % invoices], amount=Decimal(30),
                         paid_on=document["issue_date"] + timedelta(days=10 + n % 2 * 20),
                         method="virement"))
    spent = []
    for n in range(expenses):
        day = first + timedelta(days=n * 360 // expenses)
        spent.append(dict(company_id=company_id, supplier=f"Fournisseur {n % 40:02d}",
                          number=f"A-{n}", issue_date=day, category="fournitures",
                          paid_on=day + timedelta(days=15) if n % 3 else None,
                          total_ht=Decimal(150), total_vat=Decimal("25.50"),
                          total_ttc=Decimal("175.50"), origin="import"))
    with db.transaction() as s:
        s.execute(insert(Payment), paid)
        expense_ids = [row.id for row in s.execute(insert(Expense).returning(Expense.id),
                                                    spent)]
        s.execute(insert(ExpenseVat), [
            dict(expense_id=e, rate=rate, taxable=taxable, vat=vat) for e in expense_ids
            for rate, taxable, vat in ((Decimal(20), Decimal(100), Decimal(20)),
                                       (Decimal("5.5"), Decimal(50), Decimal("5.50")))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database", help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    invoices, payments, expenses = 10_000 // scale, 20_000 // scale, 5_000 // scale
    first = date(date.today().year, 1, 1)
    with tempfile.TemporaryDirectory(prefix="liasse-bench-reports-") as folder:
        started = time.perf_counter()
        settings, db, _ = _world(Path(folder), args.database)
        company_id, customers = _space(db)
        _fill(db, company_id, customers, invoices, payments, expenses, first)
        if db.engine.dialect.name == "postgresql":
            # Rows written in bulk a second ago have no statistics yet: PostgreSQL would
            # plan for empty tables. Its autovacuum analyzes them soon after, as here.
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        filled = time.perf_counter() - started
        from invoicing_web.app import create_app

        app = create_app(settings, db, secure_cookies=False)
        client = app.test_client()
        page = client.get("/connexion").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/connexion", data={"login": "dupont", "password": PASSWORD,
                                        "csrf_token": token})
        period = f"start=01/01/{first.year}&end=31/12/{first.year}"
        base = f"/facturation/entreprise/{company_id}/rapports"
        figures = []
        before = rss_kib()
        for name in ("revenus", "depenses", "tva", "impayes"):
            for suffix, repeat in (("", 5), (".pdf", 3), (".xlsx", 3)):
                url = f"{base}/{name}{suffix}?{period}"
                answer = client.get(url)
                assert answer.status_code == 200, (url, answer.status_code)
                size = len(answer.data)
                figures.append((f"{name}{suffix or ' (page)'}", _time(lambda u=url: client.get(
                    u).data, repeat), size))
        gained = rss_kib() - before
        backend = db.engine.dialect.name
        db.dispose()
    print(f"Reports bench on {backend}: {invoices} invoices (2 rates), {payments} payments, "
          f"{expenses} expenses, one year (filled in {filled:.0f} s)")
    for label, seconds, size in figures:
        print(f"  {label:22} {seconds * 1000:8.1f} ms  {size / 1024:8.0f} KiB")
    print(f"  memory gained by the process over all of them: {gained / 1024:.1f} MiB "
          f"(RSS {before / 1024:.0f} -> {(before + gained) / 1024:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
