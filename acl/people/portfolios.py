"""Portfolios: named sets of companies that cabinet staff work on."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.db import folded
from acl.errors import InvalidInput, NotFound
from acl.people.models import Company, Portfolio, User
from acl.rights import delegation
from acl.rights.audit import Context, record, require
from acl.rights.models import Role
from acl.rights.principals import load_principal
from config.names import fold


def find_portfolio(session: Session, name: str) -> Portfolio:
    portfolio = session.scalars(select(Portfolio).where(
        folded(Portfolio.name) == fold(name.strip()))).one_or_none()
    if portfolio is None:
        raise NotFound(f"Portefeuille introuvable : « {name} ».")
    return portfolio


def _check_name(session: Session, name: str, renamed_id: int | None = None) -> None:
    """A name is given, and no other portfolio has it (case and accents aside)."""
    if not name or len(name) > 200:
        raise InvalidInput("Le nom du portefeuille est obligatoire (200 caractères au plus).",
                           field="name")
    if session.scalars(select(Portfolio.id).where(
            folded(Portfolio.name) == fold(name), Portfolio.id != (renamed_id or 0))).first():
        raise InvalidInput(f"Le portefeuille « {name} » existe déjà.", field="name")


def create_portfolio(session: Session, ctx: Context, name: str) -> Portfolio:
    name = " ".join(name.split())
    require(delegation.may_manage_portfolios(ctx.principal), action="portfolio.create",
            target=name)
    _check_name(session, name)
    portfolio = Portfolio(name=name)
    session.add(portfolio)
    session.flush()
    record(session, ctx, "portfolio.create", name)
    return portfolio


def rename_portfolio(session: Session, ctx: Context, portfolio: Portfolio, name: str) -> None:
    name = " ".join(name.split())
    require(delegation.may_manage_portfolios(ctx.principal), action="portfolio.rename",
            target=portfolio.name)
    _check_name(session, name, portfolio.id)
    before, portfolio.name = portfolio.name, name
    record(session, ctx, "portfolio.rename", name, detail={"before": before, "after": name})


def delete_portfolio(session: Session, ctx: Context, portfolio: Portfolio) -> None:
    require(delegation.may_manage_portfolios(ctx.principal), action="portfolio.delete",
            target=portfolio.name)
    record(session, ctx, "portfolio.delete", portfolio.name)
    session.delete(portfolio)


def set_company(session: Session, ctx: Context, portfolio: Portfolio, company: Company,
                present: bool) -> None:
    action = "portfolio.add_company" if present else "portfolio.remove_company"
    require(delegation.may_change_portfolio_company(ctx.principal, portfolio.id, company.id),
            action=action, target=f"{portfolio.name} / {company.name}", company_id=company.id)
    if present and company not in portfolio.companies:
        portfolio.companies.append(company)
    elif not present and company in portfolio.companies:
        portfolio.companies.remove(company)
    record(session, ctx, action, f"{portfolio.name} / {company.name}", company_id=company.id)


def set_member(session: Session, ctx: Context, portfolio: Portfolio, user: User,
               present: bool) -> None:
    action = "portfolio.add_member" if present else "portfolio.remove_member"
    member = load_principal(session, user)
    require(delegation.may_change_portfolio_member(ctx.principal, portfolio.id, member),
            action=action, target=f"{portfolio.name} / {user.login}")
    if present and user not in portfolio.members:
        portfolio.members.append(user)
    elif not present and user in portfolio.members:
        portfolio.members.remove(user)
    record(session, ctx, action, f"{portfolio.name} / {user.login}")


def visible_portfolios(session: Session, ctx: Context) -> list[Portfolio]:
    portfolios = list(session.scalars(select(Portfolio).order_by(Portfolio.name)))
    if ctx.principal.role == Role.CORRESPONDANT:
        return portfolios
    return [p for p in portfolios if p.id in ctx.principal.portfolio_ids]
