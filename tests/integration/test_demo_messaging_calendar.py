"""What the demo world holds of messaging and the calendar (issue 19): profiles, threads with
replies and an attachment, a firm event, a comment, a company note and an alert; and the 2026
calendars of both demo companies match ../shared/reference/RESEARCH.md §5."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from acl.calendar import agenda
from acl.calendar.models import CalendarAlert, CalendarEvent, DeadlineComment
from acl.calendar.rules import load_rules
from acl.documents import store
from acl.documents.models import Node
from acl.messaging import threads
from acl.messaging.models import MessageDocument
from acl.people.accounts import find_user
from acl.people.models import Company
from acl.rights.principals import load_principal

RULES = load_rules()


def company(s, name):
    return s.scalars(select(Company).where(Company.name == name)).one()


def dates(s, name, login):
    items = agenda.agenda(s, load_principal(s, find_user(s, login)), [company(s, name)],
                          date(2026, 1, 1), date(2026, 12, 31), RULES)
    found: dict[str, list[date]] = {}
    for item in items:
        if item.source == "règle":
            found.setdefault(item.key.rsplit(":", 1)[0], []).append(item.on)
    return found


def test_the_2026_calendars_of_the_demo_companies_match_the_reference_table(demo):
    with demo.session() as s:
        bakery = dates(s, "Boulangerie Martin", "martin")
        garage = dates(s, "Garage Dupont", "dupont")
    assert bakery["tva-ca12"] == [date(2026, 5, 5)]
    assert bakery["tva-rsi-acompte-juillet"] == [date(2026, 7, 20)]
    assert bakery["tva-rsi-acompte-decembre"] == [date(2026, 12, 21)]
    assert bakery["liasse-fiscale"] == [date(2026, 5, 20)]
    assert bakery["is-solde"] == [date(2026, 5, 15)]
    assert bakery["cfe-solde"] == [date(2026, 12, 15)]
    assert "tva-ca3-mensuelle" not in bakery and "dsn-moins-de-50" not in bakery
    for one in (bakery, garage):
        assert one["is-acomptes"] == [date(2026, 3, 16), date(2026, 6, 15), date(2026, 9, 15),
                                      date(2026, 12, 15)]
    assert len(garage["tva-ca3-mensuelle"]) == 12 and garage["tva-ca3-mensuelle"][0] == \
        date(2026, 1, 21)
    assert garage["vehicules-ca3"] == [date(2026, 1, 21)]
    assert garage["dsn-moins-de-50"][:2] == [date(2026, 1, 15), date(2026, 2, 16)]
    assert garage["taxe-apprentissage-solde-moins-de-50"] == [date(2026, 5, 15)]
    assert garage["cfe-acompte"] == [date(2026, 6, 15)]
    assert "tva-ca12" not in garage


def test_the_demo_has_threads_with_replies_and_an_attachment(demo):
    with demo.session() as s:
        bakery = company(s, "Boulangerie Martin")
        associe = load_principal(s, find_user(s, "associe"))
        lines = threads.thread_lines(s, associe, bakery)
        assert [line.thread.subject for line in lines] == ["Rendez-vous de fin d'année",
                                                           "Bilan 2025 : pièces manquantes"]
        assert [line.messages for line in lines] == [1, 3]
        attached = s.scalars(select(MessageDocument).where(MessageDocument.attached)).one()
        node = s.get(Node, attached.node_id)
        assert store.location_of(s, node).path == \
            "Boulangerie Martin/Achats/Facture électricité décembre.pdf"
        garage = company(s, "Garage Dupont")
        assert [line.messages for line in threads.thread_lines(s, associe, garage)] == [2]
        assert threads.unread_counts(s, load_principal(s, find_user(s, "martin"))) == {
            bakery.id: 2}  # he read the thread he answered, up to his answer


def test_the_demo_calendar_has_a_firm_event_a_note_a_comment_and_an_alert(demo):
    with demo.session() as s:
        sides = sorted(e.side for e in s.scalars(select(CalendarEvent)))
        assert sides == ["cabinet", "entreprise"]
        assert len(s.scalars(select(DeadlineComment)).all()) == 1
        [alert] = s.scalars(select(CalendarAlert)).all()
        assert alert.user_id == find_user(s, "martin").id and alert.mailed_at is None
