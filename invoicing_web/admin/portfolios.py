"""Portfolios: the companies and the cabinet staff of each."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from acl.errors import InvalidInput, NotFound, Refused
from acl.people import accounts, companies, portfolios
from acl.people.models import Portfolio
from acl.rights import delegation
from acl.rights.audit import admin_transaction
from acl.rights.models import Side
from acl.rights.principals import load_principals
from invoicing_web.admin.base import (
    SECTION_REFUSALS,
    _refuse_page,
    _show_refusal,
    bp,
    require_section,
    sections,
)
from invoicing_web.forms import Form, parse_id
from invoicing_web.security import context, db_session, login_required, services

# --- portfolios ---------------------------------------------------------------------------

def _visible_portfolios() -> list[Portfolio]:
    return portfolios.visible_portfolios(db_session(), context())


def _render_portfolios(form: Form, status: int = 200):
    return render_template(
        "admin/portfolios.html", portfolios=_visible_portfolios(), form=form,
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
        return _render_portfolios(form, exc.status)
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
    targets = load_principals(session, [*people, *portfolio.members])
    addable_members = [u for u in people if u not in portfolio.members and u.active
                       and delegation.may_change_portfolio_member(p, portfolio.id,
                                                                  targets[u.id])]
    removable_members = {u.id for u in portfolio.members if delegation.may_change_portfolio_member(
        p, portfolio.id, targets[u.id])}
    return render_template(
        "admin/portfolio.html", portfolio=portfolio, error=error,
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
                                 exc.status)
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


@bp.post("/portefeuilles/<int:portfolio_id>/renommer")
@login_required
def portfolio_rename(portfolio_id: int):
    def act(tx, ctx, target):
        before = target.name
        portfolios.rename_portfolio(tx, ctx, target, request.form.get("name", ""))
        return f"Portefeuille « {before} » renommé « {target.name} »."

    return _portfolio_act(portfolio_id, act)


@bp.post("/portefeuilles/<int:portfolio_id>/supprimer")
@login_required
def portfolio_delete(portfolio_id: int):
    def act(tx, ctx, target):
        name = target.name
        portfolios.delete_portfolio(tx, ctx, target)
        return f"Portefeuille « {name} » supprimé (ses entreprises restent)."

    return _portfolio_act(portfolio_id, act, back=url_for(".portfolios_list"))
