"""The PDF of a sheet: what it says (in French, figures formatted as amounts.py does), that
users' text is never read as markup, that long documents run over pages with their header
and page numbers, every layout and logo position, and what PDF/A needs of it (embedded
fonts only, an sRGB output intent)."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from PIL import Image
from pypdf import PdfReader
from support.sheets import (
    MENTIONS,
    credit_note_sheet,
    final_sheet,
    franchise_sheet,
    intra_eu_sheet,
    line,
    quote_sheet,
    sample_sheet,
    with_lines,
)

from acl.invoicing import pdf
from acl.invoicing.amounts import format_amount
from acl.invoicing.sheet import Look

STANDARD_14 = ("Helvetica", "Times", "Courier", "Symbol", "ZapfDingbats")
MM = 72 / 25.4


def flat(text: str) -> str:
    """Whitespace made single spaces: a sentence wrapped over two lines reads whole."""
    return " ".join(text.split())


def pages_of(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def text_of(data: bytes) -> str:
    return flat(" ".join(pages_of(data)))


def amount(value: str) -> str:
    return flat(pdf.printable(format_amount(Decimal(value))))


def logo_box(data: bytes) -> tuple[float, float, float]:
    """Where the logo is drawn on page 1: left edge, width, height (points)."""
    content = PdfReader(io.BytesIO(data)).pages[0].get_contents().get_data().decode("latin-1")
    found = re.search(r"1 0 0 1 ([\d.]+) [\d.]+ cm\s*q\s*([\d.]+) 0 0 ([\d.]+) 0 0 cm\s*"
                      r"/FormXob\.\w+ Do", content)
    assert found, "no image drawn"
    x, width, height = map(float, found.groups())
    return x, width, height


def logo(mode: str, image_format: str = "PNG") -> bytes:
    image = Image.new(mode, (300, 120), (200, 80, 20, 0) if mode == "RGBA" else (200, 80, 20))
    image.paste((30, 60, 120) if mode != "RGBA" else (30, 60, 120, 255), (20, 20, 140, 100))
    out = io.BytesIO()
    image.save(out, image_format)
    return out.getvalue()


@pytest.fixture(scope="module")
def invoice_text() -> str:
    return text_of(pdf.render(sample_sheet()))


def test_invoice_says_who_what_and_how_much(invoice_text):
    for expected in ("Facture", "N° F-2026-0001", "Boulangerie Martin", "Dupont SARL",
                     "SARL au capital de 10 000 €", "RCS Lyon 732 829 320",
                     "SIREN 552 100 554", "FR44732829320", "Date : 12/01/2026",
                     "Échéance : 11/02/2026", "Votre commande : BC-2026-117",
                     "Pain de campagne 500 g", "PAIN-01", "Remise %", "1,5",
                     "IBAN FR76 3000 6000 0112 3456 7890 189", "BIC AGRIFRPP",
                     "Paiement à 30 jours par virement bancaire.", "Page 1/1"):
        assert flat(pdf.printable(expected)) in invoice_text, expected


def test_every_mention_is_printed_whole(invoice_text):
    for mention in MENTIONS:
        assert flat(pdf.printable(mention)) in invoice_text, mention


def test_totals_are_french_amounts(invoice_text):
    sheet = sample_sheet()
    totals = sheet.totals
    assert totals.total_ttc == Decimal("350.58")
    for label, value in (("Total HT", totals.total_ht), ("TVA", totals.total_vat),
                         ("Total TTC", totals.total_ttc), ("Net à payer", totals.due)):
        assert f"{label} {amount(str(value))}" in invoice_text, label
    for group in totals.vat_groups:
        assert amount(str(group.taxable)) in invoice_text
    assert "€" in invoice_text
    assert "5,5 %" in invoice_text and "96,00 €" in invoice_text


def test_thousands_take_a_space_the_font_can_draw():
    text = text_of(pdf.render(sample_sheet(lines=(line(1, "Four à pain", "1", "12345.6",
                                                       "20"),))))
    assert "12 345,60 €" in text and "14 814,72 €" in text


def test_quantities_and_prices_keep_their_figures_only():
    sheet = sample_sheet(lines=(line(1, "Levure", "2.5", "0.1234", "5.5"),
                                line(2, "Farine", "10", "1.2", "5.5")))
    text = text_of(pdf.render(sheet))
    assert "2,5 unité 0,1234 €" in text
    assert "10 unité 1,20 €" in text


def test_users_text_is_printed_never_interpreted():
    designation = '<b>Pain</b> <img src="x"> & <font color="red">co</font>'
    sheet = sample_sheet(lines=(line(1, designation, "1", "3", "5.5", reference="<i>R</i>"),),
                         notes='Note <br/> "un"\nligne deux', purchase_order="<b>BC</b>")
    text = text_of(pdf.render(sheet))
    assert flat(designation) in text
    assert "<i>R</i>" in text and "<b>BC</b>" in text
    assert 'Note <br/> "un" ligne deux' in text


def test_a_long_invoice_runs_over_pages_with_header_and_numbers():
    lines = tuple(line(i, f"Article numéro {i}", "3", "12.5", "20", reference=f"A{i}")
                  for i in range(1, 121))
    pages = pages_of(pdf.render(with_lines(sample_sheet(), lines)))
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number}/{len(pages)}" in page
        assert "Désignation" in page and "Montant HT" in page
    text = flat(" ".join(pages))
    assert all(f"Article numéro {i} " in text for i in range(1, 121))
    assert "Net à payer 5 400,00 €" in text


@pytest.mark.parametrize("layout", ["classique", "bandeau", "épuré"])
@pytest.mark.parametrize("position", ["gauche", "centre", "droite"])
def test_every_layout_and_logo_position_renders(layout, position):
    look = Look(layout=layout, colour="#7a1f1f", accent="#f5e8e8", logo=logo("RGBA"),
                logo_position=position)
    data = pdf.render(sample_sheet(look=look))
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    images = [xobject.get_object() for xobject in
              reader.pages[0]["/Resources"]["/XObject"].values()]
    assert len(images) == 1
    assert "/SMask" not in images[0] and images[0]["/ColorSpace"] == "/DeviceRGB"
    x, width, height = logo_box(data)
    assert (width, height) == pytest.approx((45 * MM, 18 * MM))  # 300 × 120 px, ratio kept
    middle = {"gauche": pdf.MARGIN + width / 2, "centre": pdf.PAGE_WIDTH / 2,
              "droite": pdf.PAGE_WIDTH - pdf.MARGIN - width / 2}[position]
    assert x + width / 2 == pytest.approx(middle)
    text = text_of(data)
    assert "Boulangerie Martin" in text and "N° F-2026-0001" in text


@pytest.mark.parametrize("mode, image_format", [("RGB", "JPEG"), ("P", "PNG"),
                                                ("LA", "PNG"), ("CMYK", "JPEG")])
def test_any_logo_is_drawn_as_plain_rgb_and_fits(mode, image_format):
    image = Image.new("RGB", (60, 200), (10, 120, 60)).convert(mode)
    out = io.BytesIO()
    image.save(out, image_format)
    data = pdf.render(sample_sheet(look=Look(logo=out.getvalue())))
    xobject = next(iter(PdfReader(io.BytesIO(data)).pages[0]["/Resources"]["/XObject"]
                        .values())).get_object()
    assert xobject["/ColorSpace"] == "/DeviceRGB" and "/SMask" not in xobject
    _, width, height = logo_box(data)
    assert (width, height) == pytest.approx((22 * MM * 60 / 200, 22 * MM))


def fonts_of(reader: PdfReader) -> list[dict]:
    fonts = []
    for page in reader.pages:
        fonts += [font.get_object() for font in page["/Resources"]["/Font"].values()]
    return fonts


def test_only_embedded_truetype_fonts():
    data = pdf.render(intra_eu_sheet(look=Look(layout="bandeau", logo=logo("RGB"))))
    fonts = fonts_of(PdfReader(io.BytesIO(data)))
    assert fonts
    for font in fonts:
        assert font["/Subtype"] == "/TrueType"
        assert "/FontFile2" in font["/FontDescriptor"].get_object()
        assert not any(name in font["/BaseFont"] for name in STANDARD_14)
    assert not any(name.encode() in data for name in STANDARD_14)


def test_srgb_output_intent():
    reader = PdfReader(io.BytesIO(pdf.render(sample_sheet())))
    intent = reader.trailer["/Root"]["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    assert intent["/OutputConditionIdentifier"] == "sRGB"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3
    icc = profile.get_data()
    assert icc == pdf.srgb_profile() and icc[36:40] == b"acsp" and icc[16:20] == b"RGB "
    assert "/Encrypt" not in reader.trailer


def test_metadata_and_reproducible_output():
    sheet = sample_sheet()
    data = pdf.render(sheet)
    meta = PdfReader(io.BytesIO(data)).metadata
    assert meta.title == "Facture F-2026-0001"
    assert meta.author == "Boulangerie Martin"
    assert meta.creator == "Liasse"
    assert pdf.render(sheet) == data


def test_a_draft_says_brouillon():
    data = pdf.render(sample_sheet(number=""))
    text = text_of(data)
    assert "BROUILLON" in text and "F-2026-0001" not in text
    assert PdfReader(io.BytesIO(data)).metadata.title == "Facture (brouillon)"


def test_a_quote_has_its_validity_and_acceptance_block():
    text = text_of(pdf.render(quote_sheet()))
    assert "Devis" in text and "N° D-2026-0003" in text
    assert "Valable jusqu'au : 11/02/2026" in text and "Échéance" not in text
    assert "Bon pour accord" in text and "Signature" in text
    assert "mention manuscrite « bon pour accord »" in text
    assert "Net à payer" not in text


def test_a_credit_note_names_the_invoice_it_corrects():
    text = text_of(pdf.render(credit_note_sheet()))
    assert "Avoir" in text and "N° AV-2026-0001" in text
    assert "Avoir sur la facture F-2026-0001 du 12/01/2026" in text
    assert "Montant de l'avoir" in text and "IBAN" not in text


def test_deposits_are_deducted_by_number():
    sheet = final_sheet()
    text = text_of(pdf.render(sheet))
    assert f"Acompte F-2026-0002 du 05/01/2026 -{amount('360')}" in text
    assert f"Net à payer {amount(str(sheet.totals.due))}" in text
    assert sheet.totals.due == sheet.totals.total_ttc - Decimal("360.00")
    assert "Selon notre devis D-2026-0003 du 03/01/2026" in text


def test_exemptions_and_delivery_address():
    text = text_of(pdf.render(intra_eu_sheet()))
    assert "Exonération de TVA, article 262 ter I du CGI (livraison intracommunautaire)" in text
    assert "Adresse de livraison" in text and "20457 Hamburg" in text
    assert "Date de livraison : 10/01/2026" in text
    text = text_of(pdf.render(franchise_sheet()))
    assert "TVA non applicable, art. 293 B du CGI" in text
    assert "Date d'exécution : 10/01/2026" in text


def test_printable_swaps_what_the_font_lacks():
    assert pdf.printable("1\u202f234,50\u00a0€") == "1\xa0234,50\xa0€"
    assert pdf.printable("œuvre l’été « € »") == "œuvre l’été « € »"
    assert pdf.printable("a\u2009b\u2011c") == "a b-c"
    assert pdf.printable("漢字 🍞") == "?? ?"
    assert pdf.printable("ligne\nsuivante") == "ligne\nsuivante"


def test_dates_are_day_month_year():
    sheet = sample_sheet(issue_date=date(2026, 3, 5), due_date=date(2026, 4, 4))
    text = text_of(pdf.render(sheet))
    assert "Date : 05/03/2026" in text and "Échéance : 04/04/2026" in text
