"""Who works in a company's invoicing space: its users with the invoicing right (the
interlocuteur always, utilisateurs when granted), decided by the one permission function.
The firm sees nothing of it: to cabinet staff, and to anyone without the right, every page
and every document of it is "not found", as for something that does not exist."""

from __future__ import annotations

from sqlalchemy.orm import Session

from acl.errors import NotFound
from acl.people.models import Company
from acl.rights.policy import Action, Principal, Resource, authorize

NOT_FOUND = "Page introuvable."


def may_invoice(principal: Principal, company: Company) -> bool:
    return bool(authorize(principal, Action.INVOICING, Resource(company.id, company.is_active)))


def invoicing_company(session: Session, principal: Principal,
                      company_id: int | None = None) -> Company:
    """The company whose invoicing space the principal works in (his own, by default), or
    NotFound."""
    company_id = principal.company_id if company_id is None else company_id
    company = session.get(Company, company_id) if company_id is not None else None
    if company is None or not may_invoice(principal, company):
        raise NotFound(NOT_FOUND)
    return company
