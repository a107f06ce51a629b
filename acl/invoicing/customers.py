"""A company's customers: who its quotes and invoices are made out to. Created, changed and
archived one by one or imported (`acl.invoicing.catalog_import`); an archived customer is
no longer offered for new documents but keeps every document made out to it."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from acl.db import folded
from acl.errors import InvalidInput, NameTaken, NotFound
from acl.invoicing import checks
from acl.invoicing.models import Customer, CustomerKind
from acl.invoicing.sheet import Address, Party
from acl.people.models import Company
from config.names import fold

SUGGESTIONS = 10


@dataclass
class CustomerInput:
    """The customer form, as typed."""

    name: str = ""
    kind: str = CustomerKind.PROFESSIONAL.value
    address_line1: str = ""
    address_line2: str = ""
    postcode: str = ""
    city: str = ""
    country: str = "FR"
    delivery_line1: str = ""
    delivery_line2: str = ""
    delivery_postcode: str = ""
    delivery_city: str = ""
    delivery_country: str = ""
    siren: str = ""
    vat_number: str = ""
    email: str = ""
    payment_days: str = ""  # "" = the company's default

    @classmethod
    def of(cls, customer: Customer) -> CustomerInput:
        values = {f.name: getattr(customer, f.name) for f in fields(cls)}
        values["payment_days"] = "" if customer.payment_days is None \
            else str(customer.payment_days)
        return cls(**values)


def _values(data: CustomerInput) -> dict[str, object]:
    text = checks.text
    if data.kind not in {kind.value for kind in CustomerKind}:
        raise InvalidInput("Type de client : professionnel ou particulier.", field="kind")
    values: dict[str, object] = {
        "name": text(data.name, "name", "Nom du client", limit=200, required=True),
        "kind": data.kind,
        "address_line1": text(data.address_line1, "address_line1", "Adresse", limit=200),
        "address_line2": text(data.address_line2, "address_line2", "Complément d'adresse",
                              limit=200),
        "postcode": text(data.postcode, "postcode", "Code postal", limit=20),
        "city": text(data.city, "city", "Ville", limit=100),
        "country": checks.country(data.country, "country"),
        "delivery_line1": text(data.delivery_line1, "delivery_line1", "Adresse de livraison",
                               limit=200),
        "delivery_line2": text(data.delivery_line2, "delivery_line2",
                               "Complément de l'adresse de livraison", limit=200),
        "delivery_postcode": text(data.delivery_postcode, "delivery_postcode",
                                  "Code postal de livraison", limit=20),
        "delivery_city": text(data.delivery_city, "delivery_city", "Ville de livraison",
                              limit=100),
        "delivery_country": checks.country(data.delivery_country, "delivery_country",
                                           required=False),
        "siren": checks.company_number(data.siren, "siren"),
        "vat_number": checks.vat_number(data.vat_number, "vat_number"),
        "email": checks.email(data.email),
        "payment_days": None if not str(data.payment_days).strip() else checks.days(
            data.payment_days, "payment_days", "Délai de paiement", highest=60),
    }
    if values["kind"] == CustomerKind.PRIVATE.value and values["siren"]:
        raise InvalidInput("Un particulier n'a pas de SIREN : choisissez « professionnel ».",
                           field="siren")
    return values


def _require_unique(session: Session, company: Company, name: str,
                    customer_id: int | None = None) -> None:
    same = select(Customer.id).where(Customer.company_id == company.id,
                                     func.lower(Customer.name) == name.lower(),
                                     Customer.archived.is_(False))
    if customer_id is not None:
        same = same.where(Customer.id != customer_id)
    if session.scalar(same) is not None:
        raise NameTaken(f"Un client « {name} » existe déjà.", field="name")


def create(session: Session, company: Company, data: CustomerInput) -> Customer:
    values = _values(data)
    _require_unique(session, company, str(values["name"]))
    customer = Customer(company_id=company.id, **values)
    session.add(customer)
    session.flush()
    return customer


def update(session: Session, company: Company, customer: Customer,
           data: CustomerInput) -> Customer:
    """Change a customer; the documents already issued keep what they said of it."""
    values = _values(data)
    _require_unique(session, company, str(values["name"]), customer.id)
    for name, value in values.items():
        setattr(customer, name, value)
    return customer


def set_archived(session: Session, company: Company, customer: Customer,
                 archived: bool) -> Customer:
    if not archived:
        _require_unique(session, company, customer.name, customer.id)
    customer.archived = archived
    return customer


def get(session: Session, company: Company, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.company_id != company.id:
        raise NotFound("Client introuvable.")
    return customer


def by_name(session: Session, company: Company, name: str) -> Customer | None:
    """The active customer of that name (case aside), as chosen in the editor."""
    return session.scalar(select(Customer).where(
        Customer.company_id == company.id, Customer.archived.is_(False),
        folded(Customer.name) == fold(name.strip())))


def listing(session: Session, company: Company, *, query: str = "",
            archived: bool = False) -> list[Customer]:
    statement = select(Customer).where(Customer.company_id == company.id,
                                       Customer.archived.is_(archived))
    if query.strip():
        statement = statement.where(_matches(query))
    return list(session.scalars(statement.order_by(func.lower(Customer.name))))


def suggestions(session: Session, company: Company, query: str) -> list[Customer]:
    """The active customers matching what is being typed (name, city, SIREN)."""
    if not query.strip():
        return []
    return list(session.scalars(
        select(Customer).where(Customer.company_id == company.id,
                               Customer.archived.is_(False), _matches(query))
        .order_by(func.lower(Customer.name)).limit(SUGGESTIONS)))


def _matches(query: str):
    text = fold(query.strip())
    return or_(folded(Customer.name).contains(text, autoescape=True),
               folded(Customer.city).contains(text, autoescape=True),
               Customer.siren.contains(text, autoescape=True))


def party_of(customer: Customer) -> Party:
    """The customer as a document names it (the buyer)."""
    return Party(
        name=customer.name,
        address=Address(customer.address_line1, customer.address_line2, customer.postcode,
                        customer.city, customer.country),
        siren=customer.siren, vat_number=customer.vat_number, email=customer.email,
        professional=customer.kind == CustomerKind.PROFESSIONAL.value)


def delivery_of(customer: Customer) -> Address | None:
    """Where goods go, when it is not the billing address."""
    delivery = Address(customer.delivery_line1, customer.delivery_line2,
                       customer.delivery_postcode, customer.delivery_city,
                       customer.delivery_country or customer.country)
    return None if delivery.is_empty else delivery
