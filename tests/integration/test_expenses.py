"""Expenses and received e-invoices (issue 18, item 2): recorded by hand with their VAT per
rate, imported all or nothing, attached to or deposited in Achats (the document and the
expense point at each other); e-invoices deposited in Achats by any channel are recognised
by the worker's scan and offered as expenses; hostile or malformed XML is reported and never
breaks the deposit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from support import invoicing as inv

from acl import tables
from acl.documents import operations
from acl.documents.limits import Limits
from acl.documents.models import Node
from acl.documents.store import resolve
from acl.errors import InvalidInput, NotFound
from acl.invoicing import expense_import, expenses, facturx, received
from acl.invoicing.expenses import ExpenseInput, VatInput
from acl.invoicing.models import Expense, ReceivedInvoice

BAKERY = "Boulangerie Martin"


bakery = inv.bakery


def typed(**overrides) -> ExpenseInput:
    values = dict(supplier="Minoterie du Rhône", supplier_vat="FR96552100554", number="M-17",
                  issue_date="30/03/2026", category="matières premières",
                  lines=[VatInput("5,5", "100,00", "5,50"), VatInput("20", "20", "4")])
    values.update(overrides)
    return ExpenseInput(**values)


DEMO_EXPENSES = 3  # the demo's bakery has three


def count(session) -> int:
    """The expenses beside the demo's."""
    return session.scalar(select(func.count()).select_from(Expense)) - DEMO_EXPENSES


def test_an_expense_with_two_rates(demo):
    with demo.transaction() as s:
        expense = expenses.create(s, bakery(s), typed(paid_on="15/04/2026"))
        expense_id = expense.id
    with demo.session() as s:
        expense = s.get(Expense, expense_id)
        assert (expense.total_ht, expense.total_vat, expense.total_ttc) == (
            Decimal("120.00"), Decimal("9.50"), Decimal("129.50"))
        assert [(v.rate, v.vat) for v in expense.vat_lines] == [
            (Decimal("20.00"), Decimal("4.00")), (Decimal("5.50"), Decimal("5.50"))]
        assert expense.paid_on == date(2026, 4, 15)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"lines": [VatInput("20", "10", "12")]}, "Taux n° 1 : la TVA (12.00 €) dépasse le montant HT"),
    ({"lines": [VatInput("19,6", "10", "1,96")]}, "Taux n° 1 : taux de TVA inconnu : 19,6 %"),
    ({"lines": [VatInput("20", "dix", "2")]}, "« dix » n'est pas un nombre"),
    ({"lines": []}, "Donnez au moins un montant HT et sa TVA."),
    ({"issue_date": "31/02/2026"}, "Date de la facture : « 31/02/2026 » n'est pas une date"),
    ({"issue_date": ""}, "Date de la facture : à renseigner."),
    ({"supplier": " "}, "Fournisseur"),
    ({"paid_on": "01/01/2026"}, "Payée le : pas avant la date de la facture."),
    ({"category": "casino"}, "Catégorie inconnue"),
])
def test_bad_expenses_are_refused_and_nothing_is_written(demo, overrides, message):
    with pytest.raises(InvalidInput) as refused, demo.transaction() as s:
        expenses.create(s, bakery(s), typed(**overrides))
    assert message in refused.value.reason
    with demo.session() as s:
        assert count(s) == 0


def _csv(*rows: str) -> bytes:
    header = "fournisseur;numero;date;categorie;payee_le;ht_20;tva_20;ht_5_5;tva_5_5"
    return ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8-sig")


def test_import_is_all_or_nothing(demo):
    bad = _csv("Minoterie;A1;02/01/2026;fournitures;;100;20;;",
               "EDF;A2;pas une date;énergie;;50;10;;",
               "Métro;A3;03/01/2026;;;10;30;;")
    with pytest.raises(tables.ImportRefused) as refused, demo.transaction() as s:
        expense_import.import_rows(s, bakery(s), expense_import.read(bad, ".csv"))
    assert refused.value.errors == [
        "Dépenses, ligne 3 : Date de la facture : « pas une date » n'est pas une date "
        "(JJ/MM/AAAA).",
        "Dépenses, ligne 4 : Taux n° 1 : la TVA (30.00 €) dépasse le montant HT (10.00 €)."]
    with demo.session() as s:
        assert count(s) == 0
    good = _csv("Minoterie;A1;02/01/2026;fournitures;10/01/2026;100;20;200;11",
                "EDF;A2;05/01/2026;énergie;;50;10;;")
    with demo.transaction() as s:
        assert expense_import.import_rows(s, bakery(s), expense_import.read(good, ".csv")) == 2
    with demo.session() as s:
        assert sorted((e.supplier, e.total_ttc) for e in s.scalars(
            select(Expense).where(Expense.origin == "import"))) == [
            ("EDF", Decimal("60.00")), ("Minoterie", Decimal("331.00"))]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol3;</Invoice>"""
XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
       b'<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:'
       b'CrossIndustryInvoice:100">&x;</rsm:CrossIndustryInvoice>')


def _deposit(demo, settings, blobs, login, name, data) -> int:
    with demo.transaction() as s:
        company = bakery(s)
        folder = resolve(s, company, [expenses.PURCHASES])
        location = operations.deposit_bytes(s, inv.principal(s, login), blobs,
                                            Limits.from_settings(settings.drive), folder,
                                            name, data)
        return location.node.id


def test_received_e_invoices_are_offered_and_hostile_ones_reported(demo, settings, blobs):
    with demo.transaction() as s:
        received.consider_scanned(s)  # the demo's own history is no news
    pdf = facturx.facturx_pdf(inv.supplier_sheet())
    ubl_like = facturx.xml_of(inv.supplier_sheet("M-2026-018"))
    deposited = {name: _deposit(demo, settings, blobs, login, name, data) for login, name, data
                 in [("martin", "Minoterie mars.pdf", pdf),
                     ("secretaire", "minoterie-018.xml", ubl_like),
                     ("martin", "bombe.xml", BILLION_LAUGHS),
                     ("expert", "xxe.xml", XXE),
                     ("martin", "cassé.xml", b"<Invoice><oops></Invoice>"),
                     ("martin", "ticket scanné.pdf", b"%PDF-1.4\nnot really\n%%EOF\n"),
                     ("martin", "photo.jpg", b"\xff\xd8\xff\xe0")]}
    with demo.session() as s:  # every deposit is there, whatever its content
        assert all(s.get(Node, node_id).deleted_at is None for node_id in deposited.values())
    with demo.transaction() as s:
        assert received.scan_deposits(s, blobs) >= 7
    with demo.session() as s:
        found = {r.name: r for r in s.scalars(select(ReceivedInvoice).where(
            ReceivedInvoice.node_id.in_(deposited.values())))}
        assert set(found) == {"Minoterie mars.pdf", "minoterie-018.xml", "bombe.xml",
                              "xxe.xml", "cassé.xml"}
        assert found["bombe.xml"].state == "illisible"
        assert "DOCTYPE" in found["bombe.xml"].problem
        assert "DOCTYPE" in found["xxe.xml"].problem and "root:" not in found["xxe.xml"].problem
        assert found["cassé.xml"].problem.startswith("XML mal formé")
        offer = received.proposal_of(found["Minoterie mars.pdf"])
        assert (offer.supplier, offer.number, offer.issue_date, offer.due_date) == (
            "Minoterie du Rhône", "M-2026-017", "30/03/2026", "29/04/2026")
        assert {(v.rate, v.taxable, v.vat) for v in offer.lines} == {
            ("20", "20,00", "4,00"), ("5,5", "15,00", "0,83")}
        assert received.proposal_of(found["minoterie-018.xml"]).number == "M-2026-018"
        proposal_id = found["Minoterie mars.pdf"].id
        pdf_node = found["Minoterie mars.pdf"].node_id
    with demo.transaction() as s:
        company = bakery(s)
        offer = received.get(s, company, proposal_id)
        expense = received.confirm(s, company, offer, received.proposal_of(offer), None)
        assert expense.node_id == pdf_node and expense.total_ttc == Decimal("39.83")
    with demo.session() as s:
        assert expenses.expense_of_node(s, pdf_node).number == "M-2026-017"
    with demo.transaction() as s:  # a second scan reads nothing again
        received.scan_deposits(s, blobs)
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(ReceivedInvoice)) == 5 + 1  # demo's


def test_attach_and_deposit_the_document_of_an_expense(demo, settings, blobs):
    node_id = _deposit(demo, settings, blobs, "martin", "edf.pdf", b"%PDF-1.4 edf")
    with demo.transaction() as s:
        company = bakery(s)
        expense = expenses.create(s, company, typed())
        expenses.attach(s, inv.principal(s, "martin"), expense, node_id)
        other = expenses.create(s, company, typed(number="M-18"))
        expenses.deposit(s, inv.principal(s, "martin"), blobs,
                         Limits.from_settings(settings.drive), company, other,
                         "Minoterie M-18.pdf", b"%PDF-1.4 minoterie")
        deposited = other.node_id
    with demo.session() as s:
        assert expenses.expense_of_node(s, node_id).number == "M-17"
        node = s.get(Node, deposited)
        assert node.name == "Minoterie M-18.pdf"
        assert expenses.expense_of_node(s, deposited).number == "M-18"
    # A document outside Achats, or of another company, cannot be attached.
    with demo.session() as s:
        sales = resolve(s, bakery(s), ["Ventes"])
        outside = s.scalar(select(Node.id).where(Node.parent_id == sales.node.id,
                                                 Node.kind == "file").limit(1))
    with pytest.raises(NotFound), demo.transaction() as s:
        expense = expenses.create(s, bakery(s), typed(number="M-19"))
        expenses.attach(s, inv.principal(s, "martin"), expense, outside)
