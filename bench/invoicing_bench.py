#!/usr/bin/env python3
"""Invoicing at volume: issue 1,000 invoices of 10 lines and render their Factur-X PDFs, then
time the invoice list of a company holding 10,000 invoices, filtered and totalled.

    .venv/bin/python bench/invoicing_bench.py                # SQLite, ~2-4 min on 2 cores
    .venv/bin/python bench/invoicing_bench.py --quick        # 100 invoices, 1,000 in the list
    .venv/bin/python bench/invoicing_bench.py --database postgresql://postgres@127.0.0.1/db

Runs in-process on the demo world in a temporary folder (SQLite by default; an empty
PostgreSQL database with --database), in Garage Dupont's invoicing space (the demo leaves it
empty). Prints invoices per second for each step and the list's times. No reference peer:
no other program does this job on the same data; the figures are compared from run to run
(bench/README.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "mot-de-passe-du-banc"


def _world(folder: Path, url: str | None):
    from acl.db import Database, make_engine, upgrade_schema
    from acl.documents.blobs import open_store
    from acl.rights.passwords import PasswordHasher
    from config.settings import load_settings
    from liasse.demo import create_demo

    data = folder / "data"
    data.mkdir()
    url = url or f"sqlite:///{data / 'liasse.db'}"
    (data / "liasse.toml").write_text(
        f'[database]\nurl = "{url}"\n'
        "[security]\nargon2_time_cost = 1\nargon2_memory_kib = 64\nargon2_parallelism = 1\n"
        "failure_delay_seconds = 0.0\n[server]\nallow_plain_http = true\n", encoding="utf-8")
    settings = load_settings(data / "liasse.toml")
    engine = make_engine(settings.database.url)
    upgrade_schema(engine)
    db = Database(engine)
    blobs = open_store(settings)
    with db.transaction() as session:
        create_demo(session, settings, PasswordHasher(settings.security), blobs, PASSWORD)
    return settings, db, blobs


def _space(db):
    """Garage Dupont ready to issue: complete settings, 50 customers, 20 articles."""
    from sqlalchemy import select

    from acl.invoicing import articles, customers, profile
    from acl.people.models import Company

    with db.transaction() as s:
        company = s.scalar(select(Company).where(Company.name == "Garage Dupont"))
        profile.update_profile(s, company, profile.ProfileInput(
            legal_name="Garage Dupont", legal_form="SAS", share_capital="50 000 €",
            registry_kind="RCS", registry_city="Bordeaux", siren="552100554",
            vat_number="FR96552100554", address_line1="3 avenue des Mécaniciens",
            postcode="33000", city="Bordeaux", iban="FR7630006000011234567890189",
            bic="AGRIFRPP", late_penalty="taux d'intérêt de la BCE majoré de 10 points",
            discount_terms="pas d'escompte pour paiement anticipé"))
        ids = [customers.create(s, company, customers.CustomerInput(
            name=f"Client {n:02d}", address_line1=f"{n} rue du Port", postcode="33000",
            city="Bordeaux", siren="732829320")).id for n in range(50)]
        for n in range(20):
            articles.create(s, company, articles.ArticleInput(
                f"ART{n:02d}", f"Article {n}", "pièce", f"{10 + n},{n:02d}",
                ["20", "10", "5,5"][n % 3], "", "bien" if n % 2 else "service"))
        return company.id, ids


def _lines(n: int, count: int):
    from acl.invoicing.documents import LineInput

    return [LineInput(reference=f"ART{(n + i) % 20:02d}", quantity=str(1 + (n + i) % 7),
                      discount="5" if i == 3 else "") for i in range(count)]


def _issue_many(db, company_id: int, customer_ids: list[int], count: int, lines: int,
                first_day: date, span_days: int) -> tuple[list[int], float, float]:
    """Drafts saved, then issued one per transaction (as the web does): ids, seconds for
    the drafts, seconds for the issues."""
    from acl.invoicing import documents
    from acl.invoicing.documents import DraftInput
    from acl.invoicing.models import DocKind
    from acl.people.models import Company

    ids = []
    start = time.perf_counter()
    for n in range(count):
        with db.transaction() as s:
            company = s.get(Company, company_id)
            draft = documents.new_draft(s, company, DocKind.INVOICE, None)
            day = first_day + timedelta(days=n * span_days // max(count, 1))
            documents.save_draft(s, company, draft, DraftInput(
                customer_id=str(customer_ids[n % len(customer_ids)]),
                issue_date=day.strftime("%d/%m/%Y"), lines=_lines(n, lines)))
            ids.append(draft.id)
    drafted = time.perf_counter() - start
    start = time.perf_counter()
    for document_id in ids:
        with db.transaction() as s:
            company = s.get(Company, company_id)
            documents.issue(s, company, documents.get(s, company, document_id))
    return ids, drafted, time.perf_counter() - start


def _render_all(db, blobs, company_id: int, ids: list[int]) -> tuple[float, int]:
    from acl.invoicing import delivery, documents
    from acl.people.models import Company

    total = 0
    start = time.perf_counter()
    with db.session() as s:
        company = s.get(Company, company_id)
        look = delivery.look_of(s, company, blobs)
        for document_id in ids:
            sheet = documents.sheet_of(s, company, documents.get(s, company, document_id), look)
            total += len(delivery.pdf_of(sheet))
    return time.perf_counter() - start, total


def _time(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _list_figures(settings, db, company_id: int, first_day: date) -> list[tuple[str, float]]:
    """The list as the domain and as the page compute it, filtered to one month."""
    from acl.invoicing import documents, exports
    from acl.invoicing.documents import Filters
    from acl.people.models import Company
    from invoicing_web.app import create_app

    month = Filters(kind="facture", start=first_day + timedelta(days=60),
                    end=first_day + timedelta(days=90))
    figures = []
    with db.session() as s:
        company = s.get(Company, company_id)
        figures.append(("totals of every invoice (SQL sums)",
                        _time(lambda: documents.list_totals(s, company, Filters()), 5)))
        figures.append(("totals of one month", _time(
            lambda: documents.list_totals(s, company, month), 5)))
        figures.append(("one month's invoices, listed with their state", _time(
            lambda: documents.standings(s, documents.listing(s, company, month)), 5)))
        figures.append(("one month as .xlsx", _time(
            lambda: exports.as_file(s, company, month, "xlsx"), 3)))
    app = create_app(settings, db, secure_cookies=False)
    client = app.test_client()
    page = client.get("/connexion").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post("/connexion", data={"login": "dupont", "password": PASSWORD,
                                    "csrf_token": token})
    query = (f"/facturation/?kind=facture&start={month.start:%d/%m/%Y}"
             f"&end={month.end:%d/%m/%Y}")
    assert client.get(query).status_code == 200
    figures.append(("the list page, one month, filtered and totalled",
                    _time(lambda: client.get(query), 5)))
    figures.append(("the list page, unfiltered (the 500 latest)",
                    _time(lambda: client.get("/facturation/"), 3)))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database", help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    issued_count, list_size, lines = (100, 1000, 10) if args.quick else (1000, 10000, 10)
    first_day = date.today() - timedelta(days=330)
    with tempfile.TemporaryDirectory(prefix="liasse-bench-invoicing-") as folder:
        started = time.perf_counter()
        settings, db, blobs = _world(Path(folder), args.database)
        company_id, customer_ids = _space(db)
        ids, drafted, issued = _issue_many(db, company_id, customer_ids, issued_count, lines,
                                           first_day, 120)
        rendered, size = _render_all(db, blobs, company_id, ids)
        # Fill the list up to `list_size` invoices (3 lines each, later dates), untimed.
        _issue_many(db, company_id, customer_ids, list_size - issued_count, 3,
                    first_day + timedelta(days=121), 200)
        figures = _list_figures(settings, db, company_id, first_day)
        backend = db.engine.dialect.name
        db.dispose()
    print(f"Invoicing bench on {backend}, {issued_count} invoices of {lines} lines "
          f"({time.perf_counter() - started:.0f} s in all)")
    print(f"  drafts saved:        {issued_count / drafted:8.1f} invoices/s")
    print(f"  issued (numbered):   {issued_count / issued:8.1f} invoices/s")
    print(f"  Factur-X rendered:   {issued_count / rendered:8.1f} invoices/s "
          f"({size / issued_count / 1024:.0f} KiB each)")
    print(f"List of a company holding {list_size} invoices (median):")
    for label, seconds in figures:
        print(f"  {label:48} {seconds * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
