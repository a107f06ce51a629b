"""Lists as files: a table (column titles, rows) written as CSV or XLSX, the two formats a
firm's staff open in a spreadsheet. Shared by every wing that exports a list (companies
today; invoices, expenses and reports next).

What a spreadsheet would run is kept as text: a cell starting with "=", "+", "-" or "@"
(CSV injection, OWASP) is prefixed with an apostrophe in CSV and stored as a string in XLSX.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text a spreadsheet would run as a formula, kept as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """CSV as French spreadsheets read it: ";" between fields, UTF-8 with a BOM, CRLF."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows([[spreadsheet_safe(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    """One sheet: bold titles, frozen first row, columns as wide as their title."""
    from openpyxl import Workbook  # loaded when a file is asked for, not by every process
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]  # Excel's limit
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(list(row))
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # a name starting with "=" stays a name
                cell.data_type = "s"
    for i, column in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(1, i).column_letter].width = max(12, len(column) + 2)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
