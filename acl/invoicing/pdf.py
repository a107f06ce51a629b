"""The PDF of a quote, an invoice, a deposit invoice or a credit note, drawn from its `Sheet`.

Why it is drawn this way:

- The PDF is the legal document the customer receives and the visible half of a Factur-X
  invoice (`acl.invoicing.facturx` adds the XML and the XMP), so it must be PDF/A-3 ready:
  every font embedded (the Bitstream Vera TrueType fonts that reportlab ships — none of
  the standard 14 fonts, not even as the canvas' initial font), an sRGB output intent,
  images flattened on white (no soft mask), no encryption.
- A glyph missing from the font would draw `.notdef`, which PDF/A forbids and readers show
  as a box: every text goes through `printable`, which swaps the few characters French
  typography uses that Vera lacks (the narrow no-break space of `format_amount`...) and
  replaces any other unknown character.
- Names, designations and notes are typed by users and reportlab's `Paragraph` reads
  markup: every such text is escaped (`_markup`), so `<b>` or `<img src=...>` prints as
  typed and is never interpreted.
- "Page 1/3" needs the page count before the last page is drawn: the canvas keeps each
  finished page and writes the numbers when the document is saved (one pass, not two).
- Output is reproducible (reportlab's invariant mode): the same sheet gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import os
import unicodedata
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

import reportlab
from PIL import Image, ImageCms
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.fonts import addMapping
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    NextPageTemplate,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from acl.invoicing.amounts import format_amount, format_rate
from acl.invoicing.sheet import Look, Party, Reference, Sheet, SheetLine

FONT, BOLD, ITALIC, BOLD_ITALIC = "Liasse", "Liasse-Bold", "Liasse-Italic", "Liasse-BoldItalic"
_FONT_FILES = {FONT: "Vera.ttf", BOLD: "VeraBd.ttf", ITALIC: "VeraIt.ttf",
               BOLD_ITALIC: "VeraBI.ttf"}
# Characters French text uses that Vera has no glyph for, and what is drawn instead.
_SUBSTITUTES = {"\u202f": "\xa0", "\u2007": "\xa0", "\u2009": " ", "\u200a": " ",
                "\u2010": "-", "\u2011": "-", "\u2032": "'", "\u2033": '"', "\t": " "}
NBSP = "\xa0"

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
WIDTH = PAGE_WIDTH - 2 * MARGIN
BAND_HEIGHT = 30 * mm
LOGO_MAX = (45 * mm, 22 * mm)
GREY = colors.HexColor("#555555")
LIGHT = colors.HexColor("#c8c8c8")
WATERMARK = colors.HexColor("#ececec")
TEXT = colors.HexColor("#1a1a1a")


# --- Fonts and characters -------------------------------------------------------------------

@functools.cache
def _glyphs() -> frozenset[int]:
    """Registers the embedded fonts (once per process) and gives the code points they draw."""
    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    for name, file in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, os.path.join(folder, file)))
    for bold, italic, name in ((0, 0, FONT), (1, 0, BOLD), (0, 1, ITALIC), (1, 1, BOLD_ITALIC)):
        addMapping(FONT, bold, italic, name)
    return frozenset(pdfmetrics.getFont(FONT).face.charToGlyph)


class _Printable(dict):
    """A `str.translate` table, filled on demand: each character maps to itself when the font
    draws it, else to its substitute, its decomposition ("ŉ" -> "'n") or "?"."""

    def __missing__(self, code: int) -> str:
        glyphs = _glyphs()
        char = _SUBSTITUTES.get(chr(code), chr(code))
        if char == "\n" or all(ord(c) in glyphs for c in char):
            self[code] = char
        else:
            kept = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) in glyphs)
            self[code] = kept if kept.strip() else "?"
        return self[code]


_PRINTABLE = _Printable()


def printable(text: str) -> str:
    """`text` as the PDF draws it: only characters the embedded font has a glyph for."""
    return text.translate(_PRINTABLE)


def _markup(text: str) -> str:
    """A user's text made safe for a `Paragraph`: printable, escaped, line breaks kept."""
    return escape(printable(text)).replace("\n", "<br/>")


# --- Numbers and dates ----------------------------------------------------------------------

def _money(value: Decimal) -> str:
    return printable(format_amount(value))


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _quantity(value: Decimal) -> str:
    """2 -> "2", 1.50 -> "1,5": no useless zeros."""
    return f"{value.normalize():f}".replace(".", ",")


def _price(value: Decimal) -> str:
    """A unit price: two decimals, or up to four when it has them ("0,1234 €")."""
    whole, _, fraction = f"{abs(value).normalize():f}".partition(".")
    sign = "-" if value < 0 else ""
    return f"{sign}{_thousands(whole)},{fraction.ljust(2, '0')} €"


def _thousands(whole: str) -> str:
    """"1234567" -> "1 234 567" (no-break spaces)."""
    head = len(whole) % 3 or 3
    return NBSP.join([whole[:head], *(whole[i:i + 3] for i in range(head, len(whole), 3))])


def _company_number(number: str) -> str:
    """"732829320" -> "732 829 320", a SIRET's last five digits apart (no-break spaces)."""
    parts = [number[0:3], number[3:6], number[6:9], number[9:]]
    return NBSP.join(part for part in parts if part)


def _iban(iban: str) -> str:
    compact = iban.replace(" ", "")
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


# --- The look: colours, styles, logo -------------------------------------------------------

def _colour(value: str, default: str) -> colors.Color:
    try:
        return colors.HexColor(value)
    except (ValueError, TypeError):
        return colors.HexColor(default)


class _Design:
    """How one document looks, from the company's `Look`: its colours, whether boxes are
    filled ("épuré" has thin rules only), the paragraph styles."""

    def __init__(self, look: Look) -> None:
        self.layout = look.layout
        self.colour = _colour(look.colour, Look.colour)
        self.accent = _colour(look.accent, Look.accent)
        self.filled = look.layout != "épuré"
        base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=11, textColor=TEXT)
        self.body = base
        self.small = ParagraphStyle("small", base, fontSize=7.5, leading=9.5, textColor=GREY)
        self.cell = ParagraphStyle("cell", base, leading=10.5)
        self.heading = ParagraphStyle("heading", base, fontName=BOLD, fontSize=9, leading=12,
                                      textColor=self.colour, spaceBefore=2)
        self.title = ParagraphStyle("title", base, fontName=BOLD, fontSize=20, leading=24,
                                    textColor=self.colour, alignment=TA_RIGHT)
        self.number = ParagraphStyle("number", base, fontName=BOLD, fontSize=11, leading=14,
                                     alignment=TA_RIGHT)
        self.footer = ParagraphStyle("footer", base, fontSize=6.5, leading=8, textColor=GREY,
                                     alignment=TA_CENTER)
        self.band_title = ParagraphStyle("band_title", self.title, textColor=colors.white,
                                         alignment=TA_LEFT)
        self.band_number = ParagraphStyle("band_number", self.number, textColor=colors.white,
                                          alignment=TA_LEFT)

    def header_row(self) -> list[tuple]:
        """A table's header row: the accent behind it (unless "épuré"), a coloured rule."""
        commands: list[tuple] = [("FONTNAME", (0, 0), (-1, 0), BOLD),
                                  ("LINEBELOW", (0, 0), (-1, 0), 0.8, self.colour)]
        if self.filled:
            commands.append(("BACKGROUND", (0, 0), (-1, 0), self.accent))
        return commands


@functools.lru_cache(maxsize=16)
def _logo_image(data: bytes) -> ImageReader:
    """The logo as plain RGB, transparency flattened on white: PDF/A then needs no soft mask,
    and a CMYK or palette image becomes what the sRGB output intent describes. Cached: a
    company's documents all carry the same logo."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, "white")
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return ImageReader(flat)
        return ImageReader(image.convert("RGB"))


class _Logo(Flowable):
    """The company's logo, scaled to fit LOGO_MAX, aligned left, centre or right."""

    def __init__(self, data: bytes, position: str) -> None:
        super().__init__()
        self.image = _logo_image(data)
        width, height = self.image.getSize()
        ratio = min(LOGO_MAX[0] / width, LOGO_MAX[1] / height)
        self.size = (width * ratio, height * ratio)
        self.hAlign = {"centre": "CENTER", "droite": "RIGHT"}.get(position, "LEFT")

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size

    def draw(self) -> None:
        self.canv.drawImage(self.image, 0, 0, *self.size)


# --- PDF/A output intent and page numbers ---------------------------------------------------

@functools.cache
def srgb_profile() -> bytes:
    """The ICC profile of sRGB (built by LittleCMS), the output intent PDF/A requires."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _add_output_intent(document: pdfdoc.PDFDocument) -> None:
    """An sRGB /OutputIntents entry in the catalog (reportlab has no API for it: its catalog
    writes the keys listed in `__NoDefault__`, so the key is added there)."""
    profile = pdfdoc.PDFStream(pdfdoc.PDFDictionary({"N": 3}), srgb_profile(),
                               filters=[pdfdoc.PDFStreamFilterZCompress()])
    intent = pdfdoc.PDFDictionary({
        "Type": pdfdoc.PDFName("OutputIntent"),
        "S": pdfdoc.PDFName("GTS_PDFA1"),
        "OutputConditionIdentifier": pdfdoc.PDFString("sRGB"),
        "RegistryName": pdfdoc.PDFString("http://www.color.org"),
        "Info": pdfdoc.PDFString("sRGB IEC61966-2.1"),
        "DestOutputProfile": document.Reference(profile),
    })
    catalog = document.Catalog
    catalog.OutputIntents = pdfdoc.PDFArray([intent])
    catalog.__NoDefault__ = [*catalog.__NoDefault__, "OutputIntents"]


class _Canvas(Canvas):
    """A canvas that adds the output intent and writes "Page n/N" once N is known."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _add_output_intent(self._doc)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(FONT, 7)
            self.setFillColor(GREY)
            self.drawRightString(PAGE_WIDTH - MARGIN, 8 * mm, f"Page {number}/{total}")
            super().showPage()
        super().save()


# --- The document ---------------------------------------------------------------------------

def render(sheet: Sheet) -> bytes:
    """The sheet drawn as an A4 PDF (French), ready to become PDF/A-3 (see module doc)."""
    _glyphs()
    page = _Page(sheet)
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=page.bottom, title=_document_title(sheet), author=sheet.seller.name,
        creator="Liasse", subject=sheet.title,
        invariant=1, initialFontName=FONT, lang="fr-FR")
    first_top = PAGE_HEIGHT - (BAND_HEIGHT + 6 * mm if page.banded else MARGIN)
    later_top = PAGE_HEIGHT - MARGIN - 8 * mm
    document.addPageTemplates([
        PageTemplate("first", [page.frame(first_top)], onPage=page.draw_first),
        PageTemplate("later", [page.frame(later_top)], onPage=page.draw_later),
    ])
    document.build([NextPageTemplate("later"), *_story(sheet, page.design)],
                   canvasmaker=_Canvas)
    return buffer.getvalue()


def _document_title(sheet: Sheet) -> str:
    return f"{sheet.title} {sheet.number}" if sheet.number else f"{sheet.title} (brouillon)"


def _number_text(sheet: Sheet) -> str:
    return "BROUILLON" if sheet.is_draft else f"N° {sheet.number}"


class _Page:
    """What every page carries around the flowing content: the band (first page of the
    "bandeau" layout) or the running header (next pages), a draft's watermark, the legal
    mentions at the foot (the frame ends above them, however many lines they take)."""

    def __init__(self, sheet: Sheet) -> None:
        self.sheet = sheet
        self.design = _Design(sheet.look)
        self.banded = sheet.look.layout == "bandeau"
        self.footer = Paragraph(" ".join(_markup(m) for m in sheet.mentions),
                                self.design.footer)
        footer_height = self.footer.wrap(WIDTH, PAGE_HEIGHT)[1] if sheet.mentions else 0
        self.footer_top = 12 * mm + footer_height
        self.bottom = self.footer_top + 4 * mm

    def frame(self, top: float) -> Frame:
        return Frame(MARGIN, self.bottom, WIDTH, top - self.bottom, leftPadding=0,
                     rightPadding=0, topPadding=0, bottomPadding=0)

    def draw_first(self, canvas: Canvas, _document: BaseDocTemplate) -> None:
        self._draw_common(canvas)
        if self.banded:
            self._draw_band(canvas)

    def draw_later(self, canvas: Canvas, _document: BaseDocTemplate) -> None:
        self._draw_common(canvas)
        sheet, top = self.sheet, PAGE_HEIGHT - MARGIN
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(GREY)
        label = f"{sheet.title} {sheet.number or 'BROUILLON'} — {sheet.seller.name}"
        canvas.drawString(MARGIN, top - 3 * mm, printable(label))
        canvas.setStrokeColor(self.design.colour)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, top - 5 * mm, PAGE_WIDTH - MARGIN, top - 5 * mm)
        canvas.restoreState()

    def _draw_common(self, canvas: Canvas) -> None:
        if self.sheet.is_draft:
            self._draw_watermark(canvas)
        if self.sheet.mentions:
            canvas.saveState()
            canvas.setStrokeColor(LIGHT)
            canvas.setLineWidth(0.4)
            rule = self.footer_top + 2 * mm
            canvas.line(MARGIN, rule, PAGE_WIDTH - MARGIN, rule)
            self.footer.drawOn(canvas, MARGIN, 12 * mm)
            canvas.restoreState()

    def _draw_watermark(self, canvas: Canvas) -> None:
        canvas.saveState()
        canvas.setFillColor(WATERMARK)
        canvas.setFont(BOLD, 90)
        canvas.translate(PAGE_WIDTH / 2, PAGE_HEIGHT / 2)
        canvas.rotate(45)
        canvas.drawCentredString(0, -30, "BROUILLON")
        canvas.restoreState()

    def _draw_band(self, canvas: Canvas) -> None:
        """A full-width band of the company's colour, the title and number in white."""
        canvas.saveState()
        canvas.setFillColor(self.design.colour)
        canvas.rect(0, PAGE_HEIGHT - BAND_HEIGHT, PAGE_WIDTH, BAND_HEIGHT, stroke=0, fill=1)
        for text, style, bottom in (
                (self.sheet.title, self.design.band_title, 15 * mm),
                (_number_text(self.sheet), self.design.band_number, 22 * mm)):
            paragraph = Paragraph(_markup(text), style)
            paragraph.wrapOn(canvas, WIDTH, BAND_HEIGHT)
            paragraph.drawOn(canvas, MARGIN, PAGE_HEIGHT - bottom)
        canvas.restoreState()


def _story(sheet: Sheet, design: _Design) -> list[Flowable]:
    look = sheet.look
    story: list[Flowable] = []
    if look.logo:
        story += [_Logo(look.logo, look.logo_position), Spacer(0, 4 * mm)]
    story += [_header(sheet, design), Spacer(0, 6 * mm), _lines_table(sheet, design),
              Spacer(0, 4 * mm), KeepTogether([_summary(sheet, design)])]
    story += _payment(sheet, design)
    if sheet.notes:
        story += [Paragraph("Notes", design.heading),
                  Paragraph(_markup(sheet.notes), design.body)]
    if sheet.kind == "devis":
        story.append(KeepTogether(_acceptance(design)))
    return story


def _style(commands: list[tuple]) -> TableStyle:
    """A table style whose cells all use the embedded font: reportlab's tables select the
    cell font (Helvetica unless told) even for a cell holding a paragraph."""
    return TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT), *commands])


def _bold(text: str) -> str:
    return f"<font name='{BOLD}'>{text}</font>"


# --- Header: seller, buyer, title, dates ----------------------------------------------------

def _header(sheet: Sheet, design: _Design) -> Table:
    """Seller (left) and title (right, unless the band carries it); dates and references
    (left) and the buyer (right)."""
    seller = _seller_block(sheet.seller, design)
    info = _info_block(sheet, design)
    buyer = _buyer_box(sheet, design)
    if design.layout == "bandeau":
        rows = [[seller, buyer], [info, ""]]
    else:
        title = [Paragraph(_markup(sheet.title), design.title),
                 Paragraph(_markup(_number_text(sheet)), design.number)]
        rows = [[seller, title], [info, buyer]]
    table = Table(rows, colWidths=[WIDTH * 0.52, WIDTH * 0.48])
    table.setStyle(_style([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (0, -1), 6 * mm),
        ("RIGHTPADDING", (1, 0), (1, -1), 0),
        ("TOPPADDING", (0, 1), (-1, 1), 5 * mm),
    ]))
    return table


def _seller_block(seller: Party, design: _Design) -> Paragraph:
    lines = [f"<font name='{BOLD}' size='11'>{_markup(seller.name)}</font>"]
    legal = seller.legal_form
    if seller.share_capital:
        legal = f"{legal} au capital de {seller.share_capital}".strip()
    if legal:
        lines.append(_markup(legal))
    lines += [_markup(line) for line in seller.address.lines]
    if seller.siren:
        lines.append(f"{_markup(seller.registry or 'SIREN')} {_company_number(seller.siren9)}")
        if len(seller.siren) == 14:
            lines.append(f"SIRET {_company_number(seller.siren)}")
    if seller.vat_number:
        lines.append(f"N° TVA intracommunautaire : {_markup(seller.vat_number)}")
    phone = f"Tél. {seller.phone}" if seller.phone else ""
    contact = " — ".join(part for part in (seller.email, phone) if part)
    if contact:
        lines.append(_markup(contact))
    return Paragraph("<br/>".join(lines), design.body)


def _buyer_box(sheet: Sheet, design: _Design) -> Table:
    """The buyer, and where goods go: a filled box, or a thin rule for "épuré"."""
    buyer = sheet.buyer
    lines = [_bold(_markup(buyer.name)), *(_markup(line) for line in buyer.address.lines)]
    if buyer.siren:
        lines.append(f"SIREN {_company_number(buyer.siren9)}")
    if buyer.vat_number:
        lines.append(f"N° TVA : {_markup(buyer.vat_number)}")
    cells = [[Paragraph("Client", design.heading)],
             [Paragraph("<br/>".join(lines), design.body)]]
    if sheet.delivery is not None and not sheet.delivery.is_empty:
        address = "<br/>".join(_markup(line) for line in sheet.delivery.lines)
        cells += [[Paragraph("Adresse de livraison", design.heading)],
                  [Paragraph(address, design.body)]]
    commands: list[tuple] = [
        ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3 * mm),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 2.5 * mm),
    ]
    if design.filled:
        commands += [("BACKGROUND", (0, 0), (-1, -1), design.accent),
                     ("BOX", (0, 0), (-1, -1), 0.6, design.colour)]
    else:
        commands.append(("LINEBEFORE", (0, 0), (0, -1), 0.6, design.colour))
    box = Table(cells, colWidths=[WIDTH * 0.48])
    box.setStyle(_style(commands))
    return box


def _info_block(sheet: Sheet, design: _Design) -> list[Paragraph]:
    """Dates and references, "label : value"."""
    rows = [("Date", _day(sheet.issue_date))]
    if sheet.due_date:
        rows.append(("Valable jusqu'au" if sheet.kind == "devis" else "Échéance",
                     _day(sheet.due_date)))
    if sheet.service_date:
        rows.append((_service_label(sheet), _day(sheet.service_date)))
    if sheet.purchase_order:
        rows.append(("Votre commande", sheet.purchase_order))
    out = [Paragraph(f"{_bold(_markup(label) + ' :')} {_markup(value)}", design.body)
           for label, value in rows]
    if sheet.corrects is not None:
        text = _reference_text("Avoir sur la facture", sheet.corrects)
        out.append(Paragraph(_bold(_markup(text)), design.body))
    if sheet.quote is not None:
        out.append(Paragraph(_markup(_reference_text("Selon notre devis", sheet.quote)),
                             design.body))
    return out


def _service_label(sheet: Sheet) -> str:
    natures = {line.nature for line in sheet.lines}
    if natures == {"bien"}:
        return "Date de livraison"
    if natures == {"service"}:
        return "Date d'exécution"
    return "Date de livraison / d'exécution"


def _reference_text(label: str, reference: Reference) -> str:
    """"Avoir sur la facture F-2026-0001 du 12/01/2026"."""
    issued = f" du {_day(reference.issue_date)}" if reference.issue_date else ""
    return f"{label} {reference.number}{issued}"


# --- Lines ----------------------------------------------------------------------------------

def _lines_table(sheet: Sheet, design: _Design) -> Table:
    """The lines, the header row repeated on every page the table runs over; a "Remise %"
    column only when a line has a discount."""
    columns: list[tuple[str, float, Callable[[SheetLine], object]]] = [
        ("Réf.", 18 * mm, lambda line: Paragraph(_markup(line.reference), design.cell)),
        ("Désignation", 0, lambda line: Paragraph(_markup(line.designation), design.cell)),
        ("Qté", 13 * mm, lambda line: _quantity(line.quantity)),
        ("Unité", 15 * mm, lambda line: printable(line.unit)),
        ("PU HT", 22 * mm, lambda line: _price(line.unit_price)),
    ]
    if any(line.discount for line in sheet.lines):
        columns.append(("Remise %", 17 * mm,
                        lambda line: format_rate(line.discount) if line.discount else ""))
    columns += [("TVA %", 12 * mm, lambda line: format_rate(line.vat_rate)),
                ("Montant HT", 25 * mm, lambda line: _money(line.net))]
    widths = [width for _, width, _ in columns]
    widths[1] = WIDTH - sum(widths)
    rows = [[label for label, _, _ in columns]]
    rows += [[cell(line) for _, _, cell in columns] for line in sheet.lines]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(_style([
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("ALIGN", (3, 0), (3, -1), "LEFT"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, LIGHT),
        *design.header_row(),
    ]))
    return table


# --- VAT breakdown, totals, payment ---------------------------------------------------------

def _summary(sheet: Sheet, design: _Design) -> Table:
    """The VAT breakdown (left) beside the totals (right)."""
    table = Table([[_vat_table(sheet, design), _totals_table(sheet, design)]],
                  colWidths=[WIDTH * 0.5, WIDTH * 0.5])
    table.setStyle(_style([("VALIGN", (0, 0), (-1, -1), "TOP"),
                           ("LEFTPADDING", (0, 0), (-1, -1), 0),
                           ("RIGHTPADDING", (0, 0), (0, 0), 5 * mm),
                           ("RIGHTPADDING", (1, 0), (1, 0), 0)]))
    return table


def _figures(rows: list[list], widths: list[float], commands: list[tuple]) -> Table:
    """A small table of labelled amounts, the amounts right-aligned."""
    table = Table(rows, colWidths=widths)
    table.setStyle(_style([
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, LIGHT),
        *commands,
    ]))
    return table


def _vat_table(sheet: Sheet, design: _Design) -> Table:
    """One row per rate; an exemption's reason on a row of its own, across the table."""
    rows: list[list] = [["TVA", "Base HT", "Montant TVA"]]
    commands = design.header_row()
    for group in sheet.totals.vat_groups:
        rows.append([f"{format_rate(group.rate)}{NBSP}%", _money(group.taxable),
                     _money(group.vat)])
        if group.exemption_text:
            rows.append([Paragraph(_markup(group.exemption_text), design.small), "", ""])
            commands.append(("SPAN", (0, len(rows) - 1), (-1, len(rows) - 1)))
    return _figures(rows, [WIDTH * 0.5 - 5 * mm - 56 * mm, 28 * mm, 28 * mm], commands)


def _totals_table(sheet: Sheet, design: _Design) -> Table:
    """Total HT, VAT, total TTC, the deposits deducted, and what is due (emphasised)."""
    totals = sheet.totals
    rows: list[list] = [["Total HT", _money(totals.total_ht)],
                        ["TVA", _money(totals.total_vat)],
                        ["Total TTC", _money(totals.total_ttc)]]
    for deposit in sheet.deposits:
        amount = f"-{_money(deposit.amount)}" if deposit.amount is not None else ""
        rows.append([Paragraph(_markup(_reference_text("Acompte", deposit)), design.cell),
                     amount])
    due = {"devis": "", "avoir": "Montant de l'avoir"}.get(sheet.kind, "Net à payer")
    if due:
        rows.append([due, _money(totals.due)])
    last = len(rows) - 1
    commands: list[tuple] = [
        ("FONTNAME", (0, 2), (-1, 2), BOLD), ("FONTNAME", (0, last), (-1, last), BOLD),
        ("FONTSIZE", (0, last), (-1, last), 10), ("LEADING", (0, last), (-1, last), 12),
        ("LINEABOVE", (0, last), (-1, last), 0.8, design.colour)]
    if design.filled:
        commands.append(("BACKGROUND", (0, last), (-1, last), design.accent))
    return _figures(rows, [WIDTH * 0.5 - 30 * mm, 30 * mm], commands)


def _payment(sheet: Sheet, design: _Design) -> list[Flowable]:
    """Payment terms and, but on a credit note, the seller's bank account."""
    lines = []
    if sheet.payment_terms:
        lines.append(f"{_bold('Conditions de paiement :')} {_markup(sheet.payment_terms)}")
    seller = sheet.seller
    if seller.iban and sheet.kind != "avoir":
        bank = f"{_bold('Règlement par virement :')} IBAN {_markup(_iban(seller.iban))}"
        if seller.bic:
            bank += f" — BIC {_markup(seller.bic)}"
        lines.append(bank)
    if not lines:
        return []
    return [Spacer(0, 4 * mm), *(Paragraph(line, design.body) for line in lines)]


def _acceptance(design: _Design) -> list[Flowable]:
    """A quote's "bon pour accord": where the customer dates and signs."""
    text = (f"{_bold('Bon pour accord')}<br/>Date :<br/><br/>Signature, précédée de la "
            f"mention manuscrite «{NBSP}bon pour accord{NBSP}» :")
    box = Table([[Paragraph(text, design.body)]], colWidths=[WIDTH * 0.5],
                rowHeights=[32 * mm], hAlign="RIGHT")
    box.setStyle(_style([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOX", (0, 0), (-1, -1), 0.6, design.colour),
        ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
        ("TOPPADDING", (0, 0), (-1, -1), 2 * mm),
    ]))
    return [Spacer(0, 6 * mm), box]
