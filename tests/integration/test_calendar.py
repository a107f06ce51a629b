"""The fiscal calendar in-process (issue 19): profiles and their contradictions, the
deadlines of a company, firm and company events, comments, and alerts mailed once by the
worker at the right Europe/Paris moment (the test moves the clock, it does not wait)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from support import conversations

from acl.calendar import agenda, alerts, profile
from acl.calendar.models import CalendarAlert, CalendarEvent, FiscalProfile
from acl.calendar.rules import load_rules
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.models import OutboxMessage
from acl.people.accounts import find_user
from acl.people.models import Company, Portfolio
from acl.rights.principals import load_principal
from config.dates import PARIS
from liasse.worker import Worker


@pytest.fixture(autouse=True)
def _without_demo_conversations(demo):
    conversations.clear(demo)

RULES = load_rules()
BASE = "http://liasse.test"
HOUR = 8
NORMAL = profile.ProfileInput(vat_regime="réel normal", vat_periodicity="mensuelle",
                              vat_day="19", income_tax="IS", fiscal_year_end="31/12",
                              employees="moins de 50", cfe="acompte et solde",
                              cvae="redevable avec acomptes", company_cars="1")


def company(s, name="Boulangerie Martin") -> Company:
    return s.scalars(select(Company).where(Company.name == name)).one()


def who(s, login):
    return load_principal(s, find_user(s, login))


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def set_profile(db, data=NORMAL, name="Boulangerie Martin"):
    with db.transaction() as s:
        profile.save(s, company(s, name), data, None)


def test_the_2026_deadlines_of_a_company_follow_its_profile(demo):
    set_profile(demo)
    with demo.session() as s:
        items = agenda.agenda(s, who(s, "martin"), [company(s)], date(2026, 1, 1),
                              date(2026, 12, 31), RULES)
    by_rule = {}
    for item in items:
        by_rule.setdefault(item.key.rsplit(":", 1)[0], []).append(item.on)
    assert by_rule["is-acomptes"] == [date(2026, 3, 16), date(2026, 6, 15), date(2026, 9, 15),
                                      date(2026, 12, 15)]
    assert by_rule["liasse-fiscale"] == [date(2026, 5, 20)]
    assert by_rule["is-solde"] == [date(2026, 5, 15)]
    assert len(by_rule["tva-ca3-mensuelle"]) == 12 and len(by_rule["dsn-moins-de-50"]) == 12
    assert "tva-ca12" not in by_rule
    with demo.session() as s:
        only_vat = agenda.agenda(s, who(s, "martin"), [company(s)], date(2026, 1, 1),
                                 date(2026, 12, 31), RULES, kinds=["TVA"])
    assert {i.kind for i in only_vat} == {"TVA"} and len(only_vat) == 12


@pytest.mark.parametrize("changes, field, message", [
    ({"vat_regime": "franchise"}, "vat_periodicity", "ne dépose pas de CA3"),
    ({"vat_periodicity": ""}, "vat_periodicity", "mensuelle ou trimestrielle"),
    ({"vat_day": "31"}, "vat_day", "entre 15 et 24"),
    ({"micro": "mensuelle"}, "micro", "impôt sur le revenu"),
    ({"employees": "beaucoup"}, "employees", "n'est pas une valeur possible"),
    ({"fiscal_year_end": "31/02"}, "fiscal_year_end", "Date de clôture invalide"),
])
def test_a_contradictory_profile_is_refused_and_nothing_is_written(demo, changes, field,
                                                                    message):
    data = profile.ProfileInput(**{**NORMAL.__dict__, **changes})
    with pytest.raises(InvalidInput) as refused, demo.transaction() as s:
        profile.save(s, company(s), data, None)
    assert refused.value.field == field and message in refused.value.reason
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(FiscalProfile)) == 0
        assert company(s).vat_regime == "réel simplifié"


def test_firm_events_reach_one_company_a_portfolio_or_all(demo):
    with demo.transaction() as s:
        bakery = company(s)
        expert = who(s, "expert")
        everyone = agenda.add_event(s, expert, bakery, title="Réunion fiscale", on=date(2026, 6,
                                    1), scope="all")
        shops = s.scalars(select(Portfolio).where(Portfolio.name == "Commerces de bouche")).one()
        one_portfolio = agenda.add_event(s, who(s, "associe"), bakery, title="Inventaire",
                                         on=date(2026, 6, 2), scope=f"portfolio:{shops.id}")
        with pytest.raises(PermissionDenied):
            agenda.add_event(s, who(s, "martin"), bakery, title="x", on=date(2026, 6, 3),
                             scope="all")
        with pytest.raises(NotFound):  # the assistant is no member of "Tous les clients"
            other = s.scalars(select(Portfolio).where(Portfolio.name == "Tous les clients")).one()
            agenda.add_event(s, who(s, "assistant"), bakery, title="x", on=date(2026, 6, 3),
                             scope=f"portfolio:{other.id}")
    assert len(everyone) == 2 and len(one_portfolio) == 1
    with demo.session() as s:
        garage_items = agenda.agenda(s, who(s, "dupont"), [company(s, "Garage Dupont")],
                                     date(2026, 6, 1), date(2026, 6, 3), RULES,
                                     kinds=["Cabinet"])
        assert [i.title for i in garage_items] == ["Réunion fiscale"]


def test_a_private_company_event_stays_on_the_company_side(demo):
    with demo.transaction() as s:
        bakery = company(s)
        agenda.add_event(s, who(s, "martin"), bakery, title="Relancer la banque",
                         on=date(2026, 6, 10), private=True)
        agenda.add_event(s, who(s, "martin"), bakery, title="Inventaire de fin d'année",
                         on=date(2026, 6, 11))
        with pytest.raises(InvalidInput):
            agenda.add_event(s, who(s, "expert"), bakery, title="x", on=date(2026, 6, 12),
                             private=True)
    with demo.session() as s:
        def titles(login):
            return [i.title for i in agenda.agenda(s, who(s, login), [company(s)],
                                                   date(2026, 6, 10), date(2026, 6, 11), RULES,
                                                   kinds=["Entreprise"])]
        assert titles("secretaire") == ["Relancer la banque", "Inventaire de fin d'année"]
        assert titles("expert") == ["Inventaire de fin d'année"]
        private = s.scalars(select(CalendarEvent).where(CalendarEvent.private)).one()
        with pytest.raises(NotFound):
            agenda.find_item(s, who(s, "expert"), company(s), f"event:{private.id}", RULES)
        with pytest.raises(NotFound):  # an event id of another company
            agenda.find_item(s, who(s, "dupont"), company(s, "Garage Dupont"),
                             f"event:{private.id}", RULES)


def test_the_firm_comments_a_deadline_and_the_company_reads_it(demo):
    set_profile(demo)
    key = "is-solde:2026-05-15"
    with demo.transaction() as s:
        agenda.comment(s, who(s, "assistant"), company(s), key,
                       "Prévoir la trésorerie : solde estimé 4 200 €.", RULES)
        with pytest.raises(PermissionDenied):
            agenda.comment(s, who(s, "martin"), company(s), key, "moi aussi", RULES)
        with pytest.raises(NotFound):
            agenda.comment(s, who(s, "expert"), company(s), "is-solde:2026-05-16", "x", RULES)
    with demo.session() as s:
        [item] = [i for i in agenda.agenda(s, who(s, "martin"), [company(s)], date(2026, 5, 15),
                                           date(2026, 5, 15), RULES) if i.key == key]
        assert [c.text for c in item.comments] == ["Prévoir la trésorerie : solde estimé 4 200 €."]


def test_alert_bounds(demo):
    set_profile(demo)
    now = paris(2026, 4, 1, 10)
    with demo.transaction() as s:
        bakery, martin = company(s), who(s, "martin")
        key = "is-solde:2026-05-15"
        with pytest.raises(InvalidInput, match="au plus un mois avant"):
            alerts.set_alert(s, martin, bakery, key, date(2026, 4, 14), RULES, hour=HOUR,
                             now=now)
        with pytest.raises(InvalidInput, match="précéder l'évènement"):
            alerts.set_alert(s, martin, bakery, key, date(2026, 5, 16), RULES, hour=HOUR,
                             now=now)
        with pytest.raises(InvalidInput, match="déjà passé"):
            alerts.set_alert(s, martin, bakery, "is-acomptes:2026-03-16", date(2026, 3, 16),
                             RULES, hour=HOUR, now=now)
        with pytest.raises(PermissionDenied):
            alerts.set_alert(s, martin, bakery, key, date(2026, 5, 1), RULES, hour=HOUR,
                             for_company=True, now=now)
        alerts.set_alert(s, martin, bakery, key, date(2026, 4, 15), RULES, hour=HOUR, now=now)
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(CalendarAlert)) == 1


@pytest.fixture
def worker(settings, demo):
    made = []

    def make():
        made.append(Worker(settings, demo, BASE))
        return made[-1]

    yield make
    for w in made:
        w.stop()


def mails(db):
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_an_alert_for_tomorrows_deadline_is_mailed_once_at_the_right_moment(demo, worker):
    set_profile(demo)
    # 15 May 2026, IS balance. Set on the 14th at 10:00 for the morning of the 15th.
    with demo.transaction() as s:
        alerts.set_alert(s, who(s, "martin"), company(s), "is-solde:2026-05-15",
                         date(2026, 5, 15), RULES, hour=HOUR, now=paris(2026, 5, 14, 10))
    first = worker()
    first.tick(paris(2026, 5, 15, 7, 59))
    assert mails(demo) == []
    first.tick(paris(2026, 5, 15, 8, 0))
    [sent] = mails(demo)
    assert sent.recipient == "martin@demo.invalid"
    assert sent.subject == "[Cabinet Démo] Rappel : IS : relevé de solde 2572 de 2025 le 15/05/2026"
    assert "Boulangerie Martin" in sent.text_body and f"{BASE}/calendrier/" in sent.text_body
    first.tick(paris(2026, 5, 15, 9))
    first.stop()
    worker().tick(paris(2026, 5, 15, 10))  # a restart
    assert len(mails(demo)) == 1


@pytest.mark.parametrize("day, utc_hour", [(date(2026, 3, 29), 6), (date(2026, 3, 28), 7),
                                           (date(2026, 10, 25), 7), (date(2026, 10, 24), 6)])
def test_the_morning_is_a_paris_morning_across_daylight_saving(day, utc_hour):
    assert alerts.due_moment(day, HOUR) == datetime(day.year, day.month, day.day, utc_hour,
                                                    tzinfo=UTC)


def test_a_firm_alert_reaches_the_company_users_in_one_digest_unless_turned_off(demo, worker):
    set_profile(demo)
    now = paris(2026, 6, 1, 9)
    with demo.transaction() as s:
        bakery, expert = company(s), who(s, "expert")
        for key in ("is-acomptes:2026-06-15", "cfe-acompte:2026-06-15"):
            alerts.set_alert(s, expert, bakery, key, date(2026, 6, 12), RULES, hour=HOUR,
                             for_company=True, now=now)
        dropped = alerts.set_alert(s, expert, bakery, "cvae-acomptes:2026-06-15",
                                   date(2026, 6, 12), RULES, hour=HOUR, for_company=True,
                                   now=now)
        dropped_id = dropped.id
    with demo.transaction() as s:
        with pytest.raises(NotFound):  # another company's alert
            alerts.turn_off(s, who(s, "dupont"), company(s, "Garage Dupont").id, dropped_id)
        alerts.turn_off(s, who(s, "martin"), company(s).id, dropped_id)
    worker().tick(paris(2026, 6, 12, 8))
    sent = mails(demo)
    assert sorted(m.recipient for m in sent) == ["martin@demo.invalid",
                                                 "secretaire@demo.invalid"]
    for mail in sent:
        assert mail.subject == "[Cabinet Démo] 2 échéances à venir"
        assert "IS : acompte trimestriel" in mail.text_body and "CFE : acompte" in mail.text_body
        assert "CVAE" not in mail.text_body
