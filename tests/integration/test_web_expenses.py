"""Expenses in the browser (issue 18, item 2): a purchase with its VAT per rate and its
document deposited into Achats, refusals next to their field with nothing written, the
import all or nothing, an e-invoice received in Achats confirmed as an expense; the firm
finds none of these pages."""

from __future__ import annotations

import io

from sqlalchemy import func, select
from support import invoicing as inv
from support.web import text_of

from acl.documents.models import Node
from acl.documents.store import resolve
from acl.invoicing import facturx, received
from acl.invoicing.models import Expense, ReceivedInvoice

EXPENSE = {"supplier": "Minoterie du Rhône", "number": "M-17", "issue_date": "30/03/2026",
           "category": "matières premières", "vat-1-rate": "5,5", "vat-1-taxable": "100",
           "vat-1-vat": "5,50", "vat-2-rate": "20", "vat-2-taxable": "20", "vat-2-vat": "4"}


def expenses_in(demo) -> int:
    """Expenses beside the demo's three."""
    with demo.session() as s:
        return s.scalar(select(func.count()).select_from(Expense)) - 3


def test_an_expense_with_its_document_deposited_in_achats(visit, demo):
    martin = visit("martin")
    saved = martin.post("/facturation/depenses", {
        **EXPENSE, "document": (io.BytesIO(b"%PDF-1.4 minoterie"), "Minoterie M-17.pdf")},
        content_type="multipart/form-data")
    assert saved.status_code == 302, text_of(saved)
    page = martin.page("/facturation/depenses")
    assert "Minoterie du Rhône" in page and "129,50" in page and "dans Achats" in page
    with demo.session() as s:
        node = s.get(Node, s.scalar(select(Expense).where(Expense.number == "M-17")).node_id)
        assert node.name == "Minoterie M-17.pdf"
        assert resolve(s, inv.bakery(s), ["Achats"]).node.id == node.parent_id
    # The document points back at its expense, for who reads the invoicing only.
    page = martin.page(martin.get(f"/document/{node.id}").headers["Location"])
    assert "Dépense enregistrée : Minoterie du Rhône, facture M-17" in page
    assert "voir la dépense" in page
    secretary = visit("secretaire")
    shown = secretary.page(secretary.get(f"/document/{node.id}").headers["Location"])
    assert "Minoterie M-17.pdf" in shown and "Dépense enregistrée" not in shown


def test_bad_expenses_answer_400_with_the_reason_and_write_nothing(visit, demo):
    martin = visit("martin")
    for changes, message in [
            ({"vat-1-vat": "150"}, "la TVA (150.00 €) dépasse le montant HT (100.00 €)"),
            ({"vat-1-rate": "7"}, "taux de TVA inconnu : 7 %"),
            ({"issue_date": "32/13/2026"}, "« 32/13/2026 » n'est pas une date")]:
        answer = martin.post("/facturation/depenses", {**EXPENSE, **changes})
        assert answer.status_code == 400 and message in text_of(answer), message
        assert 'value="Minoterie du Rhône"' in text_of(answer)  # what was typed stays
    bad_import = martin.post("/facturation/depenses/import", {"file": (io.BytesIO(
        b"fournisseur;date;ht_20;tva_20\r\nEDF;01/02/2026;10;2\r\nGaz;hier;10;2\r\n"
), "depenses.csv")}, content_type="multipart/form-data")
    assert bad_import.status_code == 400
    assert "Dépenses, ligne 3 : Date de la facture : « hier » n'est pas une date" in \
        text_of(bad_import)
    assert expenses_in(demo) == 0
    template = martin.get("/facturation/depenses/modele-depenses.xlsx")
    assert template.status_code == 200 and template.data[:2] == b"PK"


def test_a_received_e_invoice_is_confirmed_from_the_page(visit, demo, blobs):

    martin = visit("martin")
    with demo.transaction() as s:
        received.consider_scanned(s)
    with demo.session() as s:  # deposited through the web's upload, as any channel would
        achats = resolve(s, inv.bakery(s), ["Achats"]).node.id
    assert martin.upload(achats, ("Minoterie mars.pdf", facturx.facturx_pdf(
        inv.supplier_sheet()))).status_code in (200, 302, 303)
    with demo.transaction() as s:
        received.scan_deposits(s, blobs)
    page = martin.page("/facturation/depenses")
    assert "Minoterie mars.pdf" in page and "à confirmer comme dépense" in page
    with demo.session() as s:
        offer = s.scalar(select(ReceivedInvoice).where(
            ReceivedInvoice.name == "Minoterie mars.pdf"))
    form = {"supplier": "Minoterie du Rhône", "number": "M-2026-017",
            "issue_date": "30/03/2026", "category": "achats de marchandises",
            "vat-1-rate": "20", "vat-1-taxable": "20,00", "vat-1-vat": "4,00",
            "vat-2-rate": "5,5", "vat-2-taxable": "15,00", "vat-2-vat": "0,83",
            "action": "confirm"}
    assert martin.post(f"/facturation/depenses/recues/{offer.id}", form).status_code == 302
    page = martin.page("/facturation/depenses")
    assert "39,83" in page and f'id="recue-{offer.id}"' not in page
    with demo.session() as s:
        assert s.scalar(select(Expense).where(
            Expense.number == "M-2026-017")).node_id == offer.node_id


def test_the_firm_finds_no_expense_page(visit, demo):
    expert = visit("expert")
    for url in ("/facturation/depenses", "/facturation/depenses/modele-depenses.csv"):
        assert expert.get(url).status_code == 404
    assert expert.post("/facturation/depenses", EXPENSE).status_code == 404
    assert expenses_in(demo) == 0
