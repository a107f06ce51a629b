"""What an issued (or previewed) quote, invoice or credit note says, whole and frozen: the
one input of the PDF (`acl.invoicing.pdf`) and of the Factur-X XML (`acl.invoicing.facturx`).

A sheet is plain data, made by `acl.invoicing.documents.sheet_of` from a document and its
frozen snapshots of seller and buyer; the renderers never read the database, so a document
draws the same in ten years as the day it was issued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from acl.invoicing.amounts import Totals

# Units a line may count in: French name shown -> UN/ECE Recommendation 20 code (BT-130).
UNITS = {
    "unité": "C62",
    "pièce": "H87",
    "forfait": "LS",
    "heure": "HUR",
    "jour": "DAY",
    "mois": "MON",
    "kg": "KGM",
    "litre": "LTR",
    "m": "MTR",
    "m²": "MTK",
    "m³": "MTQ",
}


@dataclass(frozen=True)
class Address:
    line1: str = ""
    line2: str = ""
    postcode: str = ""
    city: str = ""
    country: str = "FR"  # ISO 3166-1 alpha-2

    @property
    def lines(self) -> list[str]:
        """As printed: street, complement, "69002 Lyon", and the country when not France."""
        out = [line for line in (self.line1, self.line2) if line]
        town = " ".join(part for part in (self.postcode, self.city) if part)
        if town:
            out.append(town)
        if self.country and self.country != "FR":
            out.append(self.country)
        return out

    @property
    def is_empty(self) -> bool:
        return not (self.line1 or self.line2 or self.postcode or self.city)


@dataclass(frozen=True)
class Party:
    """The seller or the buyer, as the document names them."""

    name: str
    address: Address
    siren: str = ""  # 9 digits (BT-30 / BT-47, scheme 0002) — or a SIRET, 14 digits
    vat_number: str = ""  # BT-31 / BT-48
    email: str = ""
    phone: str = ""
    professional: bool = True  # the buyer: professional or private person
    # Seller only.
    legal_form: str = ""
    share_capital: str = ""
    registry: str = ""  # "RCS Lyon", "RM 69"
    iban: str = ""
    bic: str = ""

    @property
    def siren9(self) -> str:
        """The SIREN (the first 9 digits of a SIRET)."""
        return self.siren[:9]


@dataclass(frozen=True)
class SheetLine:
    position: int  # 1, 2, ... (BT-126)
    reference: str  # the article's reference, may be ""
    designation: str  # BT-153, plain text (never markup)
    quantity: Decimal  # BT-129
    unit: str  # a key of UNITS
    unit_price: Decimal  # HT, BT-146
    discount: Decimal  # percent of the line, 0 for none
    vat_rate: Decimal  # 20, 10, 5.5, 2.1 or 0
    vat_category: str  # S, E, AE, K, G (UNTDID 5305)
    vat_exemption: str  # a key of amounts.EXEMPTIONS when the rate is 0
    nature: str  # "bien" or "service"
    net: Decimal  # BT-131, to the cent

    @property
    def unit_code(self) -> str:
        return UNITS.get(self.unit, "C62")


@dataclass(frozen=True)
class Reference:
    """Another document this one names: the invoice a credit note corrects (BT-25/26), the
    quote an invoice comes from, a deposit invoice deducted."""

    number: str
    issue_date: date | None
    amount: Decimal | None = None  # a deducted deposit: its total TTC


@dataclass(frozen=True)
class Look:
    """How the company's documents look (its settings)."""

    layout: str = "classique"  # "classique", "bandeau" or "épuré"
    colour: str = "#1f4e79"  # titles, rules
    accent: str = "#e8eef5"  # table header, boxes
    logo: bytes | None = None  # PNG or JPEG, checked on upload
    logo_position: str = "gauche"  # "gauche", "centre" or "droite"


@dataclass(frozen=True)
class Sheet:
    kind: str  # "devis", "facture", "acompte" or "avoir" (DocKind values)
    title: str  # "Facture", "Devis", "Avoir", "Facture d'acompte"
    number: str  # "" for a draft shown in preview ("BROUILLON" is printed instead)
    issue_date: date
    due_date: date | None  # payment due (BT-9); for a quote: valid until
    service_date: date | None  # delivery or end of service (BT-72)
    seller: Party
    buyer: Party
    delivery: Address | None  # where goods are delivered, when not the billing address
    lines: tuple[SheetLine, ...]
    totals: Totals
    purchase_order: str = ""  # BT-13
    notes: str = ""
    payment_terms: str = ""  # BT-20, free text
    # The legal sentences printed at the foot, in order (penalties, 40 € indemnity,
    # discount, exemptions, nature of the operation, VAT on debits...).
    mentions: tuple[str, ...] = ()
    corrects: Reference | None = None  # a credit note: the invoice it corrects
    quote: Reference | None = None  # an invoice: the quote it comes from
    deposits: tuple[Reference, ...] = ()  # a final invoice: the deposits deducted
    vat_on_debits: bool = False  # BT-8 = 3 (date of invoice) instead of 72 (payment)
    currency: str = "EUR"
    look: Look = field(default_factory=Look)

    @property
    def is_draft(self) -> bool:
        return not self.number

    @property
    def type_code(self) -> str:
        """UNTDID 1001 (BT-3): 380 invoice, 386 deposit invoice, 381 credit note."""
        return {"facture": "380", "acompte": "386", "avoir": "381"}.get(self.kind, "380")
