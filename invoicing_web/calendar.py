"""Fiscal calendar pages: a company's month and list views, the portfolio's week (what falls
due this week for all my companies), the fiscal profile, events, comments and alerts.

Thin: parse, call `acl.calendar`, render. Who sees and does what is decided there.
"""

from __future__ import annotations

import calendar as month_grid
from datetime import date, timedelta

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from acl.calendar import agenda, alerts, profile
from acl.calendar.rules import MONTHS, Rule, add_months, load_rules
from acl.errors import InvalidInput, Refused
from acl.people.models import Portfolio, VatRegime
from acl.rights.models import Role, Side
from config.dates import parse_day
from invoicing_web.forms import Form
from invoicing_web.security import db_session, login_required, services

bp = Blueprint("calendar", __name__, url_prefix="/calendrier")
PROFILE_FIELDS = tuple(profile.ProfileInput.__dataclass_fields__)
WEEKDAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


def rules() -> tuple[Rule, ...]:
    return load_rules(services().settings.calendar.rules_file or None)


def _hour() -> int:
    return services().settings.calendar.alert_hour


def _day(text: str | None) -> date | None:
    try:
        return parse_day(text) if text else None
    except ValueError:
        return None


@bp.app_template_global()
def next_deadlines(shown=None, days: int = 14) -> list[agenda.Item]:
    """The next deadlines of the signed-in user's companies (for the dashboard), among those
    it shows (`shown`: those a search kept) or all."""
    session = db_session()
    today = alerts.paris_today()
    companies = agenda.visible_companies(session, g.principal)
    if shown is not None:
        kept = {c.id for c in shown}
        companies = [c for c in companies if c.id in kept]
    return agenda.agenda(session, g.principal, companies, today, today + timedelta(days=days),
                         rules())


@bp.get("")
@login_required
def index():
    session = db_session()
    companies = agenda.visible_companies(session, g.principal)
    if g.principal.side == Side.COMPANY and companies:
        return redirect(url_for(".company", company_id=companies[0].id))
    start = _day(request.args.get("semaine")) or alerts.paris_today()
    monday = start - timedelta(days=start.weekday())
    kinds = [k for k in request.args.getlist("genre") if k]
    items = agenda.agenda(session, g.principal, companies, monday, monday + timedelta(days=6),
                          rules(), kinds=kinds)
    return render_template("calendar/week.html", items=items, monday=monday,
                           sunday=monday + timedelta(days=6), kinds=agenda.kinds_of(rules()),
                           chosen=kinds, companies=companies,
                           previous=monday - timedelta(days=7), next=monday + timedelta(days=7))


def _period() -> tuple[str, date, date, date]:
    view = "liste" if request.args.get("vue") == "liste" else "mois"
    month = request.args.get("mois", "")
    try:
        year, number = (int(p) for p in month.split("-")) if month else (0, 0)
        first = date(year, number, 1)
    except ValueError:
        first = alerts.paris_today().replace(day=1)
    if view == "liste":
        start = _day(request.args.get("du")) or first
        return view, first, start, add_months(start, 3)
    return view, first, first, add_months(first, 1) - timedelta(days=1)


def _company_page(company, *, forms: dict[str, Form] | None = None, status: int = 200):
    session = db_session()
    view, first, start, end = _period()
    kinds = [k for k in request.args.getlist("genre") if k]
    items = agenda.agenda(session, g.principal, [company], start, end, rules(), kinds=kinds)
    weeks = month_grid.Calendar().monthdatescalendar(first.year, first.month)
    portfolios = []
    if g.principal.side == Side.CABINET:
        query = session.query(Portfolio).order_by(Portfolio.name)
        portfolios = [p for p in query if g.principal.role == Role.CORRESPONDANT
                      or p.id in g.principal.portfolio_ids]
    return render_template(
        "calendar/company.html", company=company, view=view, first=first, start=start,
        end=end, items=items, days=agenda.by_day(items), weeks=weeks, weekdays=WEEKDAYS,
        month_name=f"{MONTHS[first.month - 1]} {first.year}", kinds=agenda.kinds_of(rules()),
        chosen=kinds, previous=add_months(first, -1), next=add_months(first, 1),
        advise=agenda.may_advise(g.principal, company), portfolios=portfolios,
        alerts=alerts.alerts_of(session, g.principal, company), forms=forms or {},
        today=alerts.paris_today()), status


@bp.get("/<int:company_id>")
@login_required
def company(company_id: int):
    return _company_page(agenda.calendar_company(db_session(), g.principal, company_id))


def _act(company_id: int, form_name: str, form: Form, action, done: str):
    """Run `action(tx, company)` in a transaction; a refusal shows next to its field."""
    company = agenda.calendar_company(db_session(), g.principal, company_id)
    try:
        with services().db.transaction() as tx:
            action(tx, agenda.calendar_company(tx, g.principal, company_id))
    except Refused as exc:
        if exc.status == 404 and not getattr(exc, "field", ""):
            raise
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _company_page(company, forms={form_name: form}, status=exc.status)
    flash(done, "info")
    return redirect(request.form.get("back", "") if request.form.get("back", "").startswith(
        f"/calendrier/{company_id}") else url_for(".company", company_id=company_id))


@bp.post("/<int:company_id>/evenements")
@login_required
def add_event(company_id: int):
    form = Form.from_request("title", "on", "note", "scope")
    on = _day(form.get("on"))

    def act(tx, company):
        if on is None:
            raise InvalidInput("Date invalide (attendu JJ/MM/AAAA).", field="on")
        added = agenda.add_event(tx, g.principal, company, title=form.get("title"), on=on,
                                 note=form.get("note"), private=request.form.get("private")
                                 == "1", scope=form.get("scope") or "company")
        form.values["count"] = str(len(added))

    return _act(company_id, "event", form, act, "Évènement ajouté au calendrier.")


@bp.post("/<int:company_id>/commentaires")
@login_required
def add_comment(company_id: int):
    form = Form.from_request("key", "text")
    return _act(company_id, "comment", form, lambda tx, company: agenda.comment(
        tx, g.principal, company, form.get("key"), form.get("text"), rules()),
        "Commentaire ajouté.")


@bp.post("/<int:company_id>/alertes")
@login_required
def add_alert(company_id: int):
    form = Form.from_request("key", "remind_on")
    remind_on = _day(form.get("remind_on"))

    def act(tx, company):
        if remind_on is None:
            raise InvalidInput("Date de l'alerte invalide (attendu JJ/MM/AAAA).",
                               field="remind_on")
        alerts.set_alert(tx, g.principal, company, form.get("key"), remind_on, rules(),
                         hour=_hour(), for_company=request.form.get("for_company") == "1")

    return _act(company_id, "alert", form, act, "Alerte enregistrée : un e-mail partira le "
                                                "matin du jour choisi.")


@bp.post("/<int:company_id>/alertes/<int:alert_id>/couper")
@login_required
def turn_off_alert(company_id: int, alert_id: int):
    with services().db.transaction() as tx:
        alerts.turn_off(tx, g.principal, company_id, alert_id)
    flash("Alerte coupée.", "info")
    return redirect(url_for(".company", company_id=company_id))


@bp.route("/<int:company_id>/profil", methods=["GET", "POST"])
@login_required
def fiscal_profile(company_id: int):
    session = db_session()
    company = agenda.calendar_company(session, g.principal, company_id)
    advise = agenda.may_advise(g.principal, company)
    if request.method == "GET" or not advise:
        form = Form(profile.input_of(profile.profile_of(session, company)).__dict__)
        return render_template("calendar/profile.html", company=company, form=form,
                               advise=advise, choices=_choices()), \
            200 if request.method == "GET" else 403
    form = Form({name: request.form.get(name, "").strip() for name in PROFILE_FIELDS})
    try:
        with services().db.transaction() as tx:
            profile.save(tx, agenda.calendar_company(tx, g.principal, company_id),
                         profile.ProfileInput(**form.values), g.principal.user_id)
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return render_template("calendar/profile.html", company=company, form=form,
                               advise=advise, choices=_choices()), exc.status
    flash("Profil fiscal enregistré : le calendrier suit.", "info")
    return redirect(url_for(".company", company_id=company_id))


def _choices() -> dict[str, tuple[str, ...]]:
    return {"vat_regime": tuple(r.value for r in VatRegime),
            "vat_periodicity": profile.VAT_PERIODICITIES, "income_tax": profile.INCOME_TAXES,
            "employees": profile.EMPLOYEES, "cfe": profile.CFE, "cvae": profile.CVAE,
            "micro": profile.MICRO}


@bp.app_template_filter("jour")
def french_day(value: date) -> str:
    return f"{WEEKDAYS[value.weekday()]} {value:%d/%m/%Y}"

