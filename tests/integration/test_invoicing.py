"""The invoicing domain without a web request: customers, articles, drafts, issue and its
numbering, the frozen documents, credit notes, deposits, payments, lists, imports, the
mails and the filing with the accountant. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError
from support import invoicing as inv
from support.invoicing import draft

from acl import tables
from acl.documents.limits import Limits
from acl.documents.models import Node
from acl.documents.store import resolve
from acl.errors import Conflict, InvalidInput, NameTaken, NotFound, PermissionDenied
from acl.events.models import Event, OutboxMessage
from acl.events.outbox import build_message
from acl.invoicing import (
    access,
    articles,
    catalog_import,
    customers,
    delivery,
    documents,
    exports,
    profile,
)
from acl.invoicing.documents import DraftInput, Filters, LineInput
from acl.invoicing.models import DocKind, DocStatus, InvoicingDocument
from acl.people.accounts import create_user, grant, grant_service
from acl.people.models import Company, User
from acl.rights.models import Level, Role, Service
from config.settings import SmtpSettings

TODAY = date.today()


@pytest.fixture
def space(demo):
    with demo.transaction() as s:
        return inv.set_up(s)


def _issue(db, space, **kw) -> int:
    with db.transaction() as s:
        document = draft(s, space, **kw)
        documents.issue(s, space.company(s), document)
        return document.id


# -- the space is the company's --

@pytest.mark.parametrize("login", ["expert", "associe", "assistant"])
def test_cabinet_staff_find_no_invoicing_space(demo, login):
    with demo.session() as s:
        with pytest.raises(NotFound):
            access.invoicing_company(s, inv.principal(s, login), inv.garage(s).id)


def test_the_interlocuteur_invoices_a_user_only_when_granted(demo):
    with demo.session() as s:
        martin = inv.principal(s, "martin")
        assert access.invoicing_company(s, martin).name == "Boulangerie Martin"
        with pytest.raises(NotFound):
            access.invoicing_company(s, inv.principal(s, "secretaire"))
        with pytest.raises(NotFound):  # another company's space
            access.invoicing_company(s, martin, inv.garage(s).id)


# -- customers and articles --

def test_customer_identifiers_are_checked(demo):
    with demo.transaction() as s:
        company = inv.garage(s)
        for field, value, words in [("siren", "732829321", "SIREN"),
                                    ("vat_number", "FR00732829320", "TVA"),
                                    ("email", "pas-une-adresse", "e-mail"),
                                    ("country", "France", "deux lettres")]:
            with pytest.raises(InvalidInput, match=words) as refused:
                customers.create(s, company, customers.CustomerInput(
                    name="Client", **{field: value}))
            assert refused.value.field == field
        created = customers.create(s, company, customers.CustomerInput(
            name="Hôtel du Parc", siren="552 100 554 00005"))
        assert created.siren == "55210055400005"  # a SIRET, compact
        with pytest.raises(NameTaken):
            customers.create(s, company, customers.CustomerInput(name="hôtel du parc"))
        with pytest.raises(InvalidInput, match="particulier"):
            customers.create(s, company, customers.CustomerInput(
                name="M. Durand", kind="particulier", siren="552100554"))


def test_archived_customers_and_articles_are_no_longer_offered(demo, space):
    with demo.transaction() as s:
        company = space.company(s)
        assert [c.name for c in customers.suggestions(s, company, "parc")] == ["Hôtel du Parc"]
        assert [a.reference for a in articles.suggestions(s, company, "campagne")] == ["PAIN"]
        customers.set_archived(s, company, customers.get(s, company, space.customer_id), True)
        articles.set_archived(articles.get(s, company, space.bread_id), True)
        assert customers.suggestions(s, company, "parc") == []
        assert articles.suggestions(s, company, "campagne") == []
        assert customers.suggestions(s, company, "%") == []  # a wildcard is a character


def test_article_prices_and_rates_are_checked(demo):
    with demo.transaction() as s:
        company = inv.garage(s)
        cases = [({"unit_price": "douze"}, "n'est pas un nombre"),
                 ({"unit_price": "1e13"}, "hors de toute mesure"),
                 ({"unit_price": "-3"}, "négatif"),
                 ({"vat_rate": "19,6"}, "Taux de TVA inconnu"),
                 ({"vat_rate": "0"}, "raison"),
                 ({"unit": "boisseau"}, "Unité inconnue")]
        for change, words in cases:
            data = articles.ArticleInput(**{"reference": "X", "designation": "X",
                                            "unit_price": "1", "vat_rate": "20", **change})
            with pytest.raises(InvalidInput, match=words):
                articles.create(s, company, data)
        exempt = articles.create(s, company, articles.ArticleInput(
            reference="EXPORT", designation="Export", unit_price="1", vat_rate="0",
            vat_exemption="export"))
        assert (exempt.vat_rate, exempt.vat_exemption) == (Decimal("0.00"), "export")


# -- amounts --

def test_a_draft_adds_up_to_the_cent_per_line_and_per_rate(demo, space):
    with demo.transaction() as s:
        document = draft(s, space)
        assert [line.net for line in document.lines] == [
            Decimal("288.00"), Decimal("332.50"), Decimal("25.00")]
        assert (document.total_ht, document.total_vat, document.total_ttc) == (
            Decimal("645.50"), Decimal("54.09"), Decimal("699.59"))
        assert document.number is None and document.status == DocStatus.DRAFT.value


def test_vat_is_rounded_once_per_rate_not_per_line(demo, space):
    lines = [LineInput(f"Croissant {i}", "1", "pièce", "0,95", "5,5") for i in range(3)]
    with demo.transaction() as s:
        document = draft(s, space, lines=lines)
        # 3 × 0.95 = 2.85 at 5.5 % = 0.15675 -> 0.16 (per line it would be 3 × 0.05 = 0.15)
        assert document.total_vat == Decimal("0.16")


@pytest.mark.parametrize("change, words", [
    ({"quantity": "deux"}, "Ligne 1 : Quantité"),
    ({"unit_price": "12,345,6"}, "Ligne 1 : Prix unitaire HT"),
    ({"unit_price": "1000000000000"}, "hors de toute mesure"),
    ({"quantity": "999999999", "unit_price": "99999999"}, "hors de toute mesure"),
    ({"vat_rate": "7"}, "Taux de TVA inconnu"),
    ({"discount": "120"}, "100 % au plus"),
    ({"designation": "Pain\x00"}, "contrôle"),
])
def test_a_line_that_is_not_numbers_is_refused_and_nothing_is_saved(demo, space, change,
                                                                        words):
    with demo.transaction() as s:
        document = draft(s, space)
        document_id = document.id
    line = {"designation": "Pain", "quantity": "1", "unit_price": "1", "vat_rate": "20",
            **change}
    with pytest.raises(InvalidInput, match=words):
        with demo.transaction() as s:
            company = space.company(s)
            documents.save_draft(s, company, documents.get(s, company, document_id),
                                 DraftInput(customer_id=str(space.customer_id),
                                            lines=[LineInput(**line)]))
    with demo.session() as s:
        assert s.get(InvoicingDocument, document_id).total_ttc == Decimal("699.59")


def test_markup_in_a_designation_is_kept_as_text(demo, space):
    with demo.transaction() as s:
        document = draft(s, space, lines=[LineInput("<b>Pain</b> <script>x()</script>", "1",
                                                    "unité", "1", "20")])
        assert document.lines[0].designation == "<b>Pain</b> <script>x()</script>"


# -- issue --

def test_issue_numbers_freezes_and_writes_the_mentions(demo, space):
    with demo.transaction() as s:
        document = draft(s, space)
        documents.issue(s, space.company(s), document)
        assert document.number == f"F-{TODAY.year}-0001"
        assert document.status == DocStatus.ISSUED.value
        assert document.due_date == TODAY + timedelta(days=30)
        sheet = documents.sheet_of(s, space.company(s), document)
    said = " ".join(sheet.mentions)
    assert "pénalités au taux d'intérêt de la BCE majoré de 10 points" in said
    assert "40 €" in said and "Pas d'escompte pour paiement anticipé." in said
    assert "Nature de l'opération : livraison de biens et prestation de services." in said
    assert sheet.buyer.siren == inv.CUSTOMER_SIREN and sheet.seller.vat_number == inv.GARAGE_VAT


def test_issue_refuses_with_one_sentence_naming_what_is_missing(demo, space):
    with demo.transaction() as s:
        company = space.company(s)
        profile.update_profile(s, company, inv.settings_input(siren="", vat_number=""))
        customer = customers.get(s, company, space.customer_id)
        customers.update(s, company, customer, customers.CustomerInput(name="Hôtel du Parc"))
        document = draft(s, space)
        with pytest.raises(InvalidInput) as refused:
            documents.issue(s, company, document)
    reason = refused.value.reason
    assert reason.startswith("Émission impossible : il manque ") and reason.count(".") == 1
    for missing in ("le SIREN de votre entreprise", "numéro de TVA intracommunautaire de "
                    "votre entreprise", "l'adresse de facturation du client",
                    "le SIREN du client"):
        assert missing in reason


def test_an_invoice_without_a_line_or_with_a_negative_total_is_refused(demo, space):
    with demo.transaction() as s:
        with pytest.raises(InvalidInput, match="au moins une ligne"):
            documents.issue(s, space.company(s), draft(s, space, lines=[]))
    with demo.transaction() as s:
        negative = draft(s, space, lines=[LineInput("Remise", "-1", "forfait", "50", "20")])
        with pytest.raises(InvalidInput, match="négatif.*avoir"):
            documents.issue(s, space.company(s), negative)
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(InvoicingDocument)
                        .where(InvoicingDocument.company_id == space.company_id,
                               InvoicingDocument.number.is_not(None))) == 0


def test_numbers_follow_each_other_and_dates_never_go_back(demo, space):
    first = _issue(demo, space, issue_date=(TODAY - timedelta(days=3)).strftime("%d/%m/%Y"))
    second = _issue(demo, space)
    with pytest.raises(InvalidInput, match="les numéros suivent les dates"):
        _issue(demo, space, issue_date=(TODAY - timedelta(days=5)).strftime("%d/%m/%Y"))
    with pytest.raises(InvalidInput, match="futur"):
        _issue(demo, space, issue_date=(TODAY + timedelta(days=1)).strftime("%d/%m/%Y"))
    quote = _issue(demo, space, kind=DocKind.QUOTE)
    third = _issue(demo, space)  # the refusals gave their numbers back
    with demo.session() as s:
        numbers = [s.get(InvoicingDocument, i).number for i in (first, second, third, quote)]
    year = TODAY.year
    assert numbers == [f"F-{year}-0001", f"F-{year}-0002", f"F-{year}-0003", f"D-{year}-0001"]


def test_sixteen_people_issuing_at_once_get_sixteen_numbers_without_a_gap(demo, space):
    with demo.transaction() as s:
        ids = [draft(s, space).id for _ in range(16)]
    barrier = threading.Barrier(16)
    failures: list[BaseException] = []

    def issue(document_id: int) -> None:
        barrier.wait()
        try:
            with demo.transaction() as s:
                company = space.company(s)
                documents.issue(s, company, documents.get(s, company, document_id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=issue, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures
    with demo.session() as s:
        numbers = sorted(s.scalars(select(InvoicingDocument.number)
                                   .where(InvoicingDocument.id.in_(ids))))
    assert numbers == [f"F-{TODAY.year}-{n:04d}" for n in range(1, 17)]


def test_the_database_refuses_to_change_or_delete_an_issued_invoice(demo, space):
    document_id = _issue(demo, space)
    statements = [
        "UPDATE invoicing_document SET total_ttc = 1 WHERE id = :id",
        "UPDATE invoicing_document SET number = 'F-0000' WHERE id = :id",
        "DELETE FROM invoicing_document WHERE id = :id",
        "UPDATE invoicing_line SET quantity = 0 WHERE document_id = :id",
        "DELETE FROM invoicing_line WHERE document_id = :id",
        "INSERT INTO invoicing_line (document_id, position, reference, designation, quantity, "
        "unit, unit_price, discount, vat_rate, vat_exemption, nature, net) VALUES "
        "(:id, 9, '', 'x', 1, 'unité', 1, 0, 2000, '', 'bien', 100)",
    ]
    for statement in statements:
        with pytest.raises(DatabaseError, match="frozen|kept"):
            with demo.transaction() as s:
                s.execute(text(statement), {"id": document_id})
    with demo.transaction() as s:  # its state moves on
        s.execute(text("UPDATE invoicing_document SET status = 'envoyé' WHERE id = :id"),
                  {"id": document_id})
    with demo.transaction() as s:
        company = space.company(s)
        document = documents.get(s, company, document_id)
        with pytest.raises(Conflict, match="avoir"):
            documents.save_draft(s, company, document, DraftInput())
        with pytest.raises(Conflict, match="avoir"):
            documents.delete_draft(s, document)
        assert document.total_ttc == Decimal("699.59")


# -- quotes, deposits, final invoices, credit notes, payments --

def test_a_quote_becomes_an_invoice_that_deducts_its_deposit(demo, space):
    quote_id = _issue(demo, space, kind=DocKind.QUOTE)
    with demo.transaction() as s:
        company = space.company(s)
        quote = documents.get(s, company, quote_id)
        assert quote.number == f"D-{TODAY.year}-0001"
        assert quote.due_date == TODAY + timedelta(days=30)  # valid until
        deposit = documents.deposit_on_quote(s, company, quote, "30", None)
        documents.issue(s, company, deposit)
        # 30 % of each VAT base of the quote: 86.40 + 99.75 + 7.50, VAT 4.75 + 9.98 + 1.50
        assert deposit.total_ht == Decimal("193.65")
        assert deposit.total_ttc == Decimal("209.88")
        assert deposit.number == f"F-{TODAY.year}-0001"  # the invoices' series
        invoice = documents.invoice_from_quote(s, company, quote, None)
        documents.issue(s, company, invoice)
        assert invoice.source_id == quote.id and quote.status == DocStatus.INVOICED.value
        assert invoice.total_ttc == Decimal("699.59") and invoice.prepaid == Decimal("209.88")
        assert documents.left_to_pay(s, invoice) == Decimal("489.71")
        sheet = documents.sheet_of(s, company, invoice)
        assert [d.number for d in sheet.deposits] == [deposit.number]
        assert sheet.totals.due == Decimal("489.71")
        with pytest.raises(Conflict, match="déjà sa facture"):
            documents.invoice_from_quote(s, company, quote, None)


def test_a_credit_note_corrects_in_part_and_never_more_than_is_left(demo, space):
    invoice_id = _issue(demo, space)
    with demo.transaction() as s:
        company = space.company(s)
        invoice = documents.get(s, company, invoice_id)
        note = documents.credit_note_for(s, company, invoice, None)
        assert note.total_ttc == invoice.total_ttc  # in full, to begin with
        documents.save_draft(s, company, note, DraftInput(
            customer_id=str(space.customer_id),
            lines=[LineInput("Livraison non effectuée", "1", "forfait", "25", "20")]))
        documents.issue(s, company, note)
        assert note.number == f"AV-{TODAY.year}-0001" and note.total_ttc == Decimal("30.00")
        assert documents.left_to_pay(s, invoice) == Decimal("669.59")
        assert documents.sheet_of(s, company, note).corrects.number == invoice.number
        too_much = documents.credit_note_for(s, company, invoice, None)  # the full invoice
        with pytest.raises(InvalidInput, match="dépasse ce qui reste à créditer"):
            documents.issue(s, company, too_much)


def test_payments_partial_then_whole(demo, space):
    invoice_id = _issue(demo, space)
    with demo.transaction() as s:
        invoice = documents.get(s, space.company(s), invoice_id)
        day = TODAY.strftime("%d/%m/%Y")
        documents.record_payment(s, invoice, paid_on=day, amount="200", method="virement")
        assert documents.situation(s, invoice) == "partiellement payée"
        with pytest.raises(InvalidInput, match="il ne reste que 499,59"):
            documents.record_payment(s, invoice, paid_on=day, amount="500", method="chèque")
        with pytest.raises(InvalidInput, match="nombre"):
            documents.record_payment(s, invoice, paid_on=day, amount="beaucoup",
                                     method="chèque")
        documents.record_payment(s, invoice, paid_on=day, amount="499,59", method="chèque")
        assert invoice.status == DocStatus.PAID.value
        assert documents.situation(s, invoice) == "payée"


def test_a_late_invoice_says_so(demo, space):
    invoice_id = _issue(demo, space)
    with demo.session() as s:
        invoice = documents.get(s, space.company(s), invoice_id)
        later = invoice.due_date + timedelta(days=1)
        assert documents.situation(s, invoice, later) == "en retard"


def test_the_reference_document_starts_every_new_one(demo, space):
    with demo.transaction() as s:
        company = space.company(s)
        model = draft(s, space, notes="Merci de votre confiance.",
                      payment_terms="Virement à 30 jours.")
        profile.set_reference(s, company, model)
        fresh = documents.new_draft(s, company, DocKind.QUOTE, None)
        assert [line.designation for line in fresh.lines] == [
            "Pain de campagne", "Buffet traiteur", "Livraison"]
        assert (fresh.notes, fresh.payment_terms) == ("Merci de votre confiance.",
                                                      "Virement à 30 jours.")


def test_vat_franchise_puts_every_line_at_zero_with_its_sentence(demo, space):
    with demo.transaction() as s:
        company = space.company(s)
        profile.update_profile(s, company, inv.settings_input(vat_franchise=True,
                                                              vat_number=""))
        document = draft(s, space)
        documents.issue(s, company, document)
        assert document.total_vat == 0 and document.total_ttc == document.total_ht
        assert "TVA non applicable, art. 293 B du CGI." in documents.sheet_of(
            s, company, document).mentions


# -- lists and exports --

def test_the_list_filters_and_totals_with_credit_notes_against(demo, space):
    invoice_id = _issue(demo, space)
    _issue(demo, space, kind=DocKind.QUOTE)
    with demo.transaction() as s:
        company = space.company(s)
        draft(s, space)
        note = documents.credit_note_for(s, company, documents.get(s, company, invoice_id),
                                         None)
        documents.issue(s, company, note)
        everything = documents.list_totals(s, company, Filters())
        assert (everything.count, everything.total_ttc) == (2, Decimal("0.00"))
        invoices = documents.list_totals(s, company, Filters(kind=DocKind.INVOICE.value))
        assert (invoices.count, invoices.total_ht) == (1, Decimal("645.50"))
        assert len(documents.listing(s, company, Filters(query="parc"))) == 4
        assert documents.listing(s, company, Filters(start=TODAY + timedelta(days=1))) == []
        csv_text = exports.as_file(s, company, Filters(), "csv").decode("utf-8-sig")
        assert "645,50" in csv_text and "-699,59" in csv_text and "D-" not in csv_text
        xlsx = exports.as_file(s, company, Filters(), "xlsx")
        assert xlsx.startswith(b"PK")


# -- import of customers and articles --

def test_import_is_all_or_nothing_with_row_numbers(demo):
    good = ("nom;siren;ville\nMoulin Giraud;552100554;Lyon\nÉpicerie Fine;;Villeurbanne\n")
    bad = good + "Sans Siren Valide;123456789;Lyon\n"
    with pytest.raises(tables.ImportRefused) as refused:
        with demo.transaction() as s:
            catalog_import.import_rows(s, inv.garage(s), catalog_import.read(bad.encode(),
                                                                             ".csv"))
    assert refused.value.errors == [
        "Clients, ligne 4 : « 123456789 » n'est pas un SIREN (9 chiffres) ou un SIRET "
        "(14 chiffres) valide."]
    with demo.session() as s:
        assert customers.listing(s, inv.garage(s)) == []
    with demo.transaction() as s:
        result = catalog_import.import_rows(s, inv.garage(s), catalog_import.read(
            good.encode(), ".csv"))
    assert result.customers == ["Moulin Giraud", "Épicerie Fine"]


def test_import_of_articles_from_the_xlsx_template(demo, tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "modele.xlsx"
    tables.write_template(path, catalog_import.SPEC)
    book = load_workbook(path)
    book["Articles"].append(["BAG", "Baguette tradition", "pièce", 1.2, 5.5, "", "bien"])
    book["Articles"].append(["FORMULE", '=HYPERLINK("http://x")', "", "1", "20", "", ""])
    book.save(path)
    with pytest.raises(tables.ImportRefused) as refused:
        catalog_import.read(path.read_bytes(), ".xlsx")
    assert refused.value.errors == [
        "Articles, ligne 3 : la colonne « designation » contient une formule sans valeur "
        "calculée ; enregistrez le classeur dans Excel, ou remplacez la formule par sa valeur."]
    book["Articles"].delete_rows(3)
    book.save(path)
    with demo.transaction() as s:
        result = catalog_import.import_rows(s, inv.garage(s), catalog_import.read(
            path.read_bytes(), ".xlsx"))
        assert result.articles == ["BAG"]
        bag = articles.listing(s, inv.garage(s), query="BAG")[0]
        assert (bag.unit_price, bag.vat_rate, bag.unit) == (Decimal("1.2000"), Decimal("5.50"),
                                                            "pièce")


@pytest.mark.parametrize("data, suffix, words", [
    (b"\x00\x01\x02garbage", ".xlsx", "classeur Excel"),
    (b"PK\x03\x04broken", ".xlsx", "classeur Excel"),
    (b"nom;ville\n\x07;x\n", ".csv", "caractères de contrôle"),
    (b"", ".csv", "aucune ligne"),
    (b"reference;designation\nA;B\n", ".csv", "colonne obligatoire manquante"),
    (b"<svg/>", ".svg", "Format non pris en charge"),
])
def test_a_hostile_import_file_is_refused_whole(demo, data, suffix, words):
    with pytest.raises(tables.ImportRefused) as refused:
        catalog_import.read(data, suffix)
    assert words in " ".join([refused.value.reason, *refused.value.errors])


# -- to the customer, to the accountant --

def test_an_invoice_mailed_to_its_customer_carries_its_pdf(demo, space, blobs):
    invoice_id = _issue(demo, space)
    with demo.transaction() as s:
        company = space.company(s)
        invoice = documents.get(s, company, invoice_id)
        mail = delivery.email_to_customer(s, company, invoice, blobs)
        assert invoice.status == DocStatus.SENT.value
        mail_id = mail.id
    with demo.session() as s:
        message = build_message(s.get(OutboxMessage, mail_id), SmtpSettings(),
                                "Cabinet Démo", blobs)
    assert message["To"] == "compta@hotel-du-parc.invalid"
    assert "Garage Dupont" in message["From"] and message["Subject"].startswith(
        f"Facture F-{TODAY.year}-0001")
    assert message["Reply-To"] == "contact@garage-dupont.invalid"
    body = message.get_body(("plain",)).get_content()
    assert "Bonjour" in body and "699,59" in body
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == f"Facture F-{TODAY.year}-0001.pdf"
    assert attachment.get_content().startswith(b"%PDF")


def test_send_to_the_accountant_files_once_in_ventes(demo, space, blobs, settings):
    invoice_id = _issue(demo, space)
    limits = Limits.from_settings(settings.drive)
    with demo.transaction() as s:
        company = space.company(s)
        invoice = documents.get(s, company, invoice_id)
        filed = delivery.send_to_accountant(s, inv.principal(s, "dupont"), company, invoice,
                                            blobs, limits, "Ventes")
        assert filed.location.path.endswith(
            f"Ventes/Facture F-{TODAY.year}-0001 - Hôtel du Parc.pdf")
        again = delivery.send_to_accountant(s, inv.principal(s, "dupont"), company, invoice,
                                            blobs, limits, "Ventes")
        assert again.again and again.location is None
    with demo.session() as s:
        company = space.company(s)
        ventes = resolve(s, company, ["Ventes"])
        names = [n.name for n in s.scalars(select(Node).where(
            Node.parent_id == ventes.node.id, Node.deleted_at.is_(None)))]
        assert names.count(f"Facture F-{TODAY.year}-0001 - Hôtel du Parc.pdf") == 1
        kinds = list(s.scalars(select(Event.kind).where(Event.company_id == company.id)
                               .order_by(Event.id.desc()).limit(1)))
        assert kinds == ["deposited"]


def test_send_to_the_accountant_needs_the_write_right_on_ventes(demo, space, blobs, settings,
                                                              ctx_of, hasher):
    """A user of the garage granted invoicing but only reading Ventes: the deposit is refused
    by the one permission function, as from the drive, and nothing is filed."""
    invoice_id = _issue(demo, space)
    limits = Limits.from_settings(settings.drive)
    with demo.transaction() as s:
        company = space.company(s)
        boss = ctx_of("dupont", s)
        clerk = create_user(s, boss, hasher, login="atelier", display_name="Atelier",
                            role=Role.UTILISATEUR, email=None, company=company).user
        grant_service(s, boss, clerk, company, Service.INVOICING, True)
        grant(s, boss, clerk, company, "Ventes", Level.READ)
    with demo.transaction() as s:
        company = space.company(s)
        clerk = inv.principal(s, "atelier")
        assert access.invoicing_company(s, clerk).id == company.id
        quote = draft(s, space, kind=DocKind.QUOTE)
        documents.issue(s, company, quote)
        with pytest.raises(InvalidInput, match="facture ou un avoir"):
            delivery.send_to_accountant(s, clerk, company, quote, blobs, limits, "Ventes")
        with pytest.raises(PermissionDenied, match="lecture"):
            delivery.send_to_accountant(s, clerk, company,
                                        documents.get(s, company, invoice_id), blobs, limits,
                                        "Ventes")
    with demo.session() as s:
        assert documents.get(s, space.company(s), invoice_id).filed_at is None


# -- the demo --

def test_the_demo_bakery_has_invoices_to_look_at_and_one_is_in_ventes(demo, blobs):
    """Boulangerie Martin's space, as `martin` first opens it: a paid invoice, a late one, an
    accepted quote invoiced, a credit note, a quote waiting, a draft; the invoice sent to the
    accountant is in Ventes as a Factur-X PDF with its receipt."""
    from facturx import get_facturx_xml_from_pdf

    with demo.session() as s:
        bakery = s.scalar(select(Company).where(Company.name == "Boulangerie Martin"))
        shown = documents.listing(s, bakery, Filters())
        states = {(d.kind, documents.situation(s, d)) for d in shown}
        assert {("facture", "payée"), ("facture", "en retard"), ("devis", "facturé"),
                ("avoir", "émis"), ("devis", "émis"), ("facture", "brouillon")} <= states
        filed = [d for d in shown if d.filed_at is not None]
        assert len(filed) == 1 and filed[0].kind == "facture"
        name = f"Facture {filed[0].number} - Hôtel du Parc.pdf"
        found = resolve(s, bakery, ["Ventes", name])
        assert found is not None and found.node.deleted_at is None
        martin = s.scalar(select(User).where(User.login == "martin"))
        assert found.node.deposited_by_id == martin.id  # the receipt: who deposited it
        with blobs.open(found.node.sha256) as body:
            _name, xml = get_facturx_xml_from_pdf(body.read())
        assert filed[0].number.encode() in xml
