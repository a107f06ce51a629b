"""The reports as tables, and those tables as a PDF (reportlab, the company's colour and
logo, embedded fonts) or an .xlsx (a sheet per table, real numbers, totals as values — no
formula). The page shows the same tables: what a user reads on screen, prints and opens in a
spreadsheet is one thing."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from acl.invoicing import reports, vat_register
from acl.invoicing.amounts import format_amount

TITLES = {"revenus": "Liste des revenus", "depenses": "Liste des dépenses",
          "tva": "Registre de TVA", "impayes": "Liste des impayés"}


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[object]]
    total: list[object] | None = None
    note: str = ""  # said under the title: a page shows the first rows of a long list


def _shown(table: Table, listed: int, count: int, what: str) -> Table:
    """Say when a page lists only the first `listed` of `count` rows (the files hold all)."""
    if listed < count:
        table.note = (f"Les {listed} {what} sur {count} ; le PDF et le fichier Excel "
                      "les contiennent tous.")
    return table


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def revenue_tables(found: reports.Revenue) -> list[Table]:
    money = ["HT", "TVA", "TTC"]
    total = ["Total", found.total.ht, found.total.vat, found.total.ttc]
    documents = Table("Documents", ["Numéro", "Type", "Date", "Client", *money], [
        [d.number, d.kind_enum.label, d.issue_date, found.names.get(d.customer_id, ""),
         *(-v if d.kind == "avoir" else v for v in (d.total_ht, d.total_vat, d.total_ttc))]
        for d in found.documents])
    if found.deposits_deducted.ht:
        documents.rows.append(["", "Acomptes déduits des factures finales", None, "",
                               found.deposits_deducted.ht, found.deposits_deducted.vat,
                               found.deposits_deducted.ttc])
    documents.total = ["Total", "", None, "", found.total.ht, found.total.vat, found.total.ttc]
    _shown(documents, len(found.documents), found.count, "premiers documents")
    return [Table("Par client", ["Client", *money],
                  [[n, f.ht, f.vat, f.ttc] for n, f in found.by_customer], total),
            Table("Par mois", ["Mois", *money],
                  [[n, f.ht, f.vat, f.ttc] for n, f in found.by_month], total), documents]


def expenses_tables(found: reports.Expenses) -> list[Table]:
    money = ["HT", "TVA", "TTC"]
    total = ["Total", found.total.ht, found.total.vat, found.total.ttc]

    def grouped(title, name, pairs):
        return Table(title, [name, *money], [[n, f.ht, f.vat, f.ttc] for n, f in pairs], total)
    return [grouped("Par fournisseur", "Fournisseur", found.by_supplier),
            grouped("Par catégorie", "Catégorie", found.by_category),
            grouped("Par mois", "Mois", found.by_month),
            _shown(Table(
                "Dépenses", ["Date", "Fournisseur", "Numéro", "Catégorie", *money, "Payée le"],
                [[e.issue_date, e.supplier, e.number, e.category, e.total_ht, e.total_vat,
                  e.total_ttc, e.paid_on] for e in found.rows],
                ["Total", "", "", "", found.total.ht, found.total.vat, found.total.ttc, None]),
                len(found.rows), found.count, "premières dépenses")]


def vat_tables(found: vat_register.VatRegister) -> list[Table]:
    rows = []
    for part in [*found.periods]:
        for side, lines in (("TVA collectée", part.collected), ("TVA déductible",
                                                                 part.deductible)):
            for line in sorted(lines.values(), key=lambda x: -x.rate):
                rows.append([part.label, side, line.label, line.base, line.vat])
        rows.append([part.label, "TVA nette due", "", None, part.net_due])
    summary = Table("Synthèse", ["Période", "TVA collectée", "TVA déductible", "TVA nette due"],
                    [[p.label, p.collected_vat, p.deductible_vat, p.net_due]
                     for p in found.periods],
                    ["Total", found.total.collected_vat, found.total.deductible_vat,
                     found.total.net_due])
    by_rate = Table("Par taux", ["Sens", "Taux", "Base HT", "TVA"], [
        [side, line.label, line.base, line.vat]
        for side, lines in (("Collectée", found.total.collected),
                            ("Déductible", found.total.deductible))
        for line in sorted(lines.values(), key=lambda x: -x.rate)])
    return [summary, by_rate, Table("Détail", ["Période", "Sens", "Taux", "Base HT", "TVA"],
                                    rows)]


def unpaid_tables(found: reports.Unpaid) -> list[Table]:
    buckets = list(reports.BUCKETS)
    return [
        Table("Par client", ["Client", *buckets, "Total"],
              [[name, *(amounts[b] for b in buckets), total]
               for name, amounts, total in found.by_customer],
              ["Total", *(found.buckets[b] for b in buckets), found.total]),
        _shown(Table("Factures", ["Numéro", "Client", "Date", "Échéance", "Jours de retard",
                                  "TTC", "Reste dû", "Ancienneté"],
                     [[r.number, r.customer, r.issue_date, r.due_date, r.days_late,
                       r.total_ttc, r.left, r.bucket] for r in found.rows],
                     ["Total", "", None, None, None, None, found.total, ""]),
               len(found.rows), found.count, "premières factures")]


# -- Files --

def _cell(value: object) -> object:
    return float(value) if isinstance(value, Decimal) else value


def to_xlsx(sheets: list[tuple[str, list[Table]]]) -> bytes:
    """One sheet per (name, tables): the tables one under the other, numbers as numbers
    (two decimals shown), dates as dates, totals as values."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, tables in sheets:
        sheet = book.create_sheet(_sheet_name(name, book.sheetnames))
        for table in tables:
            sheet.append([table.title])
            sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
            sheet.append(table.columns)
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
            for row in [*table.rows, *([table.total] if table.total else [])]:
                sheet.append([_cell(_safe(v)) for v in row])
                for cell in sheet[sheet.max_row]:
                    if isinstance(cell.value, float):
                        cell.number_format = "#,##0.00"
                    elif isinstance(cell.value, date):
                        cell.number_format = "DD/MM/YYYY"
                    if cell.data_type == "f":
                        cell.data_type = "s"
                if row is table.total:
                    for cell in sheet[sheet.max_row]:
                        cell.font = Font(bold=True)
            sheet.append([])
        for column in "ABCDEFGHI":
            sheet.column_dimensions[column].width = 18
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _safe(value: object) -> object:
    from acl.tables import spreadsheet_safe

    return spreadsheet_safe(value) if isinstance(value, str) else value


def _sheet_name(name: str, taken: list[str]) -> str:
    cleaned = "".join("-" if c in "[]:*?/\\" else c for c in name)[:28] or "Feuille"
    candidate, n = cleaned, 2
    while candidate in taken:
        candidate, n = f"{cleaned[:25]} {n}", n + 1
    return candidate


def to_pdf(title: str, subtitle: str, company_name: str, tables: list[Table],
           colour: str = "#1f4e79", logo: bytes | None = None) -> bytes:
    """The report on A4 (landscape when wide), in the company's colour, its logo at the top,
    with the embedded fonts of the invoices."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as Grid

    from acl.invoicing import pdf

    pdf._glyphs()
    wide = max((len(t.columns) for t in tables), default=0) > 6
    size = landscape(A4) if wide else A4
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=size, leftMargin=15 * mm,
                                 rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm,
                                 title=pdf.printable(f"{title} — {company_name}"),
                                 author=pdf.printable(company_name))
    tint = pdf._colour(colour, "#1f4e79")
    heading = ParagraphStyle("h", fontName=pdf.BOLD, fontSize=16, textColor=tint, leading=20)
    small = ParagraphStyle("s", fontName=pdf.FONT, fontSize=9, leading=12)
    section = ParagraphStyle("t", fontName=pdf.BOLD, fontSize=11, leading=14,
                             spaceBefore=8, spaceAfter=4)
    cell = ParagraphStyle("c", fontName=pdf.FONT, fontSize=8, leading=10)
    story = []
    if logo:
        try:
            image = pdf._logo_image(logo)
            width, height = image.getSize()
            scale = min(40 * mm / width, 18 * mm / height)
            story.append(Image(image, width * scale, height * scale, hAlign="LEFT"))
        except Exception:  # a logo that cannot be drawn leaves the report without it
            pass
    story += [Paragraph(pdf._markup(f"{title} — {company_name}"), heading),
              Paragraph(pdf._markup(subtitle), small), Spacer(1, 4 * mm)]
    for table in tables:
        story.append(Paragraph(pdf._markup(table.title), section))
        body = [[Paragraph(pdf._markup(c), cell) for c in table.columns]]
        for row in [*table.rows, *([table.total] if table.total else [])]:
            body.append([_pdf_text(v) for v in row])
        if len(body) == 1:
            body.append(["Rien sur cette période."] + [""] * (len(table.columns) - 1))
        numeric = [i for i, c in enumerate(table.columns)
                   if any(isinstance(r[i], Decimal | int) and not isinstance(r[i], bool)
                          for r in table.rows + ([table.total] if table.total else []))]
        grid = Grid(body, repeatRows=1, hAlign="LEFT")
        style = [("FONT", (0, 0), (-1, -1), pdf.FONT, 8),
                 ("BACKGROUND", (0, 0), (-1, 0), tint),
                 ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                 ("LINEBELOW", (0, 0), (-1, -1), 0.25, pdf.LIGHT),
                 ("VALIGN", (0, 0), (-1, -1), "TOP")]
        style += [("ALIGN", (i, 1), (i, -1), "RIGHT") for i in numeric]
        if table.total:
            style.append(("FONT", (0, -1), (-1, -1), pdf.BOLD, 8))
        grid.setStyle(TableStyle(style))
        story.append(grid)
    document.build(story)
    return buffer.getvalue()


def _pdf_text(value: object) -> str:
    from acl.invoicing import pdf

    if isinstance(value, Decimal):
        return pdf.printable(format_amount(value))
    if isinstance(value, date):
        return _day(value)
    if value is None:
        return ""
    return pdf.printable(str(value))[:80]
