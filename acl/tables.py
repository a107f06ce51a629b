"""Lists as files: a table (column titles, rows) written as CSV or XLSX, the two formats a
firm's staff open in a spreadsheet, and read back from them. Shared by every wing that
exports a list (companies, invoices, reports) or imports one (companies and users,
customers and articles): the same limits, the same checks of hostile files, the same error
report with row numbers.

What a spreadsheet would run is kept as text: a cell starting with "=", "+", "-" or "@"
(CSV injection, OWASP) is prefixed with an apostrophe in CSV and stored as a string in XLSX.
"""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import stat
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from acl.errors import Refused, describe_os_error

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024  # what the .xlsx (a zip) says it unpacks to
SUFFIXES = (".xlsx", ".csv", ".txt")


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


# -- Reading an import file --------------------------------------------------------------


@dataclass(frozen=True)
class TableSpec:
    """What an import file may hold: its sheets, each with its columns (column -> (required,
    help text shown in the template)), the longest text of each column, the most rows."""

    sheets: Mapping[str, Mapping[str, tuple[bool, str]]]
    cell_limits: Mapping[str, int]
    template_hint: str  # where to get the template, said when no sheet is known
    max_rows: int = 5000

    def sheet_of(self, header: set[str]) -> str:
        """The sheet a CSV file (one table, no sheet name) is: the one sharing the most
        columns with its header."""
        return max(self.sheets, key=lambda name: len(header & set(self.sheets[name])))


# C0 control characters other than tab, line feed and carriage return: a binary file.
_CONTROL = {chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)}
_FORMULA = object()  # an .xlsx cell holding a formula that has no computed value saved

# What openpyxl finds odd in a workbook (a date out of range, an unknown extension) it warns
# about on stderr; the import reports what matters itself.
warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")


class ImportRefused(Refused):
    """The file was refused whole; `errors` lists every problem with its row number."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"Import refusé : {len(errors)} erreur(s), rien n'a été créé.")
        self.errors = errors


@dataclass(frozen=True)
class Row:
    sheet: str
    number: int  # as shown by the spreadsheet (header = 1)
    values: dict[str, str]


def _shown(text: str, limit: int = 40) -> str:
    """A cell's text quoted in a message: cut if long."""
    return text if len(text) <= limit else text[:limit] + "…"


def _cell_text(value: object) -> str:
    if value is None or value is _FORMULA:
        return ""
    if isinstance(value, datetime):
        return value.date().strftime("%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _rows(spec: TableSpec, sheet: str, table: Iterable[Iterable[object]],
          errors: list[str]) -> list[Row]:
    columns = spec.sheets[sheet]
    iterator = iter(table)
    header_cells = next(iterator, None)
    if header_cells is None:
        return []
    header = [_cell_text(c).lower() for c in header_cells]
    while header and not header[-1]:
        header.pop()
    if not any(header):
        return []
    for name in header:
        if name and name not in columns:
            errors.append(f"{sheet}, ligne 1 : colonne inconnue « {_shown(name)} ».")
    for name, (required, _) in columns.items():
        if required and name not in header:
            errors.append(f"{sheet}, ligne 1 : colonne obligatoire manquante « {name} ».")
    rows = []
    for number, cells in enumerate(iterator, start=2):
        cells = list(cells)
        values = {name: _cell_text(cell) for name, cell in zip(header, cells, strict=False)
                  if name}
        for name, cell in zip(header, cells, strict=False):
            if name in columns and cell is _FORMULA:
                errors.append(f"{sheet}, ligne {number} : la colonne « {name} » contient une "
                              "formule sans valeur calculée ; enregistrez le classeur dans "
                              "Excel, ou remplacez la formule par sa valeur.")
            elif name in columns and len(values[name]) > spec.cell_limits[name]:
                errors.append(f"{sheet}, ligne {number} : la colonne « {name} » dépasse "
                              f"{spec.cell_limits[name]} caractères.")
        if any(values.values()):
            rows.append(Row(sheet, number, values))
        if len(rows) > spec.max_rows:
            errors.append(f"{sheet} : plus de {spec.max_rows} lignes ; découpez le fichier.")
            break
    return rows


def _looks_utf16(data: bytes) -> bool:
    """A byte order mark, or NUL bytes in most even or most odd places (Excel's "Unicode
    text"): UTF-16 text."""
    head = data[:200]
    return head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or max(
        head[0::2].count(0), head[1::2].count(0)) * 4 > len(head)


def _csv_rows(spec: TableSpec, data: bytes, errors: list[str]) -> list[Row]:
    text = ""
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):  # latin-1 decodes anything
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if _looks_utf16(data):
        raise ImportRefused(["Le fichier CSV est en UTF-16 (octets nuls) : enregistrez-le en "
                             "UTF-8 (« CSV UTF-8 » dans Excel)."])
    if "\x00" in text:
        raise ImportRefused(["Le fichier n'est pas un CSV lisible (octets nuls) : est-ce bien "
                             "un fichier texte ?"])
    if not _CONTROL.isdisjoint(text):
        raise ImportRefused(["Le fichier n'est pas un CSV lisible (caractères de contrôle) : "
                             "est-ce bien un fichier texte ?"])
    # newline="": the csv module reads every line ending itself (\r\n, \n, and the \r of
    # old Mac exports) and keeps line breaks inside quoted cells.
    first_line = io.StringIO(text, newline="").readline()
    delimiter = max(";,\t", key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        table = list(reader)
    except csv.Error as exc:
        problem = "une cellule est trop longue" if "field larger" in str(exc) \
            else "format CSV invalide"
        raise ImportRefused([f"Le fichier CSV est illisible à la ligne {reader.line_num} : "
                             f"{problem}."]) from None
    if not table:
        return []
    return _rows(spec, spec.sheet_of({c.strip().lower() for c in table[0]}), table, errors)


def _xlsx_rows(spec: TableSpec, data: bytes, errors: list[str]) -> list[Row]:
    from openpyxl import load_workbook

    not_xlsx = ImportRefused(["Le fichier n'est pas un classeur Excel (.xlsx) lisible."])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            # zipfile never unpacks a member past its declared size: this bounds the memory.
            unpacked = sum(info.file_size for info in archive.infolist())
    except Exception:  # zipfile raises many kinds for a broken or foreign file
        raise not_xlsx from None
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ImportRefused([f"Classeur trop volumineux une fois décompressé ("
                             f"{unpacked // 1024 // 1024} Mio ; "
                             f"{MAX_XLSX_UNPACKED_BYTES // 1024 // 1024} Mio au plus)."])
    try:
        # The values Excel computed and saved with the file; a formula has none when the
        # file was written by a program that does not compute (read from the formulas).
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        formulas = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # openpyxl raises many kinds for a broken or foreign file
        raise not_xlsx from None
    try:
        known = [name for name in book.sheetnames if name in spec.sheets]
        if not known:
            names = " ou ".join(f"« {name} »" for name in spec.sheets)
            raise ImportRefused([f"Le classeur doit contenir une feuille {names} "
                                 f"({spec.template_hint})."])
        rows: list[Row] = []
        for name in spec.sheets:
            if name in known:
                table = ([_FORMULA if value.value is None and formula.data_type == "f"
                          else value.value for value, formula in zip(
                              values, formulas_row, strict=False)]
                         for values, formulas_row in zip(book[name].iter_rows(),
                                                         formulas[name].iter_rows(),
                                                         strict=False))
                try:
                    rows += _rows(spec, name, table, errors)
                except ImportRefused:
                    raise
                except Exception:  # broken XML, impossible dates... inside the sheet
                    raise ImportRefused([f"Le classeur est endommagé : la feuille « {name} » "
                                         "est illisible."]) from None
        return rows
    finally:
        book.close()
        formulas.close()


def _read_bytes(path: Path) -> bytes:
    """The bytes of a regular file, never more than MAX_FILE_BYTES + 1 of them read: a folder,
    a device (/dev/zero) or a FIFO is refused without waiting on it."""
    too_big = ImportRefused([f"Fichier trop volumineux ({MAX_FILE_BYTES // 1024 // 1024} Mio "
                             "au plus)."])
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO opens without a writer
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise ImportRefused([f"Fichier introuvable : {path}."]) from None
        raise ImportRefused([f"Lecture impossible de {path} : {describe_os_error(exc)}."]) \
            from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImportRefused([f"{path} est un dossier : indiquez un fichier .xlsx ou .csv."])
        if not stat.S_ISREG(info.st_mode):
            raise ImportRefused([f"{path} n'est pas un fichier ordinaire (périphérique, tube "
                                 "ou socket) : indiquez un fichier .xlsx ou .csv."])
        if path.suffix.lower() not in SUFFIXES:
            raise ImportRefused(["Format non pris en charge : utilisez un fichier .xlsx ou "
                                 ".csv."])
        if info.st_size > MAX_FILE_BYTES:
            raise too_big
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1  # one byte over the limit is enough to refuse the size
        while left > 0 and (chunk := os.read(fd, min(left, 1024 * 1024))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise ImportRefused([f"Lecture impossible de {path} : {describe_os_error(exc)}."]) \
            from None
    finally:
        os.close(fd)
    if left <= 0:
        raise too_big
    return b"".join(chunks)


def read_file(path: Path, spec: TableSpec) -> list[Row]:
    """Parse the file; raise ImportRefused for unreadable files or bad headers."""
    data = _read_bytes(path)
    return read_bytes(data, path.suffix.lower(), spec)


def read_bytes(data: bytes, suffix: str, spec: TableSpec) -> list[Row]:
    """Parse a file already in memory (an upload); `suffix` is its extension."""
    if suffix not in SUFFIXES:
        raise ImportRefused(["Format non pris en charge : utilisez un fichier .xlsx ou .csv."])
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused([f"Fichier trop volumineux ({MAX_FILE_BYTES // 1024 // 1024} Mio "
                             "au plus)."])
    errors: list[str] = []
    rows = _xlsx_rows(spec, data, errors) if suffix == ".xlsx" else _csv_rows(spec, data, errors)
    if errors:
        raise ImportRefused(errors)
    if not rows:
        raise ImportRefused(["Le fichier ne contient aucune ligne à importer."])
    return rows


def write_template(path: Path, spec: TableSpec, sheet: str | None = None) -> None:
    """An empty import file: .xlsx with every sheet (and a help sheet) or one .csv table."""
    path.write_bytes(template_bytes(spec, path.suffix.lower(), sheet))


def template_bytes(spec: TableSpec, suffix: str, sheet: str | None = None) -> bytes:
    first = next(iter(spec.sheets))
    if suffix == ".csv":
        return to_csv(list(spec.sheets[sheet or first]), [])
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, columns in spec.sheets.items():
        ws = book.create_sheet(name)
        ws.append(list(columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for i, column in enumerate(columns, start=1):
            ws.column_dimensions[ws.cell(1, i).column_letter].width = max(14, len(column) + 2)
    help_sheet = book.create_sheet("Mode d'emploi")
    help_sheet.append(["Feuille", "Colonne", "Obligatoire", "Contenu"])
    for name, columns in spec.sheets.items():
        for column, (required, text) in columns.items():
            help_sheet.append([name, column, "oui" if required else "non", text])
    help_sheet.append([])
    help_sheet.append(["Tout ou rien : si une ligne est en erreur, rien n'est créé et chaque "
                       "erreur est signalée avec son numéro de ligne."])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
