"""The demo's fiscal calendar: Boulangerie Martin at the simplified VAT regime and IS,
Garage Dupont at the monthly normal regime with employees and company cars; a firm event, a
comment on a deadline, a company note and an alert, dated from the day the demo is made so
that the pages and the dashboard have content from the first start."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from acl.calendar import agenda, alerts, profile
from acl.calendar.rules import load_rules
from acl.people.accounts import find_user
from acl.people.models import Company
from acl.rights.principals import load_principal
from config.settings import Settings


def create(session: Session, settings: Settings, bakery: Company, garage: Company) -> None:
    def who(login: str):
        return load_principal(session, find_user(session, login))

    rules = load_rules(settings.calendar.rules_file or None)
    profile.save(session, bakery, profile.ProfileInput(
        vat_regime="réel simplifié", vat_day="19", income_tax="IS", fiscal_year_end="31/12",
        employees="aucun", cfe="solde", cvae="non redevable"), None)
    profile.save(session, garage, profile.ProfileInput(
        vat_regime="réel normal", vat_periodicity="mensuelle", vat_day="21", income_tax="IS",
        fiscal_year_end="31/12", employees="moins de 50", cfe="acompte et solde",
        cvae="non redevable", company_cars="1"), None)
    today = alerts.paris_today()
    agenda.add_event(session, who("expert"), bakery, title="Rendez-vous bilan au cabinet",
                     on=today + timedelta(days=10), note="Apporter les relevés bancaires et "
                     "l'inventaire du stock.")
    agenda.add_event(session, who("martin"), bakery, title="Inventaire du stock de farine",
                     on=today + timedelta(days=5), note="Compter aussi les emballages.")
    ahead = agenda.agenda(session, who("expert"), [bakery], today + timedelta(days=3),
                          today + timedelta(days=60), rules)
    deadlines = [i for i in ahead if i.source == "règle"]
    if deadlines:
        first = deadlines[0]
        agenda.comment(session, who("expert"), bakery, first.key,
                       "Pensez à provisionner le montant sur le compte professionnel une "
                       "semaine avant.", rules)
        remind = max(today + timedelta(days=1), first.on - timedelta(days=7))
        alerts.set_alert(session, who("martin"), bakery, first.key, remind, rules,
                         hour=settings.calendar.alert_hour)
