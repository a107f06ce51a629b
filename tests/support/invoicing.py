"""The invoicing space of the demo's Garage Dupont, set up for issuing: its settings complete,
a professional customer and two articles. Shared by the invoicing tests. (Boulangerie Martin
has the demo's own documents; the garage starts empty, so its first number is 0001.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.invoicing import amounts, articles, customers, documents, profile
from acl.invoicing.documents import DraftInput, LineInput
from acl.invoicing.models import DocKind, InvoicingDocument
from acl.invoicing.sheet import Address, Party, Sheet, SheetLine
from acl.people.accounts import find_user
from acl.people.models import Company
from acl.rights.policy import Principal
from acl.rights.principals import load_principal

GARAGE = "Garage Dupont"
GARAGE_VAT = "FR96552100554"  # the key of SIREN 552100554
CUSTOMER = "Hôtel du Parc"
CUSTOMER_SIREN = "732829320"
CUSTOMER_VAT = "FR44732829320"


@dataclass
class Space:
    company_id: int
    customer_id: int
    bread_id: int  # an article at 5.5 %
    catering_id: int  # an article at 10 %

    def company(self, session: Session) -> Company:
        return session.get(Company, self.company_id)


def garage(session: Session) -> Company:
    return session.scalar(select(Company).where(Company.name == GARAGE))


def principal(session: Session, login: str) -> Principal:
    return load_principal(session, find_user(session, login))


def settings_input(**overrides) -> profile.ProfileInput:
    values = dict(legal_name="Garage Dupont", legal_form="SAS",
                  share_capital="50 000 €", registry_kind="RCS", registry_city="Bordeaux",
                  siren="552100554", vat_number=GARAGE_VAT,
                  address_line1="3 avenue des Mécaniciens", postcode="33000", city="Bordeaux",
                  email="contact@garage-dupont.invalid",
                  iban="FR7630006000011234567890189", bic="AGRIFRPP",
                  late_penalty="taux d'intérêt de la BCE majoré de 10 points",
                  discount_terms="pas d'escompte pour paiement anticipé")
    values.update(overrides)
    return profile.ProfileInput(**values)


def set_up(session: Session) -> Space:
    company = garage(session)
    profile.update_profile(session, company, settings_input())
    customer = customers.create(session, company, customers.CustomerInput(
        name=CUSTOMER, address_line1="8 place Bellecour", postcode="69002", city="Lyon",
        siren=CUSTOMER_SIREN, vat_number=CUSTOMER_VAT, email="compta@hotel-du-parc.invalid"))
    bread = articles.create(session, company, articles.ArticleInput(
        reference="PAIN", designation="Pain de campagne", unit="pièce", unit_price="2,40",
        vat_rate="5,5", nature="bien"))
    catering = articles.create(session, company, articles.ArticleInput(
        reference="TRAITEUR", designation="Buffet traiteur", unit="forfait",
        unit_price="350", vat_rate="10", nature="service"))
    return Space(company.id, customer.id, bread.id, catering.id)


def draft(session: Session, space: Space, kind: DocKind = DocKind.INVOICE,
          lines: list[LineInput] | None = None, **fields) -> InvoicingDocument:
    company = space.company(session)
    document = documents.new_draft(session, company, kind, None)
    lines = lines if lines is not None else [
        LineInput("Pain de campagne", "120", "pièce", "2,40", "5,5", nature="bien",
                  reference="PAIN"),
        LineInput("Buffet traiteur", "1", "forfait", "350", "10", discount="5"),
        LineInput("Livraison", "1", "forfait", "25", "20"),
    ]
    return documents.save_draft(session, company, document, DraftInput(
        customer_id=str(space.customer_id), lines=lines, **fields))


def bakery(session: Session) -> Company:
    return session.scalar(select(Company).where(Company.name == "Boulangerie Martin"))


def supplier_sheet(number: str = "M-2026-017") -> Sheet:
    """A supplier's invoice to the bakery (5.5 % and 20 %), to receive as an e-invoice."""
    seller = Party("Minoterie du Rhône", Address("1 quai Perrache", "", "69002", "Lyon"),
                   siren="552100554", vat_number="FR96552100554",
                   iban="FR7630006000011234567890189")
    buyer = Party("Boulangerie Martin", Address("12 rue du Four", "", "69002", "Lyon"),
                  siren="732829320", vat_number="FR44732829320")
    lines = (SheetLine(position=1, reference="F", designation="Farine T65", quantity=Decimal(10),
                       unit="kg", unit_price=Decimal("1.5"), discount=Decimal(0),
                       vat_rate=Decimal("5.5"), vat_category="S", vat_exemption="",
                       nature="bien", net=Decimal("15.00")),
             SheetLine(position=2, reference="L", designation="Livraison", quantity=Decimal(1),
                       unit="forfait", unit_price=Decimal(20), discount=Decimal(0),
                       vat_rate=Decimal(20), vat_category="S", vat_exemption="",
                       nature="service", net=Decimal("20.00")))
    totals = amounts.totals([amounts.Line(Decimal(10), Decimal("1.5"), Decimal("5.5")),
                             amounts.Line(Decimal(1), Decimal(20), Decimal(20))])
    return Sheet(kind="facture", title="Facture", number=number, issue_date=date(2026, 3, 30),
                 due_date=date(2026, 4, 29), service_date=None, seller=seller, buyer=buyer,
                 delivery=None, lines=lines, totals=totals, payment_terms="30 jours")
