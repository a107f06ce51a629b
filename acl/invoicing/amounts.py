"""Amounts of a quote or an invoice, right to the cent: pure functions on `Decimal`.

The calculation of EN 16931 (the semantic model of Factur-X), which French e-invoicing
checks (its business rules BR-CO-10 to BR-CO-17, BR-S-08...):

- a line's net amount (BT-131) = quantity × unit price, less the line's discount, rounded
  to the cent;
- per VAT rate and category, the taxable amount (BT-116) is the sum of those line amounts,
  and the VAT (BT-117) = taxable × rate, rounded to the cent once per rate (not per line);
- total without VAT (BT-109) = the sum of line amounts; total VAT (BT-110) = the sum of the
  VAT per rate; total with VAT (BT-112) = BT-109 + BT-110; amount due (BT-115) = BT-112 less
  what was paid ahead (BT-113: the deposits invoiced before).

Rounding is half up (commercial rounding, as French invoices do), always to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
THIN = "\u202f"  # the narrow no-break space between groups of thousands
ZERO = Decimal(0)
HUNDRED = Decimal(100)
MAX_AMOUNT = Decimal(10) ** 12  # a document over a thousand billion euros is a typing slip
RATES = (Decimal(20), Decimal(10), Decimal("5.5"), Decimal("2.1"), Decimal(0))

# Why a line bears no VAT: (code, sentence the document carries, EN 16931 VAT category,
# VATEX code of the exemption reason).
EXEMPTIONS = {
    "franchise": ("TVA non applicable, art. 293 B du CGI", "E", "VATEX-FR-FRANCHISE"),
    "autoliquidation": ("Autoliquidation", "AE", "VATEX-EU-AE"),
    "intracommunautaire": ("Exonération de TVA, article 262 ter I du CGI (livraison "
                           "intracommunautaire)", "K", "VATEX-EU-IC"),
    "export": ("Exonération de TVA, article 262 I du CGI (exportation)", "G", "VATEX-EU-G"),
    "exoneration": ("Exonération de TVA, article 261 du CGI", "E", ""),  # no VATEX code
}


class AmountError(ValueError):
    """A number that cannot be an amount, a quantity or a rate; the message is French."""


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_decimal(text: str | Decimal | int, what: str, *, places: int = 4,
                  allow_negative: bool = False) -> Decimal:
    """A number as French users type it ("1 234,50", "1234.5"), at most `places` decimals,
    below 10^12; AmountError naming `what` otherwise."""
    if isinstance(text, Decimal | int):
        value = Decimal(text)
    else:
        cleaned = text.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "")
        cleaned = cleaned.replace(",", ".")
        if not cleaned or cleaned.count(".") > 1:
            raise AmountError(f"{what} : « {text.strip()} » n'est pas un nombre.")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise AmountError(f"{what} : « {text.strip()} » n'est pas un nombre.") from None
    if not value.is_finite():
        raise AmountError(f"{what} : « {text} » n'est pas un nombre.")
    if value < 0 and not allow_negative:
        raise AmountError(f"{what} ne peut pas être négatif.")
    if abs(value) >= MAX_AMOUNT:
        raise AmountError(f"{what} : « {text} » est hors de toute mesure (10^12 au plus).")
    if value != value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        raise AmountError(f"{what} : {places} décimales au plus.")
    return value.quantize(Decimal(1).scaleb(-places))


def parse_rate(text: str | Decimal, exemption: str = "") -> tuple[Decimal, str]:
    """A French VAT rate (20, 10, 5,5, 2,1 or 0 with the reason of the exemption)."""
    rate = parse_decimal(text, "Taux de TVA", places=2)
    if rate not in RATES:
        raise AmountError(f"Taux de TVA inconnu : {format_rate(rate)} % (20, 10, 5,5, 2,1 ou 0).")
    if rate == 0:
        if exemption not in EXEMPTIONS:
            raise AmountError("Un taux de TVA de 0 % demande sa raison (franchise, "
                              "autoliquidation, livraison intracommunautaire, exportation, "
                              "exonération).")
        return rate, exemption
    return rate, ""


def format_rate(rate: Decimal) -> str:
    """5.50 -> "5,5", 20.00 -> "20"."""
    text = f"{rate.normalize():f}"
    return text.replace(".", ",")


def format_amount(value: Decimal, currency: str = " €") -> str:
    """1234.5 -> "1 234,50 €" (a narrow no-break space between thousands)."""
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(cents(value)):.2f}".partition(".")
    groups = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{THIN.join(groups)},{fraction}{currency}"


@dataclass(frozen=True)
class Line:
    """What a line contributes to the totals."""

    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    discount: Decimal = ZERO  # percent of the line
    vat_exemption: str = ""

    @property
    def net(self) -> Decimal:
        """BT-131: quantity × unit price less the discount, to the cent."""
        gross = self.quantity * self.unit_price
        return cents(gross - gross * self.discount / HUNDRED)

    @property
    def category(self) -> str:
        """The EN 16931 VAT category (UNTDID 5305): S standard, E exempt, AE reverse charge,
        K intra-EU, G export."""
        if self.vat_rate > 0:
            return "S"
        return EXEMPTIONS[self.vat_exemption][1] if self.vat_exemption in EXEMPTIONS else "E"


@dataclass(frozen=True)
class VatGroup:
    """One line of the VAT breakdown (BG-23)."""

    category: str
    rate: Decimal
    exemption: str  # a code of EXEMPTIONS, for a rate of 0
    taxable: Decimal  # BT-116
    vat: Decimal  # BT-117

    @property
    def exemption_text(self) -> str:
        return EXEMPTIONS[self.exemption][0] if self.exemption in EXEMPTIONS else ""

    @property
    def exemption_code(self) -> str:
        return EXEMPTIONS[self.exemption][2] if self.exemption in EXEMPTIONS else ""


@dataclass(frozen=True)
class Totals:
    lines_net: Decimal  # BT-106
    vat_groups: tuple[VatGroup, ...]
    total_ht: Decimal  # BT-109
    total_vat: Decimal  # BT-110
    total_ttc: Decimal  # BT-112
    prepaid: Decimal  # BT-113
    due: Decimal  # BT-115


def totals(lines: Iterable[Line], prepaid: Decimal = ZERO) -> Totals:
    """The totals of a document's lines, less `prepaid` (the deposits already invoiced)."""
    groups: dict[tuple[str, Decimal, str], Decimal] = {}
    lines_net = ZERO
    for line in lines:
        net = line.net
        lines_net += net
        key = (line.category, line.vat_rate, line.vat_exemption if line.vat_rate == 0 else "")
        groups[key] = groups.get(key, ZERO) + net
    breakdown = tuple(
        VatGroup(category, rate, exemption, taxable, cents(taxable * rate / HUNDRED))
        for (category, rate, exemption), taxable in sorted(
            groups.items(), key=lambda item: (-item[0][1], item[0][0])))
    total_vat = sum((g.vat for g in breakdown), ZERO)
    total_ttc = lines_net + total_vat
    return Totals(lines_net, breakdown, lines_net, total_vat, total_ttc, cents(prepaid),
                  total_ttc - cents(prepaid))


def nature_of(natures: Sequence[str]) -> str:
    """What a document sells, for the e-invoicing mention: "biens", "services" or
    "biens et services" (décret 2022-1299)."""
    kinds = set(natures)
    if kinds == {"bien"}:
        return "biens"
    if kinds == {"service"}:
        return "services"
    return "biens et services"
