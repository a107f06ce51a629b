"""A company's invoicing settings (seed 000, "paramétrer vos factures"): the seller's identity
printed on every document, the layout, colours and logo, the numbering prefixes, the default
terms, the VAT options, and the reference document new ones start from."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from sqlalchemy.orm import Session

from acl.documents.blobs import BlobStore
from acl.errors import InvalidInput
from acl.invoicing import checks
from acl.invoicing.models import InvoicingDocument, InvoicingProfile, Layout
from acl.invoicing.numbering import check_prefix
from acl.people.cabinet import LOGO_MAX_BYTES, LOGO_TYPES, logo_kind  # noqa: F401 (shared)
from acl.people.models import Company

POSITIONS = ("gauche", "centre", "droite")
REGISTRIES = ("", "RCS", "RM")
_ADDRESS = re.compile(r"^(?P<street>.*?)[,\s]+(?P<postcode>\d{5})\s+(?P<city>.+)$", re.S)


def profile_of(session: Session, company: Company, *, saved: bool = False
               ) -> InvoicingProfile:
    """The company's settings; before the company saves its own, those made from what the
    firm knows of it (kept in the session only when `saved`, by the functions that change
    them: a page that only reads writes nothing)."""
    profile = session.get(InvoicingProfile, company.id)
    if profile is not None:
        return profile
    profile = InvoicingProfile(company_id=company.id, legal_name=company.name,
                               legal_form=company.legal_form, siren=company.siren)
    found = _ADDRESS.match(" ".join(company.address.split()))
    if found:
        profile.address_line1 = found["street"].strip(" ,")[:200]
        profile.postcode, profile.city = found["postcode"], found["city"].strip()[:100]
    else:
        profile.address_line1 = company.address.strip()[:200]
    for field in fields(ProfileInput):  # the defaults of the columns, before the first flush
        if getattr(profile, field.name, None) is None:
            setattr(profile, field.name, InvoicingProfile.__table__.c[field.name].default.arg)
    if saved:
        session.add(profile)
        session.flush()
    return profile


@dataclass
class ProfileInput:
    """The settings form, as typed."""

    legal_name: str = ""
    legal_form: str = ""
    share_capital: str = ""
    registry_kind: str = ""
    registry_city: str = ""
    siren: str = ""
    vat_number: str = ""
    address_line1: str = ""
    address_line2: str = ""
    postcode: str = ""
    city: str = ""
    country: str = "FR"
    email: str = ""
    phone: str = ""
    iban: str = ""
    bic: str = ""
    layout: str = Layout.CLASSIC.value
    colour: str = "#1f4e79"
    accent: str = "#e8eef5"
    logo_position: str = "gauche"
    invoice_prefix: str = "F-{année}-"
    quote_prefix: str = "D-{année}-"
    credit_prefix: str = "AV-{année}-"
    payment_days: str = "30"
    quote_days: str = "30"
    payment_terms: str = ""
    default_notes: str = ""
    late_penalty: str = ""
    discount_terms: str = ""
    vat_franchise: bool = False
    vat_on_debits: bool = False

    @classmethod
    def of(cls, profile: InvoicingProfile) -> ProfileInput:
        values = {f.name: getattr(profile, f.name) for f in fields(cls)}
        values["payment_days"] = str(values["payment_days"])
        values["quote_days"] = str(values["quote_days"])
        return cls(**values)


def update_profile(session: Session, company: Company, data: ProfileInput) -> InvoicingProfile:
    """Check every field (a refusal names its field) and save them all, or none."""
    text = checks.text
    values = {
        "legal_name": text(data.legal_name, "legal_name", "Raison sociale", limit=200,
                           required=True),
        "legal_form": text(data.legal_form, "legal_form", "Forme juridique", limit=50),
        "share_capital": text(data.share_capital, "share_capital", "Capital social", limit=40),
        "registry_city": text(data.registry_city, "registry_city", "Ville du greffe",
                              limit=100),
        "siren": checks.company_number(data.siren, "siren"),
        "vat_number": checks.vat_number(data.vat_number, "vat_number"),
        "address_line1": text(data.address_line1, "address_line1", "Adresse", limit=200,
                              required=True),
        "address_line2": text(data.address_line2, "address_line2", "Complément d'adresse",
                              limit=200),
        "postcode": text(data.postcode, "postcode", "Code postal", limit=20, required=True),
        "city": text(data.city, "city", "Ville", limit=100, required=True),
        "country": checks.country(data.country, "country"),
        "email": checks.email(data.email),
        "phone": text(data.phone, "phone", "Téléphone", limit=40),
        "iban": checks.iban_number(data.iban),
        "bic": checks.bic_code(data.bic),
        "colour": checks.colour(data.colour, "colour"),
        "accent": checks.colour(data.accent, "accent"),
        "invoice_prefix": check_prefix(data.invoice_prefix, "invoice_prefix"),
        "quote_prefix": check_prefix(data.quote_prefix, "quote_prefix"),
        "credit_prefix": check_prefix(data.credit_prefix, "credit_prefix"),
        "payment_days": checks.days(data.payment_days, "payment_days",
                                    "Délai de paiement", highest=60),
        "quote_days": checks.days(data.quote_days, "quote_days", "Validité des devis",
                                  highest=365),
        "payment_terms": text(data.payment_terms, "payment_terms", "Conditions de paiement",
                              limit=1000, multiline=True),
        "default_notes": text(data.default_notes, "default_notes", "Notes", limit=2000,
                              multiline=True),
        "late_penalty": text(data.late_penalty, "late_penalty", "Pénalités de retard",
                             limit=200, required=True),
        "discount_terms": text(data.discount_terms, "discount_terms", "Escompte", limit=200,
                               required=True),
        "vat_franchise": bool(data.vat_franchise),
        "vat_on_debits": bool(data.vat_on_debits),
    }
    if data.registry_kind not in REGISTRIES:
        raise InvalidInput("Registre : RCS (commerçants), RM (artisans) ou aucun.",
                           field="registry_kind")
    values["registry_kind"] = data.registry_kind
    if data.layout not in {layout.value for layout in Layout}:
        raise InvalidInput("Modèle de document inconnu.", field="layout")
    values["layout"] = data.layout
    if data.logo_position not in POSITIONS:
        raise InvalidInput("Position du logo : gauche, centre ou droite.",
                           field="logo_position")
    values["logo_position"] = data.logo_position
    if len({values["invoice_prefix"], values["quote_prefix"], values["credit_prefix"]}) < 3:
        raise InvalidInput("Devis, factures et avoirs ont chacun leur préfixe.",
                           field="credit_prefix")
    profile = profile_of(session, company, saved=True)
    for name, value in values.items():
        setattr(profile, name, value)
    return profile


def set_logo(session: Session, company: Company, blobs: BlobStore,
             data: bytes | None) -> InvoicingProfile:
    """The company's logo (None: none)."""
    profile = profile_of(session, company, saved=True)
    if data is None:
        profile.logo_sha256, profile.logo_type = None, ""
        return profile
    kind = logo_kind(data)
    sha, _ = blobs.put_bytes(data)
    profile.logo_sha256, profile.logo_type = sha, kind
    return profile


def set_reference(session: Session, company: Company,
                  document: InvoicingDocument | None) -> InvoicingProfile:
    """The document every new quote or invoice starts from (lines, notes, terms)."""
    profile = profile_of(session, company, saved=True)
    if document is not None and document.company_id != company.id:
        raise InvalidInput("Ce document n'est pas de cette entreprise.")
    profile.reference_document_id = document.id if document is not None else None
    return profile
