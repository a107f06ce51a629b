"""The list of a period's invoices as a spreadsheet (.xlsx or .csv, `acl.tables`): what the
company keeps, or hands to its accountant, beside the PDFs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from acl import tables
from acl.invoicing import documents, mentions
from acl.invoicing.models import DocKind, InvoicingDocument
from acl.people.models import Company

COLUMNS = ["Numéro", "Type", "Date", "Échéance", "Client", "SIREN du client", "Total HT",
           "TVA", "Total TTC", "Acomptes déduits", "Reste à payer", "État"]


def rows(session: Session, company: Company, filters: documents.Filters,
         today: date | None = None) -> list[list[object]]:
    """One row per issued document of the filters (quotes and drafts apart); a credit note's
    amounts count against."""
    out: list[list[object]] = []
    listed = [d for d in documents.listing(session, company, filters)
              if not d.is_draft and d.kind != DocKind.QUOTE.value]
    names = documents.customers_named(session, listed)
    standing = documents.standings(session, listed, today)
    for document in sorted(listed, key=lambda d: (d.issue_date, d.number)):
        sign = Decimal(-1) if document.kind == DocKind.CREDIT_NOTE.value else Decimal(1)
        out.append([
            document.number, document.kind_enum.label, document.issue_date,
            document.due_date, names.get(document.customer_id, ""),
            _buyer_siren(document), sign * document.total_ht, sign * document.total_vat,
            sign * document.total_ttc, document.prepaid,
            standing[document.id].left_to_pay, standing[document.id].situation])
    return out


def _buyer_siren(document: InvoicingDocument) -> str:
    return mentions.thaw_buyer(document.buyer)[0].siren


def as_file(session: Session, company: Company, filters: documents.Filters,
            kind: str) -> bytes:
    """The list as "xlsx" or "csv" (French CSV: ";" and decimal commas)."""
    table = rows(session, company, filters)
    if kind == "xlsx":
        return tables.to_xlsx("Factures", COLUMNS, table)
    return tables.to_csv(COLUMNS, [[_csv_cell(value) for value in row] for row in table])


def _csv_cell(value: object) -> object:
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return value
