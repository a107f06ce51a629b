"""The demo's invoicing: Boulangerie Martin has its settings and logo, customers and
articles, quotes, issued invoices (one paid, one late), a credit note, and one invoice
already sent to the accountant, so that `expert` finds its Factur-X PDF in Ventes; a few
expenses, and a supplier's Factur-X received in Achats, recognised and waiting to be
confirmed as an expense. The firm's access to its invoicing is off (the company consents
from "Accès du cabinet"), so that the refusal can be seen before the reports.

Everything goes through `acl.invoicing`, as a user's clicks would: numbers, mentions,
frozen documents, the filing in Ventes with its receipt and event."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from acl.documents import operations, store
from acl.documents.blobs import BlobStore
from acl.documents.limits import Limits
from acl.invoicing import (
    amounts,
    articles,
    customers,
    delivery,
    documents,
    expenses,
    facturx,
    profile,
    received,
)
from acl.invoicing.documents import DraftInput, LineInput
from acl.invoicing.expenses import ExpenseInput, VatInput
from acl.invoicing.models import DocKind
from acl.invoicing.sheet import Address, Party, Sheet, SheetLine
from acl.people.models import Company, User
from acl.rights.principals import load_principal
from config.settings import Settings

COLOUR = "#8a4b16"  # a bakery's brown
ACCENT = "#f6ece2"


def logo_png() -> bytes:
    """A small round logo with the company's initials."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (240, 120), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((8, 8, 112, 112), fill=COLOUR)
    font = ImageFont.load_default(size=44)
    draw.text((60, 60), "BM", fill="white", font=font, anchor="mm")
    draw.text((124, 60), "Martin", fill=COLOUR, font=ImageFont.load_default(size=30),
              anchor="lm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _day(days_ago: int, today: date) -> str:
    return (today - timedelta(days=days_ago)).strftime("%d/%m/%Y")


def create(session: Session, settings: Settings, blobs: BlobStore, company: Company,
           martin: User, today: date | None = None) -> None:
    today = today or date.today()
    profile.update_profile(session, company, profile.ProfileInput(
        legal_name="Boulangerie Martin", legal_form="SARL", share_capital="10 000 €",
        registry_kind="RCS", registry_city="Lyon", siren="732829320",
        vat_number="FR44732829320", address_line1="12 rue du Four", postcode="69002",
        city="Lyon", email="martin@demo.invalid", phone="04 78 00 00 00",
        iban="FR7630006000011234567890189", bic="AGRIFRPP", layout="classique",
        colour=COLOUR, accent=ACCENT, logo_position="gauche",
        payment_terms="Paiement par virement à 30 jours.",
        default_notes="Merci de votre confiance.",
        late_penalty="taux d'intérêt de la BCE majoré de 10 points",
        discount_terms="pas d'escompte pour paiement anticipé"))
    profile.set_logo(session, company, blobs, logo_png())

    hotel = customers.create(session, company, customers.CustomerInput(
        name="Hôtel du Parc", address_line1="8 place Bellecour", postcode="69002",
        city="Lyon", siren="552100554", vat_number="FR96552100554",
        email="compta@hotel-du-parc.invalid"))
    cafe = customers.create(session, company, customers.CustomerInput(
        name="Café des Arts", address_line1="4 rue Mercière", postcode="69002", city="Lyon",
        siren="542051180", email="cafe-des-arts@demo.invalid", payment_days="15"))
    customers.create(session, company, customers.CustomerInput(
        name="Mme Claire Durand", kind="particulier", address_line1="21 quai Saint-Vincent",
        postcode="69001", city="Lyon", email="c.durand@demo.invalid"))
    for reference, designation, unit, price, rate, nature in [
            ("PAIN", "Pain de campagne (1 kg)", "pièce", "4,20", "5,5", "bien"),
            ("BAG", "Baguette tradition", "pièce", "1,10", "5,5", "bien"),
            ("VIEN", "Plateau de viennoiseries (24 pièces)", "unité", "28", "5,5", "bien"),
            ("BUFFET", "Buffet traiteur sur place", "forfait", "350", "10", "service"),
            ("LIVR", "Livraison", "forfait", "15", "20", "service")]:
        articles.create(session, company, articles.ArticleInput(
            reference, designation, unit, price, rate, "", nature))

    def issue(kind: DocKind, customer, days_ago: int, lines: list[LineInput], **fields):
        document = documents.new_draft(session, company, kind, martin.id, customer=customer)
        documents.save_draft(session, company, document, DraftInput(
            customer_id=str(customer.id), issue_date=_day(days_ago, today),
            notes=document.notes, payment_terms=document.payment_terms, lines=lines,
            **fields))
        return documents.issue(session, company, document, today=today)

    late = issue(DocKind.INVOICE, cafe, 50, [
        LineInput(reference="BAG", quantity="300"), LineInput(reference="VIEN", quantity="4"),
        LineInput(reference="LIVR", quantity="4")])
    paid = issue(DocKind.INVOICE, hotel, 40, [
        LineInput(reference="PAIN", quantity="60"), LineInput(reference="VIEN", quantity="10"),
        LineInput(reference="LIVR", quantity="8")])
    documents.mark_sent(late)
    documents.mark_sent(paid)
    documents.record_payment(session, paid, paid_on=_day(12, today),
                             amount=str(paid.total_ttc), method="virement",
                             user_id=martin.id)
    quote = issue(DocKind.QUOTE, hotel, 35, [
        LineInput(reference="BUFFET", quantity="1"), LineInput(reference="VIEN", quantity="6"),
        LineInput("Pièce montée (60 parts)", "1", "unité", "240", "5,5", nature="bien")],
        purchase_order="Séminaire du 15")
    documents.answer_quote(quote, accepted=True)
    from_quote = documents.invoice_from_quote(session, company, quote, martin.id)
    documents.save_draft(session, company, from_quote, DraftInput(
        customer_id=str(hotel.id), issue_date=_day(20, today),
        purchase_order=from_quote.purchase_order, notes=from_quote.notes,
        payment_terms=from_quote.payment_terms, lines=DraftInput.of(from_quote).lines))
    documents.issue(session, company, from_quote, today=today)
    note = documents.credit_note_for(session, company, paid, martin.id)
    documents.save_draft(session, company, note, DraftInput(
        customer_id=str(hotel.id), issue_date=_day(10, today), notes=note.notes,
        lines=[LineInput(reference="LIVR", quantity="2")]))
    documents.issue(session, company, note, today=today)
    issue(DocKind.QUOTE, cafe, 5, [LineInput(reference="BUFFET", quantity="1")])
    draft = documents.new_draft(session, company, DocKind.INVOICE, martin.id, customer=cafe)
    documents.save_draft(session, company, draft, DraftInput(
        customer_id=str(cafe.id), notes=draft.notes, payment_terms=draft.payment_terms,
        lines=[LineInput(reference="BAG", quantity="250")]))
    delivery.send_to_accountant(session, load_principal(session, martin), company,
                                from_quote, blobs, Limits.from_settings(settings.drive),
                                settings.folders.sales_folder)
    _purchases(session, settings, blobs, company, martin, today)


def _purchases(session: Session, settings: Settings, blobs: BlobStore, company: Company,
               martin: User, today: date) -> None:
    """Three expenses (two rates, one unpaid) and a supplier's Factur-X deposited in Achats,
    read as the worker reads any deposit."""
    for supplier, days_ago, category, paid, lines in [
            ("Minoterie du Rhône", 45, "matières premières", 30,
             [VatInput("5,5", "640,00", "35,20")]),
            ("EDF", 35, "énergie", 20, [VatInput("20", "212,50", "42,50")]),
            ("Emballages Lyonnais", 15, "fournitures", None,
             [VatInput("20", "180,00", "36,00"), VatInput("5,5", "40,00", "2,20")])]:
        expenses.create(session, company, ExpenseInput(
            supplier=supplier, issue_date=_day(days_ago, today), category=category,
            paid_on=_day(paid, today) if paid is not None else "", lines=lines),
            user_id=martin.id)
    received.consider_scanned(session)  # the demo's other deposits are no e-invoices
    folder = store.resolve(session, company, [expenses.PURCHASES])
    operations.deposit_bytes(session, load_principal(session, martin), blobs,
                             Limits.from_settings(settings.drive), folder,
                             "Facture Moulins Réunis MR-2291.pdf",
                             facturx.facturx_pdf(_supplier_invoice(today - timedelta(days=6))))
    received.scan_deposits(session, blobs)


def _supplier_invoice(day: date) -> Sheet:
    seller = Party("Moulins Réunis", Address("5 chemin du Moulin", "", "01000", "Bourg"),
                   siren="542051180", vat_number="FR39542051180",
                   iban="FR7630006000011234567890189")
    buyer = Party("Boulangerie Martin", Address("12 rue du Four", "", "69002", "Lyon"),
                  siren="732829320", vat_number="FR44732829320")
    net = [("Farine T65 (sac de 25 kg)", Decimal(12), Decimal("18.40"), Decimal("5.5"),
            "bien"), ("Transport", Decimal(1), Decimal(35), Decimal(20), "service")]
    lines = tuple(SheetLine(position=n, reference="", designation=name, quantity=quantity,
                            unit="unité", unit_price=price, discount=Decimal(0),
                            vat_rate=rate, vat_category="S", vat_exemption="", nature=nature,
                            net=amounts.cents(quantity * price))
                  for n, (name, quantity, price, rate, nature) in enumerate(net, start=1))
    totals = amounts.totals(amounts.Line(q, p, r) for _, q, p, r, _ in net)
    return Sheet(kind="facture", title="Facture", number="MR-2291", issue_date=day,
                 due_date=day + timedelta(days=30), service_date=None, seller=seller,
                 buyer=buyer, delivery=None, lines=lines, totals=totals,
                 payment_terms="30 jours")
