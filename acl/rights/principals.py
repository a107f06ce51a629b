"""Load a `Principal` (a user with all their rights) in three indexed queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.people.models import User, portfolio_company, portfolio_member
from acl.rights.models import Habilitation, Level, Role, Service, ServiceGrant
from acl.rights.policy import Principal


def load_principal(session: Session, user: User) -> Principal:
    memberships = session.execute(
        select(portfolio_member.c.portfolio_id, portfolio_company.c.company_id)
        .select_from(portfolio_member)
        .outerjoin(portfolio_company,
                   portfolio_company.c.portfolio_id == portfolio_member.c.portfolio_id)
        .where(portfolio_member.c.user_id == user.id)
    ).all()
    levels = session.execute(
        select(Habilitation.company_id, Habilitation.folder, Habilitation.level)
        .where(Habilitation.user_id == user.id)
    ).all()
    services = session.execute(
        select(ServiceGrant.company_id, ServiceGrant.service, ServiceGrant.granted)
        .where(ServiceGrant.user_id == user.id)
    ).all()
    return Principal(
        user_id=user.id,
        login=user.login,
        role=Role(user.role),
        active=user.active,
        company_id=user.company_id,
        portfolio_ids=frozenset(p for p, _ in memberships),
        portfolio_company_ids=frozenset(c for _, c in memberships if c is not None),
        folder_levels={(c, f): Level(lv) for c, f, lv in levels},
        services={(c, Service(s)): g for c, s, g in services},
    )
