"""The blueprint of the invoicing space and what its views share: the company whose space
it is (the firm and anyone without the invoicing right get "not found", as for a page that
does not exist: `acl.invoicing.access`), the company whose invoicing is read (its own users,
or the cabinet staff while it consents), and the write transaction that turns a refusal into
a form error."""

from __future__ import annotations

from flask import Blueprint, g

from acl.invoicing import access
from acl.people.models import Company
from invoicing_web.security import db_session

bp = Blueprint("invoicing", __name__, url_prefix="/facturation")


def space(session=None) -> Company:
    """The signed-in user's company, if he may invoice for it; else NotFound (404)."""
    return access.invoicing_company(session or db_session(), g.principal)


def may_invoice() -> bool:
    """Whether the navigation shows "Facturation"."""
    principal = g.get("principal")
    if principal is None or principal.company_id is None:
        return False
    company = db_session().get(Company, principal.company_id)
    return company is not None and access.may_invoice(principal, company)


def readable(company_id: int, session=None) -> Company:
    """The company whose invoicing the signed-in user reads (read-only for the firm, while
    the company consents); else NotFound (404)."""
    return access.readable_company(session or db_session(), g.principal, company_id)
