"""The company's consent to let the firm read its invoicing (seeds 001 and 004: the client
decides before the firm sees its file).

Only the company's interlocuteur opens or closes it, from the web app; each change is dated
and written to the audit log (in the act's transaction). While it is open, the cabinet staff
who reach the company read its customers, documents, payments, expenses and reports, and
nothing more (`Action.INVOICING_READ` in `acl.rights.policy`); every write stays the
company's (`Action.INVOICING`). The principals of the cabinet carry the companies that
consent (`Principal.consented`), reloaded when the audit bumps the rights generation.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.people.models import Company
from acl.rights import audit
from acl.rights.models import InvoicingConsent, Role
from acl.rights.policy import Decision

GRANT, REVOKE = "invoicing.consent_grant", "invoicing.consent_revoke"
ONLY_INTERLOCUTEUR = ("Seul l'interlocuteur de l'entreprise ouvre ou ferme sa facturation "
                      "au cabinet.")


def consent_of(session: Session, company: Company) -> InvoicingConsent | None:
    return session.get(InvoicingConsent, company.id)


def is_consented(session: Session, company: Company) -> bool:
    found = consent_of(session, company)
    return found is not None and found.granted


def consenting(session: Session, company_ids: Iterable[int]) -> set[int]:
    """Those of the companies that consent, in one query."""
    ids = list(company_ids)
    if not ids:
        return set()
    return set(session.scalars(select(InvoicingConsent.company_id).where(
        InvoicingConsent.company_id.in_(ids), InvoicingConsent.granted.is_(True))))


def may_set_consent(ctx: audit.Context, company: Company) -> Decision:
    principal = ctx.principal
    if (principal.active and principal.role == Role.INTERLOCUTEUR
            and principal.company_id == company.id and principal.company_active):
        return Decision(True)
    return Decision(False, ONLY_INTERLOCUTEUR)


def set_consent(session: Session, ctx: audit.Context, company: Company,
                granted: bool) -> InvoicingConsent:
    """Open (`granted`) or close the company's invoicing to the firm; audited, dated. Setting
    it to what it already is changes nothing and writes nothing."""
    action = GRANT if granted else REVOKE
    audit.require(may_set_consent(ctx, company), action=action, target=company.name,
                  company_id=company.id)
    found = consent_of(session, company)
    if found is not None and found.granted == granted:
        return found
    if found is None:
        found = InvoicingConsent(company_id=company.id)
        session.add(found)
    found.granted = granted
    found.changed_at = utcnow()
    found.changed_by_id = ctx.principal.user_id
    session.flush()
    audit.record(session, ctx, action, company.name, company_id=company.id)
    return found
