"""The firm's access to the company's invoicing: the interlocuteur opens or closes it
(`acl.invoicing.consent`, audited); the firm's read-only view of a consenting company (its
documents, with the reports one click away). Cabinet staff get "not found" on every page of
a company that does not consent (`base.readable`)."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from acl.invoicing import consent, customers, documents
from acl.invoicing.documents import Filters
from acl.people.models import User
from acl.rights.audit import admin_transaction
from acl.rights.models import Role
from invoicing_web.invoicing.base import bp, readable, space
from invoicing_web.security import context, db_session, login_required, services


@bp.get("/acces-cabinet")
@login_required
def consent_page():
    session = db_session()
    company = space()
    found = consent.consent_of(session, company)
    by = session.get(User, found.changed_by_id) if found and found.changed_by_id else None
    return render_template("invoicing/consent.html", company=company, consent=found, by=by,
                           may_change=g.principal.role == Role.INTERLOCUTEUR)


@bp.post("/acces-cabinet")
@login_required
def consent_save():
    granted = request.form.get("action") == "grant"
    with admin_transaction(services().db, context()) as tx:
        consent.set_consent(tx, context(), space(tx), granted)
    flash("Le cabinet peut désormais consulter votre facturation (lecture seule)." if granted
          else "Le cabinet n'a plus accès à votre facturation.", "info")
    return redirect(url_for(".consent_page"))


@bp.get("/entreprise/<int:company_id>/")
@login_required
def company_overview(company_id: int):
    """A company's invoicing as the firm reads it (its own users see the same page)."""
    session = db_session()
    company = readable(company_id)
    shown = documents.listing(session, company, Filters(), limit=200)
    shown = [d for d in shown if not d.is_draft]
    return render_template(
        "invoicing/overview.html", company=company, shown=shown,
        names=documents.customers_named(session, shown),
        situation={i: s.situation for i, s in documents.standings(session, shown).items()},
        customers=customers.listing(session, company))
