"""Administration: companies, import, users, habilitations (matrix), portfolios, audit log.

Thin views over the services of `acl`, as the CLI uses them: every act runs in
`admin_transaction` (so that a refusal is audited) and the services decide every rule. The
delegation functions are only asked which sections, buttons and choices to show; a request
the page would not have offered still goes to the service, which refuses it with its French
sentence. A refusal is shown next to its field or at the top of the page, with what the user
typed kept; a page the user may not use answers 403, an object they may not see 404.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select

from acl.db import utcnow
from acl.documents.tree import standard_folders
from acl.errors import InvalidInput, NotFound, PermissionDenied, Refused
from acl.people import accounts, bulk_import, companies, invitations, portfolios
from acl.people.models import Company, CompanyStatus, Invitation, Portfolio, User, VatRegime
from acl.rights import delegation
from acl.rights.audit import Context, admin_transaction, query_entries, record
from acl.rights.models import AuditEntry, Level, Role, Service, Side
from acl.rights.policy import Principal, folder_level, has_service, reaches
from acl.rights.principals import load_principal
from config import dates
from invoicing_web.forms import Form, parse_id
from invoicing_web.security import context, db_session, login_required, services

bp = Blueprint("admin", __name__, url_prefix="/administration")
PARIS = ZoneInfo("Europe/Paris")
AUDIT_LIMIT = 200
VAT_OPTIONS = [(regime.value, regime.value.capitalize()) for regime in VatRegime]


# --- what the signed-in user may use ------------------------------------------------------

def _stand_in(role: Role, company_id: int | None) -> Principal:
    """An account of `role` (none in particular), to ask the delegation rules what a role
    may do before any real account is named."""
    return Principal(user_id=0, login="", role=role,
                     company_id=company_id if role.side == Side.COMPANY else None)


def creatable_roles(p: Principal) -> list[Role]:
    return [role for role in Role
            if delegation.may_create_user(p, role, p.company_id if role.side == Side.COMPANY
                                          else None)]


def company_portfolio_choices(p: Principal) -> tuple[bool, list[int]]:
    """(a company may be created outside any portfolio, portfolios it may be created in)."""
    return (bool(delegation.may_create_company(p, None)),
            sorted(pid for pid in p.portfolio_ids if delegation.may_create_company(p, pid)))


@dataclass(frozen=True)
class Sections:
    companies: bool
    create_company: bool
    import_file: bool
    users: bool
    rights: bool
    portfolios: bool
    audit: bool

    @property
    def any(self) -> bool:
        return any((self.companies, self.import_file, self.users, self.rights,
                    self.portfolios, self.audit))


def sections(p: Principal | None) -> Sections:
    if p is None:
        return Sections(False, False, False, False, False, False, False)
    outside, inside = company_portfolio_choices(p)
    create_company = outside or bool(inside)
    roles = creatable_roles(p)
    manages = any(delegation.may_manage_user(p, _stand_in(role, p.company_id))
                  for role in sorted(delegation.GRANTABLE_ROLES))
    composes = bool(delegation.may_manage_portfolios(p)) or any(
        delegation.may_change_portfolio_member(p, pid, _stand_in(Role.ASSISTANT, None))
        for pid in p.portfolio_ids)
    return Sections(
        companies=create_company or any(delegation.may_edit_company(p, cid)
                                        for cid in p.portfolio_company_ids),
        create_company=create_company,
        import_file=create_company or bool(roles),
        users=manages or bool(roles),
        rights=manages,
        portfolios=composes,
        audit=bool(delegation.may_read_audit(p)))


SECTION_REFUSALS = {
    "companies": "Seuls le correspondant et les associés administrent les entreprises.",
    "create_company": "Seuls le correspondant et les associés créent des entreprises.",
    "import_file": "Votre compte ne permet de créer ni entreprise ni compte.",
    "users": "Votre compte n'administre aucun compte.",
    "rights": "Votre compte n'accorde de droits à personne.",
    "portfolios": "Seuls le correspondant et les associés composent les portefeuilles.",
}


def require_section(name: str) -> Callable:
    """Pages (GET) of a section the user may not use answer 403."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not getattr(sections(g.principal), name):
                abort(403, description=SECTION_REFUSALS[name])
            return view(*args, **kwargs)

        return wrapped

    return decorate


@bp.app_context_processor
def admin_navigation() -> dict:
    """`admin_allowed` hides the "Administration" link from those who have nothing there."""
    return {"admin_allowed": sections(g.get("principal")).any}


@bp.context_processor
def admin_context() -> dict:
    return {"sections": sections(g.get("principal")), "role_label": role_label,
            "level_labels": [level.label for level in Level]}


@bp.errorhandler(Refused)
def refused(exc: Refused):
    """A refusal no view turned into a form error: its sentence, with a fitting status."""
    code = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, PermissionDenied) \
        else 400
    message = exc.reason if code != 404 else exc.reason or "Page introuvable."
    return render_template("error.html", message=message, code=code), code


# --- helpers ------------------------------------------------------------------------------

def role_label(role: str) -> str:
    return str(role).capitalize()


def _status(exc: Refused) -> int:
    return 403 if isinstance(exc, PermissionDenied) else 400


def _show_refusal(exc: Refused, form: Form, fields: dict[str, str] | None = None) -> None:
    """The service's sentence next to its field (renamed by `fields`), else at the top."""
    name = getattr(exc, "field", "") or ""
    name = (fields or {}).get(name, name)
    form.error(name if name in form.values else "_", exc.reason)


def _refuse_page(exc_or_reason: Refused | str, code: int = 403):
    """For someone who may not use the page at all: the reason alone."""
    reason = exc_or_reason.reason if isinstance(exc_or_reason, Refused) else exc_or_reason
    if isinstance(exc_or_reason, Refused):
        code = 404 if isinstance(exc_or_reason, NotFound) else _status(exc_or_reason)
    return render_template("error.html", message=reason, code=code), code


def _private(response):
    """Pages showing a password: never stored by the browser or a proxy."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _base_url() -> str:
    return services().settings.server.public_url.rstrip("/") or request.host_url.rstrip("/")


def _fresh_read_session():
    """After writes in this request, read them back with a new session."""
    old = g.pop("db_session", None)
    if old is not None:
        old.close()
    return db_session()


def parse_day(form: Form, name: str, *, required: bool = False) -> date | None:
    """AAAA-MM-JJ (date field) or JJ/MM/AAAA (typed); an error next to the field."""
    text = form.get(name)
    if not text:
        if required:
            form.error(name, "Indiquez une date.")
        return None
    try:
        return dates.parse_day(text)
    except ValueError:
        form.error(name, f"Date invalide : « {text} » (JJ/MM/AAAA).")
        return None


def _count(n: int, words: str) -> str:
    """"2 droits modifiés": every word takes the plural."""
    return f"{n} " + " ".join(w + ("s" if n > 1 else "") for w in words.split())


def _paris_day(value: datetime | None) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y") if value else ""


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


# --- index --------------------------------------------------------------------------------

@bp.get("/")
def index_slash():
    return redirect(url_for(".index"))


@bp.get("")
@login_required
def index():
    if not sections(g.principal).any:
        abort(403, description="Votre compte n'a accès à aucune fonction d'administration.")
    return render_template("admin_index.html")


# --- companies ----------------------------------------------------------------------------

COMPANY_FIELDS = ("name", "siren", "legal_form", "address", "vat_regime", "fiscal_year_end",
                  "protection_date", "contact_name", "contact_email", "contact_phone")
NEW_COMPANY_FIELDS = (*COMPANY_FIELDS, "portfolio", "interlocuteur_login",
                      "interlocuteur_name", "interlocuteur_email")
INTERLOCUTEUR_FIELDS = {"login": "interlocuteur_login", "display_name": "interlocuteur_name",
                        "email": "interlocuteur_email"}
EXPORT_COLUMNS = ("Raison sociale", "SIREN", "Forme juridique", "Adresse", "Régime de TVA",
                  "Clôture de l'exercice", "Créée le", "Date de protection", "Utilisateurs",
                  "Statut", "Contact", "E-mail du contact", "Téléphone du contact")


def _render_companies(form: Form, selected: set[int], status: int = 200):
    session, p = db_session(), g.principal
    shown = companies.visible_companies(session, p)
    return render_template(
        "admin_companies.html", companies=shown, counts=companies.user_counts(session),
        selected=selected, form=form, day=_day, paris_day=_paris_day,
        editable={c.id for c in shown if delegation.may_edit_company(p, c.id)}), status


@bp.get("/entreprises")
@login_required
@require_section("companies")
def companies_list():
    return _render_companies(Form(), set())


@bp.post("/entreprises/selection")
@login_required
def companies_selection():
    """The list's form: export the selection, or set its protection date."""
    p = g.principal
    form = Form.from_request("protection_date")
    action = request.form.get("action", "")
    ids = [i for i in (parse_id(v) for v in request.form.getlist("ids")) if i is not None]
    allowed = sections(p).companies
    if not ids:
        form.error("ids", "Sélectionnez au moins une entreprise.")
    if action in ("xlsx", "csv"):
        if not allowed:
            abort(403, description=SECTION_REFUSALS["companies"])
        if not form.ok:
            return _render_companies(form, set(ids), 400)
        chosen = [companies.get_company(db_session(), p, i) for i in ids]  # else 404
        return _export(chosen, action)
    if action not in ("protect", "unprotect"):
        abort(400, description="Action inconnue.")
    protection = parse_day(form, "protection_date", required=True) \
        if action == "protect" else None
    if not form.ok:
        return _render_companies(form, set(ids), 400) if allowed else \
            _refuse_page(next(iter(form.errors.values())), 400)
    try:
        with admin_transaction(services().db, context()) as tx:
            for company_id in ids:
                company = companies.get_company(tx, p, company_id)
                companies.set_protection_date(tx, context(), company, protection)
    except Refused as exc:
        if not allowed:
            return _refuse_page(exc)
        form.error("_", exc.reason)
        return _render_companies(form, set(ids), _status(exc))
    flash(f"Date de protection « {_day(protection) or 'aucune'} » appliquée à {len(ids)} "
          f"entreprise{'s' if len(ids) > 1 else ''}.", "info")
    return redirect(url_for(".companies_list"))


def _export_rows(chosen: list[Company]) -> list[list[object]]:
    counts = companies.user_counts(db_session())
    return [[c.name, c.siren, c.legal_form, c.address, c.vat_regime,
             f"{c.fiscal_year_end[3:]}/{c.fiscal_year_end[:2]}", _paris_day(c.created_at),
             _day(c.protection_date), counts.get(c.id, 0),
             "active" if c.is_active else "déconnectée", c.contact_name, c.contact_email,
             c.contact_phone] for c in chosen]


def _spreadsheet_safe(value: object) -> object:
    """A text a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _export(chosen: list[Company], kind: str):
    rows = _export_rows(chosen)
    stamp = datetime.now(PARIS).strftime("%Y%m%d")
    if kind == "csv":
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        writer.writerows([[_spreadsheet_safe(v) for v in row] for row in rows])
        return send_file(io.BytesIO(out.getvalue().encode("utf-8-sig")),
                         mimetype="text/csv; charset=utf-8", as_attachment=True,
                         download_name=f"entreprises-{stamp}.csv")
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Entreprises"
    sheet.append(EXPORT_COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if cell.data_type == "f":  # a name starting with "=" stays a name
                cell.data_type = "s"
    for i, title in enumerate(EXPORT_COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(1, i).column_letter].width = max(12, len(title) + 2)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return send_file(
        buffer, as_attachment=True, download_name=f"entreprises-{stamp}.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def _company_input(form: Form) -> companies.CompanyInput | None:
    """The form as the service's input; date and e-mail format errors next to their field."""
    protection = parse_day(form, "protection_date")
    if form.get("contact_email"):
        try:
            accounts.check_email(form.get("contact_email"))
        except InvalidInput as exc:
            form.error("contact_email", exc.reason)
    if not form.ok:
        return None
    return companies.CompanyInput(
        name=form.get("name"), siren=form.get("siren"), legal_form=form.get("legal_form"),
        address=form.get("address"),
        vat_regime=form.get("vat_regime") or VatRegime.SIMPLIFIED.value,
        fiscal_year_end=form.get("fiscal_year_end") or "31/12", protection_date=protection,
        contact_name=form.get("contact_name"), contact_email=form.get("contact_email"),
        contact_phone=form.get("contact_phone"))


def _portfolio_options(p: Principal) -> tuple[bool, list[Portfolio]]:
    outside, inside = company_portfolio_choices(p)
    everything = list(db_session().scalars(select(Portfolio).order_by(Portfolio.name)))
    if outside:  # the correspondant: any portfolio, or none
        return True, everything
    return False, [pf for pf in everything if pf.id in inside]


def _render_company_form(form: Form, status: int = 200):
    optional, options = _portfolio_options(g.principal)
    choices = ([("", "Aucun")] if optional else []) + [(str(pf.id), pf.name) for pf in options]
    return render_template("admin_company_new.html", form=form, vat_regimes=VAT_OPTIONS,
                           portfolio_choices=choices), status


@bp.route("/entreprises/nouvelle", methods=["GET", "POST"])
@login_required
def company_new():
    p = g.principal
    allowed = sections(p).create_company
    if request.method == "GET":
        if not allowed:
            abort(403, description=SECTION_REFUSALS["create_company"])
        optional, options = _portfolio_options(p)
        first = "" if optional or not options else str(options[0].id)
        return _render_company_form(Form({"vat_regime": VatRegime.SIMPLIFIED.value,
                                          "fiscal_year_end": "31/12", "portfolio": first}))
    form = Form.from_request(*NEW_COMPANY_FIELDS)
    data = _company_input(form)
    portfolio_id = parse_id(form.get("portfolio"))
    if form.get("portfolio") and portfolio_id is None:
        form.error("portfolio", "Portefeuille introuvable.")
    if not form.ok:
        return _render_company_form(form, 400) if allowed else \
            _refuse_page(next(iter(form.errors.values())), 400)
    svc, ctx = services(), context()
    try:
        with admin_transaction(svc.db, ctx) as tx:
            portfolio = tx.get(Portfolio, portfolio_id) if portfolio_id else None
            if portfolio_id and portfolio is None:
                raise InvalidInput("Portefeuille introuvable.", field="portfolio")
            created = companies.create_company(
                tx, ctx, svc.hasher, svc.settings.folders, data,
                interlocuteur_login=form.get("interlocuteur_login"),
                interlocuteur_name=form.get("interlocuteur_name"),
                interlocuteur_email=form.get("interlocuteur_email") or None,
                portfolio=portfolio)
            interlocuteur = created.interlocuteur.user
            if interlocuteur.email:
                # The new company is now within the actor's reach: rights read afresh.
                actor = Context(load_principal(tx, tx.get(User, p.user_id)), ctx.address)
                invitations.invite(tx, actor, interlocuteur, _base_url())
            outcome = {"company": created.company.name, "company_id": created.company.id,
                       "folder": created.company.folder_name, "login": interlocuteur.login,
                       "name": interlocuteur.display_name, "email": interlocuteur.email,
                       "password": None if interlocuteur.email
                       else created.interlocuteur.initial_password}
    except Refused as exc:
        if not allowed:
            return _refuse_page(exc)
        _show_refusal(exc, form, INTERLOCUTEUR_FIELDS)
        return _render_company_form(form, _status(exc))
    return _private(render_template("admin_created.html", kind="company", outcome=outcome))


def _company_form_values(c: Company) -> dict[str, str]:
    return {"name": c.name, "siren": c.siren, "legal_form": c.legal_form, "address": c.address,
            "vat_regime": c.vat_regime,
            "fiscal_year_end": f"{c.fiscal_year_end[3:]}/{c.fiscal_year_end[:2]}",
            "protection_date": c.protection_date.isoformat() if c.protection_date else "",
            "contact_name": c.contact_name, "contact_email": c.contact_email,
            "contact_phone": c.contact_phone}


def _render_company_edit(company: Company, form: Form, status: int = 200):
    session = db_session()
    return render_template(
        "admin_company_edit.html", company=company, form=form, vat_regimes=VAT_OPTIONS,
        editable=bool(delegation.may_edit_company(g.principal, company.id)),
        users=[u for u in accounts.visible_users(session, g.principal)
               if u.company_id == company.id],
        paris_day=_paris_day, statuses=CompanyStatus), status


@bp.route("/entreprises/<int:company_id>", methods=["GET", "POST"])
@login_required
def company_edit(company_id: int):
    p = g.principal
    allowed = sections(p).companies
    if request.method == "GET":
        if not allowed:
            abort(403, description=SECTION_REFUSALS["companies"])
        company = companies.get_company(db_session(), p, company_id)
        return _render_company_edit(company, Form(_company_form_values(company)))
    company = companies.get_company(db_session(), p, company_id)
    form = Form.from_request(*COMPANY_FIELDS)
    data = _company_input(form)
    if data is None:
        return _render_company_edit(company, form, 400) if allowed else \
            _refuse_page(next(iter(form.errors.values())), 400)
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            target = companies.get_company(tx, p, company_id)
            changes = companies.update_company(tx, ctx, target, data)
            if target.protection_date != data.protection_date:
                companies.set_protection_date(tx, ctx, target, data.protection_date)
                changes["protection_date"] = data.protection_date
    except Refused as exc:
        if not allowed:
            return _refuse_page(exc)
        _show_refusal(exc, form)
        return _render_company_edit(company, form, _status(exc))
    flash("Fiche enregistrée." if changes else "Aucun changement.", "info")
    return redirect(url_for(".company_edit", company_id=company_id))


@bp.post("/entreprises/<int:company_id>/statut")
@login_required
def company_status(company_id: int):
    p = g.principal
    try:
        status = CompanyStatus(request.form.get("status", ""))
    except ValueError:
        abort(400, description="Statut inconnu.")
    company = companies.get_company(db_session(), p, company_id)
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            companies.set_status(tx, ctx, companies.get_company(tx, p, company_id), status)
    except Refused as exc:
        if not sections(p).companies:
            return _refuse_page(exc)
        form = Form(_company_form_values(company))
        form.error("_", exc.reason)
        return _render_company_edit(company, form, _status(exc))
    flash(f"« {company.name} » : compte "
          f"{'déconnecté' if status == CompanyStatus.DISCONNECTED else 'reconnecté'}.", "info")
    return redirect(url_for(".company_edit", company_id=company_id))


# --- import -------------------------------------------------------------------------------

TEMPLATES = {"modele.xlsx": None, "modele-entreprises.csv": bulk_import.COMPANY_SHEET,
             "modele-utilisateurs.csv": bulk_import.USER_SHEET}
IMPORT_SUFFIXES = (".xlsx", ".csv", ".txt")


@bp.get("/import/<name>")
@login_required
@require_section("import_file")
def import_template(name: str):
    if name not in TEMPLATES:
        abort(404)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        bulk_import.write_template(path, TEMPLATES[name])
        body = path.read_bytes()
    mimetype = "text/csv; charset=utf-8" if name.endswith(".csv") else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=name)


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_file():
    p = g.principal
    allowed = sections(p).import_file
    if request.method == "GET":
        if not allowed:
            abort(403, description=SECTION_REFUSALS["import_file"])
        return render_template("admin_import.html", form=Form(), errors=[])
    form = Form()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.error("file", "Choisissez un fichier .xlsx ou .csv.")
        return render_template("admin_import.html", form=form, errors=[]), 400
    check_only = request.form.get("action") == "check"
    source = Path(upload.filename).name[:200]
    suffix = Path(source).suffix.lower()
    ctx = context()
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"import{suffix if suffix in IMPORT_SUFFIXES else '.bin'}"
            # One byte over the limit is enough for `read_file` to refuse the size.
            path.write_bytes(upload.stream.read(bulk_import.MAX_FILE_BYTES + 1))
            rows = bulk_import.read_file(path)
        with admin_transaction(services().db, ctx) as tx:
            result = bulk_import.import_rows(tx, ctx, services().hasher,
                                             services().settings.folders, rows, source=source)
            if check_only:
                tx.rollback()
    except bulk_import.ImportRefused as exc:
        with services().db.transaction() as tx:
            record(tx, ctx, "import", source, outcome="refused",
                   detail={"erreurs": len(exc.errors)})
        form.error("_", exc.reason)
        if not allowed:
            return _refuse_page(exc.reason + " " + " ".join(exc.errors))
        return render_template("admin_import.html", form=form, errors=exc.errors,
                               source=source), 400
    if check_only:
        return render_template("admin_import.html", form=form, errors=[], source=source,
                               checked=result)
    return _private(render_template("admin_import_done.html", result=result, source=source))


# --- users --------------------------------------------------------------------------------

USER_FIELDS = ("login", "display_name", "role", "email", "company")


def _as_target(user: User) -> Principal:
    """Who the account is, for `may_manage_user` (which reads the role and the company,
    not the account's rights): buttons are shown from it, the service decides."""
    return Principal(user_id=user.id, login=user.login, role=Role(user.role),
                     active=user.active, company_id=user.company_id)


def _render_users(error: str = "", status: int = 200):
    session, p = db_session(), g.principal
    people = accounts.visible_users(session, p)
    reachable = companies.visible_companies(session, p)
    company_id = request.args.get("entreprise", type=parse_id)
    if company_id is not None:
        people = [u for u in people if u.company_id == company_id]
    pending = set(session.scalars(select(Invitation.user_id).where(
        Invitation.used_at.is_(None), Invitation.expires_at > utcnow())))
    return render_template(
        "admin_users.html", users=people, companies=reachable, company_id=company_id,
        manageable={u.id for u in people if delegation.may_manage_user(p, _as_target(u))},
        pending=pending, error=error, may_create=bool(creatable_roles(p))), status


@bp.get("/utilisateurs")
@login_required
@require_section("users")
def users_list():
    return _render_users()


def _user_company_choices(p: Principal, roles: list[Role]) -> list[Company]:
    """Companies a company account may be created for, when the actor is on the firm's side
    (a company's interlocuteur creates in his own company)."""
    if p.side == Side.COMPANY or not any(r.side == Side.COMPANY for r in roles):
        return []
    return companies.visible_companies(db_session(), p)


def _render_user_form(form: Form, roles: list[Role], status: int = 200):
    p = g.principal
    own = db_session().get(Company, p.company_id) if p.company_id else None
    choices = _user_company_choices(p, roles)
    return render_template(
        "admin_user_new.html", form=form, own_company=own,
        role_options=[(role.value, role_label(role.value)) for role in roles],
        company_options=[("", "—")] + [(str(c.id), c.name) for c in choices] if choices
        else []), status


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
@login_required
def user_new():
    p = g.principal
    roles = creatable_roles(p)
    if request.method == "GET":
        if not roles:
            abort(403, description="Votre compte ne permet de créer aucun compte.")
        return _render_user_form(Form({"role": roles[0].value}), roles)
    form = Form.from_request(*USER_FIELDS)
    try:
        role = Role(form.get("role"))
    except ValueError:
        form.error("role", "Choisissez un rôle.")
        return _render_user_form(form, roles, 400) if roles else \
            _refuse_page(form.errors["role"], 400)
    shown_roles = roles if role in roles else [*roles, role]  # keep what was chosen
    svc, ctx = services(), context()
    try:
        with admin_transaction(svc.db, ctx) as tx:
            company = None
            if role.side == Side.COMPANY:
                company_id = p.company_id if p.side == Side.COMPANY \
                    else parse_id(form.get("company"))
                company = companies.get_company(tx, p, company_id) if company_id else None
            created = accounts.create_user(tx, ctx, svc.hasher, login=form.get("login"),
                                           display_name=form.get("display_name"), role=role,
                                           email=form.get("email") or None, company=company)
            user = created.user
            if user.email:
                invitations.invite(tx, ctx, user, _base_url())
            outcome = {"login": user.login, "name": user.display_name, "email": user.email,
                       "role": user.role, "company": company.name if company else "",
                       "password": None if user.email else created.initial_password}
    except Refused as exc:
        if not roles:
            return _refuse_page(exc)
        _show_refusal(exc, form)
        return _render_user_form(form, shown_roles, _status(exc))
    return _private(render_template("admin_created.html", kind="user", outcome=outcome))


def _user_act(login: str, act: Callable[..., object], done: Callable[[User, object], object]):
    """One act on one visible account, then `done(user, answer)`: a message to flash on the
    way back to the list, or a response."""
    p = g.principal
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            user = accounts.find_visible_user(tx, p, login)
            answer = act(tx, ctx, user)
    except NotFound:
        abort(404)
    except Refused as exc:
        if not sections(p).users:
            return _refuse_page(exc)
        return _render_users(exc.reason, _status(exc))
    outcome = done(user, answer)
    if not isinstance(outcome, str):
        return outcome
    flash(outcome, "info")
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/") and not back.startswith("//")
                    else url_for(".users_list"))


@bp.post("/utilisateurs/<login>/etat")
@login_required
def user_state(login: str):
    active = request.form.get("active") == "1"
    return _user_act(
        login, lambda tx, ctx, user: accounts.set_active(tx, ctx, user, active),
        lambda user, _: f"Compte « {user.login} » {'réactivé' if active else 'désactivé'}.")


@bp.post("/utilisateurs/<login>/mot-de-passe")
@login_required
def user_reset(login: str):
    return _user_act(
        login, lambda tx, ctx, user: accounts.reset_password(tx, ctx, services().hasher, user),
        lambda user, password: _private(render_template(
            "admin_created.html", kind="reset",
            outcome={"login": user.login, "name": user.display_name, "password": password})))


@bp.post("/utilisateurs/<login>/invitation")
@login_required
def user_invite(login: str):
    return _user_act(
        login, lambda tx, ctx, user: invitations.invite(tx, ctx, user, _base_url()),
        lambda user, _: f"Invitation envoyée à {user.email} : le lien est valable deux heures.")


# --- habilitations: the matrix ------------------------------------------------------------

SERVICE_VALUES = {"oui": True, "non": False}


@dataclass
class Cell:
    dom_id: str
    name: str  # form field
    label: str  # accessible name of the select
    value: str  # current (or typed) option
    options: list[tuple[str, bool]]  # (option, may be given)
    reasons: list[str] = field(default_factory=list)  # why some options are refused
    error: str = ""

    @property
    def editable(self) -> bool:
        return any(allowed for _, allowed in self.options)


@dataclass
class MatrixRow:
    user: User
    folders: list[Cell]
    services: list[Cell]  # utilisateurs only
    reason: str = ""  # one refusal covering every cell of the row


def _cell(dom_id: str, name: str, label: str, value: str,
          decisions: list[tuple[str, object]]) -> Cell:
    reasons: list[str] = []
    for _, decision in decisions:
        if not decision and decision.reason not in reasons:
            reasons.append(decision.reason)
    return Cell(dom_id, name, label, value, [(option, bool(d)) for option, d in decisions],
                reasons)


def grantable_rows(session, p: Principal, company: Company,
                   folders: list[str]) -> list[MatrixRow]:
    """The accounts of the company's matrix: assistants reaching it and its utilisateurs."""
    rows = []
    for user in accounts.visible_users(session, p):
        if Role(user.role) not in delegation.GRANTABLE_ROLES \
                or user.company_id not in (None, company.id):
            continue
        target = load_principal(session, user)
        if not reaches(target, company.id):
            continue
        shown = replace(target, active=True)  # a disabled account keeps its rights set
        cells = [_cell(f"c{user.id}-{i}", f"folder|{user.id}|{folder}", f"{user.login} — {folder}",
                       folder_level(shown, company.id, folder).label,
                       [(level.label, delegation.may_grant(p, target, company.id, folder,
                                                           level)) for level in Level])
                 for i, folder in enumerate(folders)]
        service_cells = []
        if user.role == Role.UTILISATEUR:
            service_cells = [
                _cell(f"s{user.id}-{i}", f"service|{user.id}|{service.value}",
                      f"{user.login} — {service.value}",
                      "oui" if has_service(shown, company.id, service) else "non",
                      [(answer, delegation.may_grant_service(p, target, company.id, service,
                                                             granted))
                       for answer, granted in SERVICE_VALUES.items()])
                for i, service in enumerate(Service)]
        every = cells + service_cells
        reason = ""
        if not any(c.editable for c in every):
            common = {r for c in every for r in c.reasons}
            if len(common) == 1:
                reason = common.pop()
        rows.append(MatrixRow(user, cells, service_cells, reason))
    return rows


def _render_matrix(session, company: Company, typed: dict[str, str] | None = None,
                   errors: dict[str, str] | None = None, message: str = "", status: int = 200):
    folders = standard_folders(session, company.id)
    rows = grantable_rows(session, g.principal, company, folders)
    placed = set()
    for row in rows:
        for cell in row.folders + row.services:
            placed.add(cell.name)
            if typed and cell.name in typed:
                cell.value = typed[cell.name]
            if errors and cell.name in errors:
                cell.error = errors[cell.name]
    # Refusals of cells the matrix does not show (a forged or outdated form): at the top.
    unplaced = [reason for name, reason in (errors or {}).items() if name not in placed]
    return render_template("admin_rights.html", company=company, folders=folders, rows=rows,
                           services=list(Service), message=message, unplaced=unplaced,
                           editable=any(c.editable for r in rows for c in r.folders + r.services)
                           ), status


@bp.get("/habilitations")
@login_required
@require_section("rights")
def rights_pick():
    reachable = companies.visible_companies(db_session(), g.principal)
    if len(reachable) == 1:
        return redirect(url_for(".rights", company_id=reachable[0].id))
    query = request.args.get("q", "").strip()
    shown = [c for c in reachable if not query or query.casefold() in c.name.casefold()
             or query.replace(" ", "") in c.siren]
    return render_template("admin_rights_pick.html", companies=shown, query=query)


@dataclass(frozen=True)
class Change:
    name: str
    user_id: int
    key: str  # folder name, or service value
    kind: str  # "folder" or "service"
    value: str


def _submitted_changes(session, company: Company, errors: dict[str, str]) -> list[Change]:
    """The cells whose submitted value differs from the right held now."""
    changes = []
    principals: dict[int, Principal | None] = {}
    for name, value in request.form.items():
        kind, _, rest = name.partition("|")
        user_text, _, key = rest.partition("|")
        if kind not in ("folder", "service") or not key:
            continue
        user_id = parse_id(user_text)
        if user_id not in principals:
            user = session.get(User, user_id) if user_id is not None else None
            principals[user_id] = replace(load_principal(session, user), active=True) \
                if user is not None else None
        target = principals[user_id]
        if target is None:
            errors[name] = "Compte introuvable."
            continue
        if kind == "folder":
            try:
                level = Level.parse(value)
            except ValueError as exc:
                errors[name] = f"Niveau refusé : {exc}."
                continue
            if level == folder_level(target, company.id, key):
                continue
            value = level.label
        else:
            try:
                service = Service(key)
            except ValueError:
                errors[name] = "Service inconnu."
                continue
            if value not in SERVICE_VALUES:
                errors[name] = "Réponse attendue : oui ou non."
                continue
            if SERVICE_VALUES[value] == has_service(target, company.id, service):
                continue
        changes.append(Change(name, user_id, key, kind, value))
    return changes


@bp.route("/habilitations/<int:company_id>", methods=["GET", "POST"])
@login_required
def rights(company_id: int):
    p = g.principal
    allowed = sections(p).rights
    session = db_session()
    company = companies.get_company(session, p, company_id)  # else 404
    if request.method == "GET":
        if not allowed:
            abort(403, description=SECTION_REFUSALS["rights"])
        return _render_matrix(session, company)
    errors: dict[str, str] = {}
    changes = _submitted_changes(session, company, errors)
    ctx = context()
    applied, refused_any = 0, False
    for change in changes:
        try:
            with admin_transaction(services().db, ctx) as tx:
                user = tx.get(User, change.user_id)
                target_company = companies.get_company(tx, p, company_id)
                if change.kind == "folder":
                    accounts.grant(tx, ctx, user, target_company, change.key,
                                   Level.parse(change.value))
                else:
                    accounts.grant_service(tx, ctx, user, target_company,
                                           Service(change.key), SERVICE_VALUES[change.value])
            applied += 1
        except Refused as exc:
            errors[change.name] = exc.reason
            refused_any = refused_any or isinstance(exc, PermissionDenied)
    if not errors:
        flash(f"{_count(applied, 'droit modifié')}." if applied else "Aucun changement.",
              "info")
        return redirect(url_for(".rights", company_id=company_id))
    if not allowed:
        return _refuse_page(next(iter(errors.values())), 403 if refused_any else 400)
    message = (f"{_count(applied, 'modification enregistrée')} ; "
               f"{_count(len(errors), 'refusée')} : voyez les cases signalées "
               "(rien n'y a été changé).")
    typed = {name: value for name, value in request.form.items() if name in errors}
    session = _fresh_read_session()  # shows what was just saved
    return _render_matrix(session, companies.get_company(session, p, company_id), typed,
                          errors, message, 403 if refused_any else 400)


# --- portfolios ---------------------------------------------------------------------------

def _visible_portfolios() -> list[Portfolio]:
    return portfolios.visible_portfolios(db_session(), context())


def _render_portfolios(form: Form, status: int = 200):
    return render_template(
        "admin_portfolios.html", portfolios=_visible_portfolios(), form=form,
        may_create=bool(delegation.may_manage_portfolios(g.principal))), status


@bp.route("/portefeuilles", methods=["GET", "POST"])
@login_required
def portfolios_list():
    p = g.principal
    allowed = sections(p).portfolios
    if request.method == "GET":
        if not allowed:
            abort(403, description=SECTION_REFUSALS["portfolios"])
        return _render_portfolios(Form())
    form = Form.from_request("name")
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            created = portfolios.create_portfolio(tx, ctx, form.get("name"))
            portfolio_id, name = created.id, created.name
    except Refused as exc:
        if not allowed:
            return _refuse_page(exc)
        _show_refusal(exc, form)
        return _render_portfolios(form, _status(exc))
    flash(f"Portefeuille « {name} » créé.", "info")
    return redirect(url_for(".portfolio", portfolio_id=portfolio_id))


def _portfolio_or_404(portfolio_id: int) -> Portfolio:
    for candidate in _visible_portfolios():
        if candidate.id == portfolio_id:
            return candidate
    abort(404)


def _render_portfolio(portfolio: Portfolio, error: str = "", status: int = 200):
    session, p = db_session(), g.principal
    addable_companies = [
        c for c in companies.visible_companies(session, p) if c not in portfolio.companies
        and delegation.may_change_portfolio_company(p, portfolio.id, c.id)]
    removable_companies = {c.id for c in portfolio.companies
                           if delegation.may_change_portfolio_company(p, portfolio.id, c.id)}
    people = [u for u in accounts.visible_users(session, p) if u.side == Side.CABINET.value]
    addable_members = [u for u in people if u not in portfolio.members and u.active
                       and delegation.may_change_portfolio_member(p, portfolio.id,
                                                                  _as_target(u))]
    removable_members = {u.id for u in portfolio.members if delegation.may_change_portfolio_member(
        p, portfolio.id, _as_target(u))}
    return render_template(
        "admin_portfolio.html", portfolio=portfolio, error=error,
        addable_companies=addable_companies, removable_companies=removable_companies,
        addable_members=addable_members, removable_members=removable_members,
        may_delete=bool(delegation.may_manage_portfolios(p))), status


@bp.get("/portefeuilles/<int:portfolio_id>")
@login_required
@require_section("portfolios")
def portfolio(portfolio_id: int):
    return _render_portfolio(_portfolio_or_404(portfolio_id))


def _portfolio_act(portfolio_id: int, act: Callable[..., str], back: str | None = None):
    """One act on one visible portfolio; `act` returns the message to flash."""
    p = g.principal
    portfolio_row = _portfolio_or_404(portfolio_id)
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            target = tx.get(Portfolio, portfolio_id)
            if target is None:
                raise NotFound("Portefeuille introuvable.")
            message = act(tx, ctx, target)
    except Refused as exc:
        if not sections(p).portfolios:
            return _refuse_page(exc)
        return _render_portfolio(portfolio_row, exc.reason,
                                 404 if isinstance(exc, NotFound) else _status(exc))
    flash(message, "info")
    return redirect(back or url_for(".portfolio", portfolio_id=portfolio_id))


@bp.post("/portefeuilles/<int:portfolio_id>/entreprises")
@login_required
def portfolio_company(portfolio_id: int):
    present = request.form.get("present") == "1"
    company_id = parse_id(request.form.get("company"))

    def act(tx, ctx, target):
        if company_id is None:
            raise InvalidInput("Choisissez une entreprise.")
        company = companies.get_company(tx, g.principal, company_id)
        portfolios.set_company(tx, ctx, target, company, present)
        return f"« {company.name} » {'ajoutée à' if present else 'retirée de'} « {target.name} »."

    return _portfolio_act(portfolio_id, act)


@bp.post("/portefeuilles/<int:portfolio_id>/membres")
@login_required
def portfolio_member(portfolio_id: int):
    present = request.form.get("present") == "1"
    login = request.form.get("login", "")

    def act(tx, ctx, target):
        if not login:
            raise InvalidInput("Choisissez un membre du cabinet.")
        user = accounts.find_visible_user(tx, g.principal, login)
        portfolios.set_member(tx, ctx, target, user, present)
        return f"« {user.login} » {'ajouté à' if present else 'retiré de'} « {target.name} »."

    return _portfolio_act(portfolio_id, act)


@bp.post("/portefeuilles/<int:portfolio_id>/supprimer")
@login_required
def portfolio_delete(portfolio_id: int):
    def act(tx, ctx, target):
        name = target.name
        portfolios.delete_portfolio(tx, ctx, target)
        return f"Portefeuille « {name} » supprimé (ses entreprises restent)."

    return _portfolio_act(portfolio_id, act, back=url_for(".portfolios_list"))


# --- audit log ----------------------------------------------------------------------------

ACTION_GROUPS = {"company": "Entreprises", "user": "Comptes", "habilitation": "Droits sur dossiers",
                 "service": "Messagerie et facturation", "portfolio": "Portefeuilles",
                 "import": "Imports", "cabinet": "Fiche du cabinet"}


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), PARIS).astimezone(UTC)


@bp.get("/journal")
@login_required
def audit():
    p = g.principal
    decision = delegation.may_read_audit(p)
    if not decision:
        abort(403, description=decision.reason)
    session = db_session()
    form = Form({name: request.args.get(name, "").strip()
                 for name in ("actor", "action", "company", "since", "until", "refused")})
    since = parse_day(form, "since")
    until = parse_day(form, "until")
    reachable = companies.visible_companies(session, p)
    company_id = parse_id(form.get("company"))
    if form.get("company") and company_id not in {c.id for c in reachable}:
        form.error("company", "Entreprise introuvable.")
    if since and until and until < since:
        form.error("until", "La date de fin précède la date de début.")
    entries: list[AuditEntry] = []
    if form.ok:
        entries = query_entries(
            session, p, actor=form.get("actor") or None, action=form.get("action") or None,
            company_id=company_id, since=_start_of(since) if since else None,
            until=_start_of(until + timedelta(days=1)) if until else None,
            outcome="refused" if form.get("refused") else None, limit=AUDIT_LIMIT)
    actions = sorted(set(session.scalars(select(AuditEntry.action).distinct())))
    return render_template(
        "admin_audit.html", form=form, entries=entries, companies=reachable,
        names={c.id: c.name for c in reachable}, actions=actions, groups=ACTION_GROUPS,
        limit=AUDIT_LIMIT, paris=PARIS), 200 if form.ok else 400
