"""Who works in a company's invoicing space, and who reads it, decided by the one permission
function:

- its users with the invoicing right (the interlocuteur always, utilisateurs when granted)
  work in it (`invoicing_company`: every write goes through it);
- cabinet staff who reach the company read it, read-only (documents, payments, expenses,
  reports), while its interlocuteur consents (`readable_company`, `acl.invoicing.consent`).

To anyone else, every page and every document of it is "not found", as for something that
does not exist.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from acl.errors import NotFound
from acl.people.models import Company
from acl.rights.policy import Action, Principal, Resource, authorize

NOT_FOUND = "Page introuvable."


def may_invoice(principal: Principal, company: Company) -> bool:
    return bool(authorize(principal, Action.INVOICING, Resource(company.id, company.is_active)))


def may_read(principal: Principal, company: Company) -> bool:
    """Whether the principal reads the company's invoicing (its own users who invoice; the
    cabinet staff who reach it while it consents)."""
    return bool(authorize(principal, Action.INVOICING_READ,
                          Resource(company.id, company.is_active)))


def invoicing_company(session: Session, principal: Principal,
                      company_id: int | None = None) -> Company:
    """The company whose invoicing space the principal works in (his own, by default), or
    NotFound."""
    company_id = principal.company_id if company_id is None else company_id
    company = session.get(Company, company_id) if company_id is not None else None
    if company is None or not may_invoice(principal, company):
        raise NotFound(NOT_FOUND)
    return company


def readable_company(session: Session, principal: Principal,
                     company_id: int | None = None) -> Company:
    """The company whose invoicing the principal reads (his own, by default), or NotFound."""
    company_id = principal.company_id if company_id is None else company_id
    company = session.get(Company, company_id) if company_id is not None else None
    if company is None or not may_read(principal, company):
        raise NotFound(NOT_FOUND)
    return company
