"""Load `Principal`s (users with all their rights): three indexed queries for one user or for
a whole list of them (an administration page shows what may be done to each account)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.people.models import Company, CompanyStatus, User, portfolio_company, portfolio_member
from acl.rights.models import (
    Habilitation,
    InvoicingConsent,
    Level,
    Role,
    Service,
    ServiceGrant,
    Side,
)
from acl.rights.policy import Principal


def load_principal(session: Session, user: User) -> Principal:
    return load_principals(session, [user])[user.id]


def load_principals(session: Session, users: Sequence[User]) -> dict[int, Principal]:
    """The principal of each user, by user id."""
    ids = [user.id for user in users]
    memberships: defaultdict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for user_id, portfolio_id, company_id in session.execute(
            select(portfolio_member.c.user_id, portfolio_member.c.portfolio_id,
                   portfolio_company.c.company_id)
            .select_from(portfolio_member)
            .outerjoin(portfolio_company,
                       portfolio_company.c.portfolio_id == portfolio_member.c.portfolio_id)
            .where(portfolio_member.c.user_id.in_(ids))):
        memberships[user_id].append((portfolio_id, company_id))
    levels: defaultdict[int, dict] = defaultdict(dict)
    for user_id, company_id, folder, level in session.execute(
            select(Habilitation.user_id, Habilitation.company_id, Habilitation.folder,
                   Habilitation.level).where(Habilitation.user_id.in_(ids))):
        levels[user_id][(company_id, folder)] = Level(level)
    services: defaultdict[int, dict] = defaultdict(dict)
    for user_id, company_id, service, granted in session.execute(
            select(ServiceGrant.user_id, ServiceGrant.company_id, ServiceGrant.service,
                   ServiceGrant.granted).where(ServiceGrant.user_id.in_(ids))):
        services[user_id][(company_id, Service(service))] = granted
    companies = {user.company_id for user in users if user.company_id is not None}
    connected = set(session.scalars(select(Company.id).where(
        Company.id.in_(companies), Company.status == CompanyStatus.ACTIVE.value))) \
        if companies else set()
    consented = frozenset(session.scalars(select(InvoicingConsent.company_id).where(
        InvoicingConsent.granted.is_(True)))) \
        if any(Role(user.role).side == Side.CABINET for user in users) else frozenset()
    return {user.id: Principal(
        user_id=user.id,
        login=user.login,
        role=Role(user.role),
        active=user.active,
        company_id=user.company_id,
        company_active=user.company_id is None or user.company_id in connected,
        portfolio_ids=frozenset(p for p, _ in memberships[user.id]),
        portfolio_company_ids=frozenset(c for _, c in memberships[user.id] if c is not None),
        folder_levels=levels[user.id],
        services=services[user.id],
        consented=consented if Role(user.role).side == Side.CABINET else frozenset(),
    ) for user in users}
