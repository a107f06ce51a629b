"""The dashboard: companies and counters for the firm, recent documents for a company."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, send_file, url_for
from markupsafe import Markup

from acl.documents import activity, browsing
from acl.invoicing import access, chart, consent, profile, reports
from acl.people import companies
from acl.people.cabinet import logo_of
from acl.rights.models import Side
from invoicing_web.forms import local_url, parse_id
from invoicing_web.security import db_session, login_required, mail_waits, services

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
            "dashboard/company.html", company=company, chart=invoicing_chart(company),
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
                           empty=activity.Activity(),
                           consenting=consent.consenting(session, [c.id for c in shown]))


def invoicing_chart(company) -> Markup | None:
    """Revenue and expenses of the last twelve months, for those who invoice."""
    if not access.may_invoice(g.principal, company):
        return None
    session = db_session()
    return Markup(chart.monthly_svg(reports.twelve_months(session, company),
                                    profile.profile_of(session, company).colour))


@bp.get("/a-receptionner")
@login_required
def awaiting():
    """The documents the dashboard counts as deposited and not yet received: across the
    companies the firm member reaches, or one of them (`?entreprise=<id>`)."""
    if g.principal.side != Side.CABINET:
        abort(404)
    session = db_session()
    company = None
    if request.args.get("entreprise"):
        company_id = request.args.get("entreprise", type=parse_id)
        if company_id is None:
            abort(404)
        company = companies.get_company(session, g.principal, company_id)  # else 404
        ids = [company.id]
    else:
        ids = [c.id for c in companies.visible_companies(session, g.principal)]
    found = activity.awaiting_receipt(session, g.principal, ids, limit=AWAITING_SHOWN)
    names = browsing.user_names(session, {node.deposited_by_id for node, _, _ in found})
    return render_template("dashboard/awaiting.html", found=found, company=company,
                           names=names, limit=AWAITING_SHOWN)


AWAITING_SHOWN = 500


@bp.app_template_global()
def page_before() -> str | None:
    """Where a refused form came from (the page that posted it, on this site), for the error
    page's way back; None for a page opened directly."""
    if request.method != "POST" or not request.referrer:
        return None
    parsed = urlsplit(request.referrer)
    if parsed.netloc != request.host:
        return None
    return local_url(parsed.path + (f"?{parsed.query}" if parsed.query else ""))


bp.add_app_template_global(mail_waits, "mail_waits")


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it before reading the page's icon link."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/logo")
def logo():
    """The cabinet's logo, from the blob store (revalidated: a new logo shows at once)."""
    with services().db.transaction() as tx:  # a logo stored as a path is copied in once
        found = logo_of(tx, services().blobs)
    if found is None:
        abort(404)
    response = send_file(io.BytesIO(found.data), mimetype=found.mimetype, etag=found.sha256,
                         max_age=0, conditional=True)
    response.headers["Cache-Control"] = "public, no-cache"
    return response


@bp.get("/entreprise")
@login_required
def switch():
    """The company switcher ("Sélectionner un compte"): go to that company's documents."""
    company_id = request.args.get("id", type=parse_id)
    if company_id is None:
        return redirect(url_for("dashboard.home"))
    company = companies.get_company(db_session(), g.principal, company_id)
    return redirect(url_for("documents.browse", company=company.folder_name))
