"""The audit log, filtered by actor, action, company and dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import (
    abort,
    g,
    render_template,
    request,
)
from sqlalchemy import select

from acl.people import companies
from acl.rights import delegation
from acl.rights.audit import action_label, detail_text, query_entries
from acl.rights.models import AuditEntry
from invoicing_web.admin.base import (
    PARIS,
    bp,
    parse_day,
)
from invoicing_web.forms import Form, parse_id
from invoicing_web.security import db_session, login_required

# --- audit log ----------------------------------------------------------------------------

AUDIT_LIMIT = 200
ACTION_GROUPS = {"company": "Entreprises", "user": "Comptes", "habilitation": "Droits sur dossiers",
                 "service": "Messagerie et facturation", "portfolio": "Portefeuilles",
                 "import": "Imports", "cabinet": "Fiche du cabinet"}


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), PARIS).astimezone(UTC)


@bp.app_template_filter("action_label")
def _action_label(action: str) -> str:
    return action_label(action)


@bp.app_template_filter("detail_text")
def _detail_text(detail: str) -> str:
    return detail_text(detail)


@bp.get("/journal")
@login_required
def audit():
    p = g.principal
    decision = delegation.may_read_audit(p)
    if not decision:
        abort(403, description=decision.reason)
    session = db_session()
    form = Form({name: request.args.get(name, "").strip()
                 for name in ("actor", "action", "company", "since", "until", "refused")})
    since = parse_day(form, "since")
    until = parse_day(form, "until")
    reachable = companies.visible_companies(session, p)
    company_id = parse_id(form.get("company"))
    if form.get("company") and company_id not in {c.id for c in reachable}:
        form.error("company", "Entreprise introuvable.")
    if since and until and until < since:
        form.error("until", "La date de fin précède la date de début.")
    entries: list[AuditEntry] = []
    if form.ok:
        entries = query_entries(
            session, p, actor=form.get("actor") or None, action=form.get("action") or None,
            company_id=company_id, since=_start_of(since) if since else None,
            until=_start_of(until + timedelta(days=1)) if until else None,
            outcome="refused" if form.get("refused") else None, limit=AUDIT_LIMIT)
    actions = sorted(set(session.scalars(select(AuditEntry.action).distinct())))
    return render_template(
        "admin/audit.html", form=form, entries=entries, companies=reachable,
        names={c.id: c.name for c in reachable}, actions=actions, groups=ACTION_GROUPS,
        limit=AUDIT_LIMIT, paris=PARIS), 200 if form.ok else 400
