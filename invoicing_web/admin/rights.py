"""Habilitations: the matrix of folder and service rights of a company's accounts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from acl.documents.tree import standard_folders
from acl.errors import NotFound, PermissionDenied, Refused
from acl.people import accounts, administration, companies
from acl.people.models import Company, User
from acl.rights import delegation
from acl.rights.audit import admin_transaction
from acl.rights.models import Level, Role, Service
from acl.rights.policy import Principal, folder_level, has_service, reaches
from acl.rights.principals import load_principal
from invoicing_web.admin.base import (
    SECTION_REFUSALS,
    _count,
    _fresh_read_session,
    _refuse_page,
    bp,
    require_section,
    sections,
)
from invoicing_web.forms import parse_id
from invoicing_web.security import context, db_session, login_required, services

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
                   errors: dict[str, str] | None = None, message: str = "", status: int = 200,
                   picked: set[str] | None = None):
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
    return render_template("admin/rights.html", company=company, folders=folders, rows=rows,
                           services=list(Service), message=message, unplaced=unplaced,
                           picked=picked or set(), levels=[level.label for level in Level],
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
    shown = companies.matching(reachable, query)
    return render_template("admin/rights_pick.html", companies=shown, query=query)


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
    if request.form.get("bulk"):
        return _bulk(session, company)
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


def _picked_cells(session, company: Company) -> list[tuple[int, str, str]]:
    """The folder cells a bulk change covers, as (user id, folder, field name): the cells
    ticked, and the cells one may change of the rows and columns ticked (seed 004: a row, a
    column, several cells). Without JavaScript, rows and columns come as they are; with it,
    their boxes only tick the cells, which come alone."""
    folders = standard_folders(session, company.id)
    rows = grantable_rows(session, g.principal, company, folders)
    picked = set(request.form.getlist("pick"))
    row_ids = set(request.form.getlist("pick_row"))
    columns = set(request.form.getlist("pick_column"))
    cells = []
    for row in rows:
        for folder, cell in zip(folders, row.folders, strict=True):
            if cell.name in picked or (cell.editable and (str(row.user.id) in row_ids
                                                         or folder in columns)):
                cells.append((row.user.id, folder, cell.name))
    shown = {name for _, _, name in cells}
    for name in sorted(picked - shown):  # not in the matrix: an outdated or forged form
        kind, _, rest = name.partition("|")
        user_text, _, folder = rest.partition("|")
        user_id = parse_id(user_text)
        if kind == "folder" and user_id is not None and folder:
            cells.append((user_id, folder, name))
    return cells


def _bulk(session, company: Company):
    """One right given to several cells at once, all or nothing (acl.people.administration
    .grant_many): a refusal names every cell refused, and nothing changes."""
    p = g.principal
    picked = set(request.form.getlist("pick"))
    try:
        level = Level.parse(request.form.get("bulk_level", ""))
    except ValueError:
        return _render_matrix(session, company, message="Choisissez le droit à donner : "
                              "aucun, lecture ou écriture.", status=400, picked=picked)
    cells = _picked_cells(session, company)
    if not cells:
        return _render_matrix(session, company, message="Cochez au moins une case, une ligne "
                              "ou une colonne.", status=400)
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            people = {}
            for user_id, _, _ in cells:
                people[user_id] = people.get(user_id) or tx.get(User, user_id)
                if people[user_id] is None:
                    raise NotFound("Compte introuvable.")
            done = administration.grant_many(
                tx, ctx, companies.get_company(tx, p, company.id),
                [(people[user_id], folder) for user_id, folder, _ in cells], level)
    except administration.BulkRefused as exc:
        if not sections(p).rights:
            return _refuse_page(exc)
        errors = {f"folder|{r.user_id}|{r.folder}": r.reason for r in exc.refusals}
        return _render_matrix(session, company, errors=errors, message=exc.reason,
                              status=exc.status, picked=picked)
    except Refused as exc:
        if not sections(p).rights:
            return _refuse_page(exc)
        return _render_matrix(session, company, message=exc.reason, status=exc.status,
                              picked=picked)
    flash(f"{_count(done, 'case')} en « {level.label} ».", "info")
    return redirect(url_for(".rights", company_id=company.id))
