"""Bulk import of companies (with their interlocuteur) and users from .xlsx or .csv.

All or nothing: every row goes through the same services as a single creation (same
validation, same delegation rules) inside one transaction, each in a savepoint so that every
row's error is collected; if any row fails, the whole transaction is rolled back and the
errors are reported with their row numbers.
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from acl.errors import InvalidInput, Refused, describe_os_error
from acl.people import accounts, companies, portfolios
from acl.rights.audit import Context, record
from acl.rights.models import Level, Role, Side
from acl.rights.passwords import PasswordHasher
from config import dates
from config.settings import FoldersSettings

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_XLSX_UNPACKED_BYTES = 50 * 1024 * 1024  # what the .xlsx (a zip) says it unpacks to
MAX_ROWS = 5000

COMPANY_SHEET, USER_SHEET = "Entreprises", "Utilisateurs"

# column -> (required, help text shown in the template)
COMPANY_COLUMNS = {
    "raison_sociale": (True, "Nom de l'entreprise"),
    "siren": (True, "9 chiffres"),
    "forme_juridique": (False, "SARL, SAS, EI..."),
    "adresse": (False, ""),
    "regime_tva": (False, "franchise, réel simplifié, réel normal, non assujetti"),
    "cloture_exercice": (False, "JJ/MM, 31/12 par défaut"),
    "date_protection": (False, "JJ/MM/AAAA : documents antérieurs en lecture seule"),
    "portefeuille": (False, "nom d'un portefeuille existant"),
    "interlocuteur_identifiant": (True, "identifiant de connexion de l'interlocuteur"),
    "interlocuteur_nom": (True, "nom affiché de l'interlocuteur"),
    "interlocuteur_email": (False, ""),
    "contact_nom": (False, ""),
    "contact_email": (False, ""),
    "contact_telephone": (False, ""),
}
USER_COLUMNS = {
    "identifiant": (True, "identifiant de connexion"),
    "nom": (True, "nom affiché"),
    "role": (True, "associé, assistant ou utilisateur"),
    "email": (False, ""),
    "entreprise": (False, "SIREN de l'entreprise (obligatoire pour un utilisateur)"),
    "portefeuilles": (False, "assistants et associés : portefeuilles séparés par des virgules"),
    "dossiers_lecture": (False, "dossiers en lecture, séparés par des virgules"),
    "dossiers_ecriture": (False, "dossiers en écriture, séparés par des virgules"),
}
SHEETS = {COMPANY_SHEET: COMPANY_COLUMNS, USER_SHEET: USER_COLUMNS}

# The longest text a cell may hold: the database column's length, or a generous bound for the
# free or split columns; a longer cell is refused with its row number.
MAX_CELL_CHARS = {
    "raison_sociale": 200, "siren": 20, "regime_tva": 30, "cloture_exercice": 10,
    "date_protection": 30, "portefeuille": 200,
    "interlocuteur_identifiant": 64, "interlocuteur_nom": 200, "interlocuteur_email": 254,
    "contact_email": 254,
    **{column: companies.FIELD_LIMITS[field][1] for column, field in (
        ("forme_juridique", "legal_form"), ("adresse", "address"),
        ("contact_nom", "contact_name"), ("contact_telephone", "contact_phone"))},
    "identifiant": 64, "nom": 200, "role": 20, "email": 254, "entreprise": 200,
    "portefeuilles": 2000, "dossiers_lecture": 2000, "dossiers_ecriture": 2000,
}

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


@dataclass
class ImportResult:
    companies: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    credentials: list[tuple[str, str]] = field(default_factory=list)  # (login, password)


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


def _rows(sheet: str, table: Iterable[Iterable[object]], errors: list[str]) -> list[Row]:
    columns = SHEETS[sheet]
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
            elif name in columns and len(values[name]) > MAX_CELL_CHARS[name]:
                errors.append(f"{sheet}, ligne {number} : la colonne « {name} » dépasse "
                              f"{MAX_CELL_CHARS[name]} caractères.")
        if any(values.values()):
            rows.append(Row(sheet, number, values))
        if len(rows) > MAX_ROWS:
            errors.append(f"{sheet} : plus de {MAX_ROWS} lignes ; découpez le fichier.")
            break
    return rows


def _looks_utf16(data: bytes) -> bool:
    """A byte order mark, or NUL bytes in most even or most odd places (Excel's "Unicode
    text"): UTF-16 text."""
    head = data[:200]
    return head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or max(
        head[0::2].count(0), head[1::2].count(0)) * 4 > len(head)


def _csv_rows(data: bytes, errors: list[str]) -> list[Row]:
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
    header = {c.strip().lower() for c in table[0]}
    sheet = COMPANY_SHEET if "raison_sociale" in header or "siren" in header else USER_SHEET
    return _rows(sheet, table, errors)


def _xlsx_rows(data: bytes, errors: list[str]) -> list[Row]:
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
        known = [name for name in book.sheetnames if name in SHEETS]
        if not known:
            raise ImportRefused([f"Le classeur doit contenir une feuille « {COMPANY_SHEET} » "
                                 f"ou « {USER_SHEET} » (voir liasse import --template)."])
        rows: list[Row] = []
        for name in (COMPANY_SHEET, USER_SHEET):
            if name in known:
                table = ([_FORMULA if value.value is None and formula.data_type == "f"
                          else value.value for value, formula in zip(
                              values, formulas_row, strict=False)]
                         for values, formulas_row in zip(book[name].iter_rows(),
                                                         formulas[name].iter_rows(),
                                                         strict=False))
                try:
                    rows += _rows(name, table, errors)
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
        if path.suffix.lower() not in (".xlsx", ".csv", ".txt"):
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


def read_file(path: Path) -> list[Row]:
    """Parse the file; raise ImportRefused for unreadable files or bad headers."""
    data = _read_bytes(path)
    errors: list[str] = []
    if path.suffix.lower() == ".xlsx":
        rows = _xlsx_rows(data, errors)
    else:
        rows = _csv_rows(data, errors)
    if errors:
        raise ImportRefused(errors)
    if not rows:
        raise ImportRefused(["Le fichier ne contient aucune ligne à importer."])
    return rows


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


def _parse_date(text: str) -> date | None:
    if not text:
        return None
    try:  # as everywhere else (a year of twenty digits, or 0001, is no date)
        return dates.parse_day(text if "/" in text else text[:10])
    except ValueError:
        raise InvalidInput(f"date invalide « {text} » (attendu JJ/MM/AAAA).") from None


def _siren_text(text: str) -> str:
    # Excel turns a SIREN into a number and drops its leading zeros.
    return text.zfill(9) if text.isdigit() and len(text) < 9 else text


def _import_company(session: Session, ctx: Context, hasher: PasswordHasher,
                    folders: FoldersSettings, v: dict[str, str], result: ImportResult) -> None:
    portfolio = portfolios.find_portfolio(session, v["portefeuille"]) \
        if v.get("portefeuille") else None
    created = companies.create_company(
        session, ctx, hasher, folders,
        companies.CompanyInput(
            name=v.get("raison_sociale", ""), siren=_siren_text(v.get("siren", "")),
            legal_form=v.get("forme_juridique", ""), address=v.get("adresse", ""),
            vat_regime=v.get("regime_tva") or "réel simplifié",
            fiscal_year_end=v.get("cloture_exercice") or "31/12",
            protection_date=_parse_date(v.get("date_protection", "")),
            contact_name=v.get("contact_nom", ""), contact_email=v.get("contact_email", ""),
            contact_phone=v.get("contact_telephone", "")),
        interlocuteur_login=v.get("interlocuteur_identifiant", ""),
        interlocuteur_name=v.get("interlocuteur_nom", ""),
        interlocuteur_email=v.get("interlocuteur_email") or None, portfolio=portfolio)
    result.companies.append(created.company.name)
    result.credentials.append((created.interlocuteur.user.login,
                               created.interlocuteur.initial_password or ""))


def _import_user(session: Session, ctx: Context, hasher: PasswordHasher, v: dict[str, str],
                 result: ImportResult) -> None:
    role_text = v.get("role", "").strip().lower().replace("associe", "associé")
    try:
        role = Role(role_text)
    except ValueError:
        raise InvalidInput(f"rôle inconnu « {v.get('role', '')} » (associé, assistant ou "
                           "utilisateur).") from None
    company = None
    if v.get("entreprise"):
        company = companies.find_company(session, ctx.principal, _siren_text(v["entreprise"]))
    created = accounts.create_user(session, ctx, hasher, login=v.get("identifiant", ""),
                                   display_name=v.get("nom", ""), role=role,
                                   email=v.get("email") or None, company=company)
    user = created.user
    for name in _split(v.get("portefeuilles", "")):
        if role.side != Side.CABINET:
            raise InvalidInput("seuls les comptes du cabinet vont dans des portefeuilles.")
        portfolios.set_member(session, ctx, portfolios.find_portfolio(session, name), user, True)
    for column, level in (("dossiers_lecture", Level.READ), ("dossiers_ecriture", Level.WRITE)):
        folders = _split(v.get(column, ""))
        if folders and company is None:
            raise InvalidInput(f"« {column} » demande la colonne « entreprise ».")
        for folder in folders:
            accounts.grant(session, ctx, user, company, folder, level)
    result.users.append(user.login)
    result.credentials.append((user.login, created.initial_password or ""))


def import_rows(session: Session, ctx: Context, hasher: PasswordHasher,
                folders: FoldersSettings, rows: list[Row], *, source: str) -> ImportResult:
    """Create everything or raise ImportRefused; the caller commits (or rolls back)."""
    result = ImportResult()
    errors: list[str] = []
    ordered = sorted(rows, key=lambda r: (r.sheet != COMPANY_SHEET, r.number))
    for row in ordered:
        savepoint = session.begin_nested()
        try:
            if row.sheet == COMPANY_SHEET:
                _import_company(session, ctx, hasher, folders, row.values, result)
            else:
                _import_user(session, ctx, hasher, row.values, result)
            savepoint.commit()
        except Refused as exc:
            savepoint.rollback()
            errors.append(f"{row.sheet}, ligne {row.number} : {exc.reason}")
    if errors:
        raise ImportRefused(errors)
    record(session, ctx, "import", source, detail={"entreprises": len(result.companies),
                                                   "utilisateurs": len(result.users)})
    return result


def write_template(path: Path, sheet: str | None = None) -> None:
    """An empty import file: .xlsx with both sheets (and a help sheet) or one .csv table."""
    if path.suffix.lower() == ".csv":
        columns = SHEETS[sheet or COMPANY_SHEET]
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out, delimiter=";").writerow(columns)
        return
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for name, columns in SHEETS.items():
        ws = book.create_sheet(name)
        ws.append(list(columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for i, column in enumerate(columns, start=1):
            ws.column_dimensions[ws.cell(1, i).column_letter].width = max(14, len(column) + 2)
    help_sheet = book.create_sheet("Mode d'emploi")
    help_sheet.append(["Feuille", "Colonne", "Obligatoire", "Contenu"])
    for name, columns in SHEETS.items():
        for column, (required, text) in columns.items():
            help_sheet.append([name, column, "oui" if required else "non", text])
    help_sheet.append([])
    help_sheet.append(["Tout ou rien : si une ligne est en erreur, rien n'est créé et chaque "
                       "erreur est signalée avec son numéro de ligne."])
    book.save(path)
