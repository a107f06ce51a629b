"""The dashboard: companies and counters for the firm, recent documents for a company."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, g, redirect, render_template, request, send_file, url_for

from acl.documents import activity
from acl.people import companies
from acl.people.cabinet import LOGO_TYPES, get_cabinet
from acl.rights.models import Side
from invoicing_web.forms import parse_id
from invoicing_web.security import db_session, login_required

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def root():
    return redirect(url_for("dashboard.home") if g.user else url_for("auth.login"))


@bp.get("/tableau-de-bord")
@login_required
def home():
    session = db_session()
    if g.principal.side == Side.COMPANY:
        company = session.get(companies.Company, g.user.company_id)
        return render_template(
            "dashboard/company.html", company=company,
            recent=activity.recent_documents(session, g.principal, company.id),
            received=activity.recent_documents(session, g.principal, company.id,
                                               received_only=True))
    query = request.args.get("q", "").strip()
    reachable = companies.visible_companies(session, g.principal)
    shown = companies.matching(reachable, query)
    figures = activity.company_activity(session, [c.id for c in reachable])
    users = companies.user_counts(session)
    totals = {"companies": len(reachable),
              "awaiting": sum(f.awaiting_receipt for f in figures.values()),
              "documents": sum(f.documents for f in figures.values())}
    return render_template("dashboard/cabinet.html", companies=shown, all_companies=reachable,
                           figures=figures, users=users, totals=totals, query=query,
                           empty=activity.Activity())


@bp.get("/logo")
def logo():
    """The cabinet's logo (path set with `liasse cabinet set --logo`)."""
    cabinet = get_cabinet(db_session())
    path = Path(cabinet.logo) if cabinet.logo else None
    if path is None or not path.is_file() or path.suffix.lower() not in LOGO_TYPES:
        abort(404)
    return send_file(path, mimetype=LOGO_TYPES[path.suffix.lower()], max_age=3600)


@bp.get("/entreprise")
@login_required
def switch():
    """The company switcher ("Sélectionner un compte"): go to that company's documents."""
    company_id = request.args.get("id", type=parse_id)
    if company_id is None:
        return redirect(url_for("dashboard.home"))
    company = companies.get_company(db_session(), g.principal, company_id)
    return redirect(url_for("documents.browse", company=company.folder_name))
