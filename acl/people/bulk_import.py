"""Bulk import of companies (with their interlocuteur) and users from .xlsx or .csv.

All or nothing: every row goes through the same services as a single creation (same
validation, same delegation rules) inside one transaction, each in a savepoint so that every
row's error is collected; if any row fails, the whole transaction is rolled back and the
errors are reported with their row numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl import tables
from acl.errors import InvalidInput, Refused
from acl.people import accounts, companies, invitations, portfolios
from acl.people.models import User
from acl.rights.audit import Context, record
from acl.rights.models import Level, Role, Side
from acl.rights.passwords import PasswordHasher
from acl.rights.principals import load_principal
from config import dates
from config.settings import FoldersSettings

MAX_FILE_BYTES = tables.MAX_FILE_BYTES
ImportRefused, Row = tables.ImportRefused, tables.Row

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
    "role": (True, "associé, assistant ou utilisateur (le cabinet crée les utilisateurs d'une "
                   "entreprise dans le fichier qui crée l'entreprise ; ensuite, son "
                   "interlocuteur)"),
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
SPEC = tables.TableSpec(SHEETS, MAX_CELL_CHARS, "voir liasse import --template")


@dataclass
class ImportResult:
    companies: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    credentials: list[tuple[str, str]] = field(default_factory=list)  # (login, password)
    invited: list[tuple[str, str]] = field(default_factory=list)  # (login, e-mail address)


def read_file(path: Path) -> list[Row]:
    """Parse the file; raise ImportRefused for unreadable files or bad headers."""
    return tables.read_file(path, SPEC)


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


def _problems(checks: list[Callable[[], object]]) -> list[str]:
    """Run every check of a row, and say what each refused (a row's errors all at once)."""
    found = []
    for check in checks:
        try:
            check()
        except Refused as exc:
            found.append(exc.reason)
    return found


def _login_free(session: Session, login: str) -> None:
    login = accounts.check_login(login)
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise InvalidInput(f"L'identifiant « {login} » est déjà pris.")


def _company_problems(session: Session, v: dict[str, str]) -> list[str]:
    return _problems([
        lambda: companies.check_siren(_siren_text(v.get("siren", ""))),
        lambda: companies.check_vat_regime(v.get("regime_tva") or "réel simplifié"),
        lambda: companies.check_fiscal_year_end(v.get("cloture_exercice") or "31/12"),
        lambda: _parse_date(v.get("date_protection", "")),
        lambda: v.get("portefeuille") and portfolios.find_portfolio(session, v["portefeuille"]),
        lambda: _login_free(session, v.get("interlocuteur_identifiant", "")),
        lambda: accounts.check_display_name(v.get("interlocuteur_nom", "")),
        lambda: accounts.check_email(v.get("interlocuteur_email") or None),
        lambda: accounts.check_email(v.get("contact_email") or None),
    ])


def _user_problems(session: Session, v: dict[str, str]) -> list[str]:
    return _problems([
        lambda: _login_free(session, v.get("identifiant", "")),
        lambda: accounts.check_display_name(v.get("nom", "")),
        lambda: _role(v),
        lambda: accounts.check_email(v.get("email") or None),
        *(lambda name=name: portfolios.find_portfolio(session, name)
          for name in _split(v.get("portefeuilles", ""))),
    ])


def _role(v: dict[str, str]) -> Role:
    role_text = v.get("role", "").strip().lower().replace("associe", "associé")
    try:
        return Role(role_text)
    except ValueError:
        raise InvalidInput(f"rôle inconnu « {v.get('role', '')} » (associé, assistant ou "
                           "utilisateur).") from None


def _import_company(session: Session, ctx: Context, hasher: PasswordHasher,
                    folders: FoldersSettings, v: dict[str, str], result: ImportResult) -> int:
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
    return created.company.id


def _import_user(session: Session, ctx: Context, hasher: PasswordHasher, v: dict[str, str],
                 result: ImportResult) -> None:
    role = _role(v)
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
                folders: FoldersSettings, rows: list[Row], *, source: str,
                base_url: str | None = None) -> ImportResult:
    """Create everything or raise ImportRefused; the caller commits (or rolls back). The
    companies come first: the people of a company the file creates are set up by the firm
    in the same act (`delegation`, "Onboarding")."""
    result = ImportResult()
    errors: list[str] = []
    onboarding: set[int] = set()
    actor = session.get(User, ctx.principal.user_id)
    ordered = sorted(rows, key=lambda r: (r.sheet != COMPANY_SHEET, r.number))
    for row in ordered:
        problems = (_company_problems if row.sheet == COMPANY_SHEET else _user_problems)(
            session, row.values)
        if problems:
            errors.extend(f"{row.sheet}, ligne {row.number} : {p}" for p in problems)
            continue
        savepoint = session.begin_nested()
        try:
            if row.sheet == COMPANY_SHEET:
                onboarding.add(_import_company(session, ctx, hasher, folders, row.values,
                                               result))
                if actor is not None:  # its reach now includes the new company
                    ctx = Context(replace(load_principal(session, actor),
                                          onboarding=frozenset(onboarding)), ctx.address)
            else:
                _import_user(session, ctx, hasher, row.values, result)
            savepoint.commit()
        except Refused as exc:
            savepoint.rollback()
            errors.append(f"{row.sheet}, ligne {row.number} : {exc.reason}")
    if errors:
        raise ImportRefused(errors)
    if base_url:  # the welcome mail, instead of a password to hand over
        _invite(session, ctx, result, base_url)
    record(session, ctx, "import", source, detail={"entreprises": len(result.companies),
                                                   "utilisateurs": len(result.users)})
    return result


def _invite(session: Session, ctx: Context, result: ImportResult, base_url: str) -> None:
    """Every account created with an address gets the firm's welcome mail with a link to
    choose a password; only those without one keep an initial password to hand over."""
    kept = []
    for login, password in result.credentials:
        user = session.scalar(select(User).where(User.login == login))
        if user is not None and user.email:
            invitations.invite(session, ctx, user, base_url)
            result.invited.append((login, user.email))
        else:
            kept.append((login, password))
    result.credentials = kept


def write_template(path: Path, sheet: str | None = None) -> None:
    """An empty import file: .xlsx with both sheets (and a help sheet) or one .csv table."""
    tables.write_template(path, SPEC, sheet)
