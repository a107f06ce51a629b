"""Messaging and the calendar end to end (issue 19): a real `liasse serve`, Chromium, and a
real SMTP server on loopback (aiosmtpd on a free port, tests/e2e/test_mail_alerts.py).

- `expert` writes to Boulangerie Martin and picks `martin`: martin gets the mail and sees the
  thread; `secretaire` (no messaging right) sees nothing of it; martin's reply shows for
  `associe`.
- An alert on tomorrow's deadline is mailed once at 08:00 Paris by the worker, through the
  SMTP server: the test moves the worker's clock (`Worker.tick(now)`), it does not wait.
- With the mail server down, sending a message still works; the mail waits in the outbox.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from e2e.test_mail_alerts import Sink, smtp, smtp_settings, wait_until  # noqa: F401
from sqlalchemy import select
from support import conversations
from support.server import free_port

from acl.calendar import alerts
from acl.calendar.rules import load_rules
from acl.events.models import OutboxMessage
from acl.people.accounts import find_user
from acl.people.models import Company
from acl.rights.principals import load_principal
from config.dates import PARIS
from config.settings import load_settings
from liasse.worker import Worker

pytestmark = pytest.mark.e2e
FAST = {"quiet_delay_seconds": 1, "poll_seconds": 0.2}


def bakery_id(db) -> int:
    with db.session() as s:
        return s.scalars(select(Company.id).where(Company.name == "Boulangerie Martin")).one()


def new_page(chromium):
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def test_expert_to_martin_by_app_and_mail_secretaire_sees_nothing_associe_reads_the_reply(
        serve, smtp, demo, chromium, browser_sign_in):  # noqa: F811
    sink = Sink()
    _, port = smtp.start(sink)
    server = serve(smtp=smtp_settings(port), alerts=FAST)
    bakery = bakery_id(demo)
    contexts = []
    try:
        context, page = new_page(chromium)
        contexts.append(context)
        browser_sign_in(page, server, "expert")
        page.goto(f"{server.base_url}/messagerie/{bakery}")
        page.get_by_label("Objet").fill("Clôture 2026 <b>urgent</b>")
        page.get_by_label("Message").fill("Bonjour,\nmerci d'envoyer le relevé de décembre.")
        page.get_by_label("Jean Martin <martin@demo.invalid>").check()
        page.get_by_role("button", name="Envoyer").click()
        page.wait_for_url(re.compile(r".*/messagerie/\d+/fil/\d+$"))
        thread_url = page.url
        assert page.get_by_role("heading", name="Clôture 2026 <b>urgent</b>").is_visible()

        wait_until(lambda: sink.count() >= 1, "the mail to martin")
        [received] = sink.messages
        assert received.recipients == ("martin@demo.invalid",)
        assert received.mail["Subject"] == \
            "[Cabinet Démo] Boulangerie Martin : Clôture 2026 <b>urgent</b>"
        plain = received.mail.get_body(preferencelist=("plain",)).get_content()
        assert "merci d'envoyer le relevé de décembre." in plain
        assert thread_url.replace(server.base_url, "") in plain

        context, martin = new_page(chromium)
        contexts.append(context)
        browser_sign_in(martin, server, "martin")
        assert martin.locator("#nav-messagerie .badge").is_visible()
        martin.goto(thread_url)
        assert martin.get_by_text("merci d'envoyer le relevé de décembre.").is_visible()
        martin.get_by_label("Message").fill("Envoyé ce matin, dans Banque.")
        martin.get_by_role("button", name="Répondre").click()
        martin.wait_for_url(thread_url)
        assert martin.get_by_role("status").inner_text() == "Réponse envoyée."

        context, secretary = new_page(chromium)
        contexts.append(context)
        browser_sign_in(secretary, server, "secretaire")
        secretary.goto(f"{server.base_url}/messagerie")
        assert "Clôture 2026" not in secretary.content()
        assert "Vous n'avez accès à la messagerie d'aucune entreprise." in \
            secretary.content()
        answer = secretary.goto(thread_url)
        assert answer.status == 404

        context, associe = new_page(chromium)
        contexts.append(context)
        browser_sign_in(associe, server, "associe")
        associe.goto(thread_url)
        assert associe.get_by_text("Envoyé ce matin, dans Banque.").is_visible()
    finally:
        for context in contexts:
            context.close()


def test_with_the_mail_server_down_a_message_is_sent_and_its_mail_waits(
        serve, smtp, demo, chromium, browser_sign_in):  # noqa: F811
    server = serve(smtp=smtp_settings(free_port()), alerts=FAST)  # nothing listens there
    context, page = new_page(chromium)
    try:
        browser_sign_in(page, server, "expert")
        page.goto(f"{server.base_url}/messagerie/{bakery_id(demo)}")
        page.get_by_label("Objet").fill("Serveur de mail en panne")
        page.get_by_label("Message").fill("Ce message part quand même.")
        page.get_by_label("Jean Martin <martin@demo.invalid>").check()
        page.get_by_role("button", name="Envoyer").click()
        page.wait_for_url(re.compile(r".*/fil/\d+$"))
        assert page.get_by_role("status").inner_text() == "Message envoyé."

        def tried() -> bool:
            with demo.session() as s:
                mail = s.scalars(select(OutboxMessage).where(
                    OutboxMessage.subject.like("%Serveur de mail en panne%"))).one()
                return mail.attempts >= 1 and mail.status == "pending"
        wait_until(tried, "a failed attempt, the mail kept for later")
    finally:
        context.close()


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def test_an_alert_on_tomorrows_deadline_is_mailed_once_at_eight_paris(
        settings_file, smtp, demo):  # noqa: F811
    sink = Sink()
    _, port = smtp.start(sink)
    settings = load_settings(settings_file(smtp=smtp_settings(port)))
    rules = load_rules()
    conversations.clear(demo)  # the demo's own alert would fall due before ours
    # The deadline: Boulangerie Martin's CFE balance, 15 December 2026 (a Tuesday).
    with demo.transaction() as s:
        bakery = s.get(Company, bakery_id(demo))
        alerts.set_alert(s, load_principal(s, find_user(s, "martin")), bakery,
                         "cfe-solde:2026-12-15", date(2026, 12, 15), rules,
                         hour=settings.calendar.alert_hour, now=paris(2026, 12, 14, 17))
    workers = []
    try:
        first = Worker(settings, demo, "http://liasse.test")
        workers.append(first)
        first.tick(paris(2026, 12, 15, 7, 59))
        assert sink.count() == 0
        first.tick(paris(2026, 12, 15, 8, 0))
        assert sink.count() == 1
        [received] = sink.messages
        assert received.recipients == ("martin@demo.invalid",)
        assert received.mail["Subject"] == \
            "[Cabinet Démo] Rappel : CFE : paiement du solde le 15/12/2026"
        first.tick(paris(2026, 12, 15, 8, 5))
        first.stop()
        again = Worker(settings, demo, "http://liasse.test")  # a restart
        workers.append(again)
        again.tick(paris(2026, 12, 15, 9) + timedelta(seconds=1))
        assert sink.count() == 1
    finally:
        for worker in workers:
            worker.stop()
