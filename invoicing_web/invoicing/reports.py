"""The reports of a company (revenue, expenses, VAT register, unpaid) as pages, PDF and
.xlsx, for its users who invoice and, read-only, for the cabinet staff who reach it while it
consents (`base.readable`: 404 otherwise). Filters come from the query string; a date that
is not one or a period that ends before it starts is answered 400 with its sentence, a
customer of another company 404. The portfolio export of the firm is in `portfolio_export`."""

from __future__ import annotations

import io
from datetime import date

from flask import abort, g, redirect, render_template, request, send_file, url_for
from markupsafe import Markup

from acl import tables
from acl.errors import Refused
from acl.invoicing import (
    chart,
    customers,
    portfolio_export,
    profile,
    report_files,
    reports,
    vat_register,
)
from acl.invoicing.models import DocKind, DocStatus
from acl.invoicing.reports import ReportFilters
from acl.people import portfolios
from acl.rights.models import Side
from config import dates
from invoicing_web.forms import Form, parse_id
from invoicing_web.invoicing.base import bp, readable
from invoicing_web.security import context, db_session, login_required, services

NAMES = report_files.TITLES
KINDS = [(k.value, k.label) for k in DocKind if k != DocKind.QUOTE]
STATUSES = [(s.value, s.value) for s in DocStatus if s.value not in ("accepté", "refusé",
                                                                     "facturé", "brouillon")]


def _form() -> Form:
    return Form({name: request.args.get(name, "").strip()[:40] for name in (
        "start", "end", "kind", "status", "customer", "country", "by")})


def filters_of(form: Form, today: date | None = None) -> ReportFilters:
    """The filters typed, the current year by default; errors noted on the form."""
    today = today or date.today()
    found = {}
    for name, default in (("start", date(today.year, 1, 1)), ("end", date(today.year, 12, 31))):
        text = form.get(name)
        try:
            found[name] = dates.parse_day(text) if text else default
        except ValueError:
            form.error(name, f"« {text} » n'est pas une date (JJ/MM/AAAA).")
            found[name] = default
        form.values[name] = found[name].strftime("%d/%m/%Y")
    customer = None
    if form.get("customer"):
        customer = parse_id(form.get("customer"))
        if customer is None:
            abort(404)
    return ReportFilters(start=found["start"], end=found["end"], kind=form.get("kind"),
                         status=form.get("status"), customer_id=customer,
                         country=form.get("country").upper()[:2],
                         by=form.get("by") or "trimestre")


def _tables(session, company, name: str, filters: ReportFilters, limit: int | None):
    if name == "revenus":
        return report_files.revenue_tables(reports.revenue(session, company, filters,
                                                           limit=limit))
    if name == "depenses":
        return report_files.expenses_tables(reports.expenses_report(session, company, filters,
                                                                    limit=limit))
    if name == "tva":
        found = vat_register.register(session, company, filters)
        return [*report_files.vat_tables(found)], found.basis
    return report_files.unpaid_tables(reports.unpaid(session, company, filters, limit=limit))


def _compute(company_id: int, name: str, *, limit: int | None = reports.LIST_LIMIT):
    """The report's tables: a page lists the first rows of a long list, a file all of them."""
    if name not in NAMES:
        abort(404)
    session = db_session()
    company = readable(company_id)
    form = _form()
    filters = filters_of(form)
    if form.ok:
        try:
            reports.check_filters(session, company, filters)
        except Refused as exc:
            if exc.status == 404:
                raise
            form.error(getattr(exc, "field", "") or "_", exc.reason)
    if not form.ok:
        return session, company, form, filters, None, ""
    found = _tables(session, company, name, filters, limit)
    basis = ""
    if isinstance(found, tuple):
        found, basis = found
    return session, company, form, filters, found, basis


def _subtitle(name: str, filters: ReportFilters, basis: str) -> str:
    words = [f"Du {filters.start:%d/%m/%Y} au {filters.end:%d/%m/%Y}"]
    if name == "impayes":
        words = [f"Au {date.today():%d/%m/%Y}, factures émises du {filters.start:%d/%m/%Y} "
                 f"au {filters.end:%d/%m/%Y}"]
    if basis:
        words.append(basis)
    for label, value in (("type", filters.kind), ("état", filters.status),
                         ("pays", filters.country)):
        if value:
            words.append(f"{label} : {value}")
    return " — ".join(words)


@bp.get("/rapports")
@login_required
def my_reports():
    company = readable(g.principal.company_id or 0)
    return redirect(url_for(".report", company_id=company.id, name="revenus"))


@bp.get("/entreprise/<int:company_id>/rapports/<name>")
@login_required
def report(company_id: int, name: str):
    session, company, form, filters, found, basis = _compute(company_id, name)
    svg = None
    if name in ("revenus", "depenses") and found is not None:
        look = profile.profile_of(session, company)
        svg = Markup(chart.monthly_svg(reports.twelve_months(session, company), look.colour))
    return render_template(
        "invoicing/report.html", company=company, name=name, names=NAMES, form=form,
        tables=found, subtitle=_subtitle(name, filters, basis) if found is not None else "",
        chart=svg, kinds=KINDS, statuses=STATUSES,
        customers=customers.listing(session, company),
        args={k: v for k, v in request.args.items() if v}), 200 if form.ok else 400


@bp.get("/entreprise/<int:company_id>/rapports/<name>.<any(pdf, xlsx):fmt>")
@login_required
def report_file(company_id: int, name: str, fmt: str):
    session, company, form, filters, found, basis = _compute(company_id, name, limit=None)
    if found is None:
        abort(400, description=next(iter(form.errors.values())))
    title = NAMES[name]
    stem = f"{title} - {company.name} - {filters.start:%Y-%m-%d} au {filters.end:%Y-%m-%d}"
    if fmt == "xlsx":
        body = report_files.to_xlsx([(title, found)])
        mimetype = tables.XLSX_TYPE
    else:
        look = profile.profile_of(session, company)
        logo = None
        if look.logo_sha256:
            with services().blobs.open(look.logo_sha256) as handle:
                logo = handle.read()
        body = report_files.to_pdf(title, _subtitle(name, filters, basis), company.name,
                                   found, look.colour, logo)
        mimetype = "application/pdf"
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=f"{stem}.{fmt}".replace("/", "-"))


# -- The firm: a portfolio's figures in one workbook --

@bp.get("/cabinet/portefeuilles")
@login_required
def portfolio_page():
    if g.principal.side != Side.CABINET:
        abort(404)
    session = db_session()
    ctx = context()
    found = [portfolio_export.split(session, g.principal, p.id)
             for p in portfolios.visible_portfolios(session, ctx)]
    form = _form()
    filters_of(form)
    return render_template("invoicing/portfolios.html", found=found, form=form,
                           args={k: v for k, v in request.args.items() if v}), \
        200 if form.ok else 400


@bp.get("/cabinet/portefeuilles/<int:portfolio_id>.xlsx")
@login_required
def portfolio_file(portfolio_id: int):
    if g.principal.side != Side.CABINET:
        abort(404)
    session = db_session()
    form = _form()
    filters = filters_of(form)
    if form.ok:
        try:
            reports.check_filters(session, None, filters)
        except Refused as exc:
            form.error("_", exc.reason)
    if not form.ok:
        abort(400, description=next(iter(form.errors.values())))
    body, parts = portfolio_export.workbook(session, g.principal, portfolio_id, filters)
    return send_file(io.BytesIO(body), mimetype=tables.XLSX_TYPE, as_attachment=True,
                     download_name=f"Impayés et TVA - {parts.portfolio.name}.xlsx"
                     .replace("/", "-"))
