"""Administration of companies: the list, its export and protection dates, creation (with
the interlocuteur), the company's card, disconnection."""

from __future__ import annotations

import io
from datetime import datetime

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select

from acl import tables
from acl.documents import locks, store
from acl.errors import InvalidInput, Refused
from acl.people import accounts, administration, companies, invitations
from acl.people.models import Company, CompanyStatus, Portfolio, User, VatRegime
from acl.rights import delegation
from acl.rights.audit import Context, admin_transaction
from acl.rights.policy import Principal
from acl.rights.principals import load_principal
from invoicing_web.admin.base import (
    PARIS,
    SECTION_REFUSALS,
    _base_url,
    _day,
    _paris_day,
    _private,
    _refuse_page,
    _show_refusal,
    bp,
    company_portfolio_choices,
    parse_day,
    require_section,
    sections,
)
from invoicing_web.forms import Form, parse_id
from invoicing_web.security import context, db_session, login_required, services

# --- companies ----------------------------------------------------------------------------

VAT_OPTIONS = [(regime.value, regime.value.capitalize()) for regime in VatRegime]
COMPANY_FIELDS = ("name", "siren", "legal_form", "address", "vat_regime", "fiscal_year_end",
                  "protection_date", "contact_name", "contact_email", "contact_phone")
NEW_COMPANY_FIELDS = (*COMPANY_FIELDS, "portfolio", "interlocuteur_login",
                      "interlocuteur_name", "interlocuteur_email")
INTERLOCUTEUR_FIELDS = {"login": "interlocuteur_login", "display_name": "interlocuteur_name",
                        "email": "interlocuteur_email"}


def _render_companies(form: Form, selected: set[int], status: int = 200):
    session, p = db_session(), g.principal
    shown = companies.visible_companies(session, p)
    return render_template(
        "admin/companies.html", companies=shown, counts=companies.user_counts(session),
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
        return _render_companies(form, set(ids), exc.status)
    flash(f"Date de protection « {_day(protection) or 'aucune'} » appliquée à {len(ids)} "
          f"entreprise{'s' if len(ids) > 1 else ''}.", "info")
    return redirect(url_for(".companies_list"))


def _export(chosen: list[Company], kind: str):
    rows = companies.export_rows(db_session(), chosen)
    name = f"entreprises-{datetime.now(PARIS):%Y%m%d}.{kind}"
    body = tables.to_csv(companies.EXPORT_COLUMNS, rows) if kind == "csv" else \
        tables.to_xlsx("Entreprises", companies.EXPORT_COLUMNS, rows)
    return send_file(io.BytesIO(body), as_attachment=True, download_name=name,
                     mimetype=tables.CSV_TYPE if kind == "csv" else tables.XLSX_TYPE)


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
    return render_template("admin/company_new.html", form=form, vat_regimes=VAT_OPTIONS,
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
        return _render_company_form(form, exc.status)
    return _private(render_template("admin/created.html", kind="company", outcome=outcome))


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
        "admin/company_edit.html", company=company, form=form, vat_regimes=VAT_OPTIONS,
        editable=bool(delegation.may_edit_company(g.principal, company.id)),
        closable=bool(delegation.may_close_company(g.principal, company.id)),
        root_id=store.resolve(session, company, []).node.id,
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
        return _render_company_edit(company, form, exc.status)
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
        return _render_company_edit(company, form, exc.status)
    flash(f"« {company.name} » : compte "
          f"{'déconnecté' if status == CompanyStatus.DISCONNECTED else 'reconnecté'}.", "info")
    return redirect(url_for(".company_edit", company_id=company_id))


@bp.route("/entreprises/<int:company_id>/resilier", methods=["GET", "POST"])
@login_required
def company_close(company_id: int):
    """"Résilier" (seed 003): GET says what it means and asks to confirm; POST does it."""
    p = g.principal
    session = db_session()
    company = companies.get_company(session, p, company_id)  # else 404
    held = locks.listed(session, [locks.root_of(company.folder_name)])
    if request.method == "GET":
        decision = delegation.may_close_company(p, company.id)
        if not decision:
            abort(403, description=decision.reason)
        return render_template("admin/company_close.html", company=company, held=held,
                               users=companies.user_counts(session).get(company.id, 0))
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            closed = administration.close_company(tx, ctx,
                                                  companies.get_company(tx, p, company_id))
    except Refused as exc:
        if not delegation.may_close_company(p, company.id):
            return _refuse_page(exc)
        return render_template("admin/company_close.html", company=company, held=held,
                               error=exc.reason,
                               users=companies.user_counts(session).get(company.id, 0)
                               ), exc.status
    flash(f"« {company.name} » résiliée : {len(closed)} compte(s) fermé(s) ; ses documents "
          "restent consultables et téléchargeables par le cabinet.", "info")
    return redirect(url_for(".company_edit", company_id=company_id))
