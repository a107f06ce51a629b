"""Companies: creation with their interlocuteur and folder tree, edition, disconnection."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import siren as siren_number

from acl.db import folded
from acl.documents.tree import create_company_tree
from acl.errors import InvalidInput, NotFound
from acl.people.accounts import NewAccount, check_email, new_user
from acl.people.models import Company, CompanyStatus, Portfolio, User, VatRegime
from acl.rights import delegation
from acl.rights.audit import Context, record, require
from acl.rights.models import Role
from acl.rights.passwords import PasswordHasher
from acl.rights.policy import Principal, reaches
from config import dates
from config.names import InvalidName, check_segment, fold
from config.numbers import whole_number
from config.settings import FoldersSettings


def check_siren(value: str) -> str:
    try:
        siren = siren_number.validate(value)
        if not siren.strip("0"):  # nine zeros pass the check digit, and are no one's
            raise StdnumError
        return siren
    except StdnumError:
        raise InvalidInput(f"SIREN invalide : « {value} » (9 chiffres avec une clé de "
                           "contrôle correcte).", field="siren") from None


def check_fiscal_year_end(value: str) -> str:
    """Accept JJ/MM or MM-DD; store MM-DD."""
    value = value.strip()
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})", value) or re.fullmatch(r"(\d{1,2})-(\d{1,2})",
                                                                       value)
    if match:
        a, b = int(match.group(1)), int(match.group(2))
        day, month = (a, b) if "/" in value else (b, a)
        try:
            date(2024, month, day)  # a leap year accepts 29/02
            return f"{month:02d}-{day:02d}"
        except ValueError:
            pass
    raise InvalidInput(f"Date de clôture invalide : « {value} » (attendu JJ/MM, par exemple "
                       "31/12).", field="fiscal_year_end")


def check_vat_regime(value: str) -> str:
    for regime in VatRegime:
        if value.strip().lower() == regime.value:
            return regime.value
    raise InvalidInput(f"Régime de TVA inconnu : « {value} » ("
                       + ", ".join(r.value for r in VatRegime) + ").", field="vat_regime")


def _folder_name(session: Session, name: str, siren: str) -> str:
    """A drive folder name from the company name: readable, valid everywhere, unique."""
    cleaned = re.sub(r'[<>:"/\\|?*\x00-\x1f\x7f]', " ", name)
    cleaned = " ".join(cleaned.split()).rstrip(". ") or siren
    try:
        cleaned = check_segment(cleaned[:200])
    except InvalidName:
        cleaned = siren
    taken = session.scalars(select(Company.id).where(
        func.lower(Company.folder_name) == cleaned.lower())).first()
    return f"{cleaned} ({siren})" if taken is not None else cleaned


@dataclass(frozen=True)
class NewCompany:
    company: Company
    interlocuteur: NewAccount


@dataclass(frozen=True)
class CompanyInput:
    name: str
    siren: str
    legal_form: str = ""
    address: str = ""
    vat_regime: str = VatRegime.SIMPLIFIED.value
    fiscal_year_end: str = "12-31"
    protection_date: date | None = None
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""


def validate_company(session: Session, data: CompanyInput,
                     company_id: int | None = None) -> CompanyInput:
    """Check and normalise; `company_id`: the company being edited (its own SIREN is free)."""
    name = " ".join(data.name.split())
    if not name:
        raise InvalidInput("La raison sociale est obligatoire.", field="name")
    if len(name) > 200:
        raise InvalidInput("La raison sociale ne peut dépasser 200 caractères.", field="name")
    siren = check_siren(data.siren)
    same_siren = select(Company.id).where(Company.siren == siren)
    if company_id is not None:
        same_siren = same_siren.where(Company.id != company_id)
    if session.scalars(same_siren).first() is not None:
        raise InvalidInput(f"Une entreprise de SIREN {siren} existe déjà.", field="siren")
    try:
        contact_email = check_email(data.contact_email) or ""
    except InvalidInput as refused:  # the same rule as an account's address
        raise InvalidInput(refused.reason, field="contact_email") from None
    return CompanyInput(
        name=name, siren=siren, legal_form=_bounded(data.legal_form, "legal_form"),
        address=_bounded(data.address, "address"),
        vat_regime=check_vat_regime(data.vat_regime),
        fiscal_year_end=check_fiscal_year_end(data.fiscal_year_end),
        protection_date=check_protection_date(data.protection_date),
        contact_name=_bounded(data.contact_name, "contact_name"),
        contact_email=contact_email, contact_phone=_bounded(data.contact_phone, "contact_phone"))


# The longest text of each free field (its column's length; the address is free text):
# longer is refused, not cut (PostgreSQL would refuse it; SQLite would keep it whole).
FIELD_LIMITS = {"legal_form": ("La forme juridique", 50), "address": ("L'adresse", 1000),
                "contact_name": ("Le nom du contact", 200),
                "contact_phone": ("Le téléphone du contact", 40)}


def _bounded(value: str, field: str) -> str:
    value = value.strip()
    label, limit = FIELD_LIMITS[field]
    if len(value) > limit:
        raise InvalidInput(f"{label} ne peut dépasser {limit} caractères.", field=field)
    return value


def create_company(session: Session, ctx: Context, hasher: PasswordHasher,
                   folders: FoldersSettings, data: CompanyInput, *, interlocuteur_login: str,
                   interlocuteur_name: str, interlocuteur_email: str | None = None,
                   interlocuteur_password: str | None = None,
                   portfolio: Portfolio | None = None) -> NewCompany:
    """Create a company, its folder tree and its interlocuteur (seed 000)."""
    require(delegation.may_create_company(ctx.principal, portfolio.id if portfolio else None),
            action="company.create", target=data.name)
    data = validate_company(session, data)
    company = Company(
        name=data.name, siren=data.siren, folder_name=_folder_name(session, data.name,
                                                                   data.siren),
        legal_form=data.legal_form, address=data.address, vat_regime=data.vat_regime,
        fiscal_year_end=data.fiscal_year_end, protection_date=data.protection_date,
        contact_name=data.contact_name, contact_email=data.contact_email,
        contact_phone=data.contact_phone)
    session.add(company)
    session.flush()
    create_company_tree(session, company, folders.tree, folders.subfolders)
    if portfolio is not None:
        portfolio.companies.append(company)
    account = new_user(session, hasher, login=interlocuteur_login,
                       display_name=interlocuteur_name, role=Role.INTERLOCUTEUR,
                       email=interlocuteur_email, company=company,
                       password=interlocuteur_password, created_by_id=ctx.principal.user_id)
    record(session, ctx, "company.create", company.name, company_id=company.id,
           detail={"siren": company.siren, "interlocuteur": account.user.login,
                   "portefeuille": portfolio.name if portfolio else ""})
    return NewCompany(company, account)


EDITABLE_FIELDS = ("name", "siren", "legal_form", "address", "vat_regime", "fiscal_year_end",
                   "contact_name", "contact_email", "contact_phone")


def update_company(session: Session, ctx: Context, company: Company,
                   data: CompanyInput) -> dict[str, str]:
    """Edit a company's fields (not its drive folder name, nor its protection date: see
    `set_protection_date`). Returns the changed fields."""
    require(delegation.may_edit_company(ctx.principal, company.id), action="company.update",
            target=company.name, company_id=company.id)
    data = validate_company(session, data, company_id=company.id)
    changes = {}
    for name in EDITABLE_FIELDS:
        value = getattr(data, name)
        if getattr(company, name) != value:
            changes[name] = value
            setattr(company, name, value)
    if changes:
        record(session, ctx, "company.update", company.name, company_id=company.id,
               detail=changes)
    return changes


def find_company(session: Session, principal: Principal, ref: str) -> Company:
    """A company by SIREN, id or name, among those the principal reaches."""
    ref = ref.strip()
    compact = ref.replace(" ", "")
    conditions = [folded(Company.name) == fold(ref), folded(Company.folder_name) == fold(ref)]
    if whole_number(compact) is not None:
        conditions.append(Company.siren == compact)
        if len(compact) < 9:
            conditions.append(Company.id == int(compact))
    found = [c for c in session.scalars(select(Company).where(or_(*conditions)))
             if reaches(principal, c.id)]
    if len(found) != 1:
        raise NotFound(f"Entreprise introuvable : « {ref} »." if not found else
                       f"Plusieurs entreprises répondent à « {ref} » : précisez le SIREN.")
    return found[0]


def matching(found: list[Company], query: str) -> list[Company]:
    """The companies whose name holds `query` (case and accents aside) or whose SIREN does
    (spaces aside): the search box of the dashboard and of the rights pages."""
    wanted, digits = fold(query.strip()), query.replace(" ", "")
    return [c for c in found if not wanted or wanted in fold(c.name) or digits in c.siren]


def visible_companies(session: Session, principal: Principal) -> list[Company]:
    companies = session.scalars(select(Company).order_by(Company.name))
    return [c for c in companies if reaches(principal, c.id)]


EXPORT_COLUMNS = ("Raison sociale", "SIREN", "Forme juridique", "Adresse", "Régime de TVA",
                  "Clôture de l'exercice", "Créée le", "Date de protection", "Utilisateurs",
                  "Statut", "Contact", "E-mail du contact", "Téléphone du contact")


def export_rows(session: Session, chosen: list[Company]) -> list[list[object]]:
    """The rows of `EXPORT_COLUMNS` for these companies (`acl.tables` writes the file)."""
    counts = user_counts(session)
    return [[c.name, c.siren, c.legal_form, c.address, c.vat_regime,
             f"{c.fiscal_year_end[3:]}/{c.fiscal_year_end[:2]}", dates.paris_day(c.created_at),
             dates.day(c.protection_date), counts.get(c.id, 0),
             c.status, c.contact_name, c.contact_email,
             c.contact_phone] for c in chosen]


def user_counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(User.company_id, func.count()).where(
        User.company_id.is_not(None)).group_by(User.company_id))
    return {company_id: count for company_id, count in rows}


def set_status(session: Session, ctx: Context, company: Company, status: CompanyStatus) -> None:
    action = "company.disconnect" if status == CompanyStatus.DISCONNECTED else "company.reconnect"
    require(delegation.may_edit_company(ctx.principal, company.id), action=action,
            target=company.name, company_id=company.id)
    if company.status == CompanyStatus.CLOSED or status == CompanyStatus.CLOSED:
        raise InvalidInput(f"« {company.name} » est résiliée : elle le reste (ses documents se "
                           "lisent et se téléchargent toujours)." if company.status ==
                           CompanyStatus.CLOSED else "Résilier une entreprise se fait par "
                           "la résiliation, qui ferme aussi ses comptes.")
    company.status = status.value
    record(session, ctx, action, company.name, company_id=company.id)


def check_protection_date(protection: date | None, today: date | None = None) -> date | None:
    """A protection date closes a fiscal period that has ended: one in the future would at
    once make read-only every document deposited from today until it."""
    today = today or dates.today_in_paris()
    if protection is not None and protection > today:
        raise InvalidInput(f"Date de protection refusée : le {protection:%d/%m/%Y} est à venir. "
                           "Elle ferme un exercice clos (les documents antérieurs passent en "
                           "lecture seule) : choisissez une date passée ou aujourd'hui.",
                           field="protection_date")
    return protection


def set_protection_date(session: Session, ctx: Context, company: Company,
                        protection: date | None) -> None:
    require(delegation.may_edit_company(ctx.principal, company.id),
            action="company.protection_date", target=company.name, company_id=company.id)
    check_protection_date(protection)
    previous = company.protection_date
    company.protection_date = protection
    record(session, ctx, "company.protection_date", company.name, company_id=company.id,
           detail={"before": previous.isoformat() if previous else "",
                   "after": protection.isoformat() if protection else ""})


def interlocuteur_of(session: Session, company: Company) -> User | None:
    return session.scalars(select(User).where(User.company_id == company.id,
                                              User.role == Role.INTERLOCUTEUR.value)
                           .order_by(User.id)).first()


def get_company(session: Session, principal: Principal, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None or not reaches(principal, company_id):
        raise NotFound("Entreprise introuvable.")
    return company
