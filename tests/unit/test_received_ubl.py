"""Received e-invoices in UBL, the syntax of PEPPOL BIS Billing 3.0 (most invoices a French
company receives through a PEPPOL access point): read into a pre-filled expense."""

from __future__ import annotations

from pathlib import Path

import pytest

from acl.invoicing.received import Unreadable, recognise

PEPPOL_INVOICE = (Path(__file__).parent.parent / "data" / "peppol-invoice.xml").read_text()


def credit_note() -> bytes:
    """The same document as a UBL credit note (its own root, type code and lines)."""
    return (PEPPOL_INVOICE
            .replace("ubl:schema:xsd:Invoice-2", "ubl:schema:xsd:CreditNote-2")
            .replace("<Invoice ", "<CreditNote ").replace("</Invoice>", "</CreditNote>")
            .replace("InvoiceTypeCode>380<", "CreditNoteTypeCode>381<")
            .replace("<cbc:InvoiceTypeCode>", "<cbc:CreditNoteTypeCode>")
            .replace("</cbc:InvoiceTypeCode>", "</cbc:CreditNoteTypeCode>")
            .replace("InvoiceLine>", "CreditNoteLine>")
            .replace("InvoicedQuantity", "CreditedQuantity")).encode()


def test_a_peppol_ubl_invoice_becomes_a_prefilled_expense():
    offer = recognise("PAP-2026-0412.xml", PEPPOL_INVOICE.encode())
    assert (offer.supplier, offer.supplier_vat, offer.number, offer.issue_date,
            offer.due_date) == ("Papeterie Lyonnaise", "FR39443061841", "PAP-2026-0412",
                                "14/04/2026", "14/05/2026")
    assert [(v.rate, v.taxable, v.vat) for v in offer.lines] == [
        ("20", "120,00", "24,00"), ("5,5", "28,18", "1,55")]


def test_a_ubl_credit_note_is_left_for_a_person():
    with pytest.raises(Unreadable, match="Avoir reçu"):
        recognise("avoir.xml", credit_note())


def test_a_ubl_invoice_without_its_vat_breakdown_says_what_is_missing():
    start = PEPPOL_INVOICE.index("<cac:TaxTotal>")
    end = PEPPOL_INVOICE.index("</cac:TaxTotal>") + len("</cac:TaxTotal>")
    with pytest.raises(Unreadable, match="BG-23"):
        recognise("sans-tva.xml", (PEPPOL_INVOICE[:start] + PEPPOL_INVOICE[end:]).encode())
