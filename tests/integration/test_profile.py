"""The profile page of every user: name, alerts, and an e-mail address or a password
changed only once the code mailed for it is typed back (seed 002); without an SMTP server
the page says the mail waits in the outbox, and never claims it was sent."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from support.web import text_of

from acl.db import utcnow
from acl.events.models import OutboxMessage
from acl.people import profile
from acl.people.models import User
from acl.rights.audit import Context
from acl.rights.models import AuditEntry
from acl.rights.principals import load_principal
from config.settings import load_settings
from invoicing_web.app import create_app

NEW_PASSWORD = "un-nouveau-mot-de-passe-solide"


def user(demo, login: str) -> User:
    with demo.session() as s:
        return s.scalars(select(User).where(User.login == login)).one()


def last_mail(demo, recipient: str) -> OutboxMessage:
    with demo.session() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)
                         .order_by(OutboxMessage.id.desc())).first()


def code_in(mail: OutboxMessage) -> str:
    return re.search(r"^\s+(\d{6})$", mail.text_body, re.M).group(1)


def test_name_and_alerts(demo, visit):
    martin = visit("martin")
    page = martin.page("/profil")
    assert "Mon profil" in page and 'href="/profil"' in page  # in the navigation too
    saved = martin.post("/profil/nom", {"display_name": "  Jean   Martin-Dubois "})
    assert saved.status_code == 302
    assert "Nom enregistré : Jean Martin-Dubois." in martin.page("/profil")
    assert user(demo, "martin").display_name == "Jean Martin-Dubois"
    empty = martin.post("/profil/nom", {"display_name": "  "})
    assert empty.status_code == 400 and "Le nom affiché est obligatoire." in text_of(empty)

    assert user(demo, "martin").alert_mode == "digest"
    assert martin.post("/profil/alertes", {"alert_mode": "off"}).status_code == 302
    assert user(demo, "martin").alert_mode == "off"
    assert "Alertes : aucune alerte." in martin.page("/profil")
    wrong = martin.post("/profil/alertes", {"alert_mode": "toujours"})
    assert wrong.status_code == 400 and user(demo, "martin").alert_mode == "off"


def test_a_new_address_is_taken_once_its_code_is_typed_back(demo, visit):
    martin = visit("martin")
    before = user(demo, "martin").email
    asked = martin.post("/profil/adresse", {"email": "jean@martin-boulangerie.invalid"})
    assert asked.status_code == 302
    page = martin.page("/profil")
    assert ("Un code de confirmation pour jean@martin-boulangerie.invalid attend dans la "
            "file d'envoi : aucun serveur de messagerie n'est configuré") in page
    mail = last_mail(demo, "jean@martin-boulangerie.invalid")
    assert mail.subject == "[Cabinet Démo] Code de confirmation : votre nouvelle adresse e-mail"
    assert "Bonjour Jean Martin," in mail.text_body and "#1f4e79" in mail.html_body
    code = code_in(mail)
    assert user(demo, "martin").email == before  # nothing changes without the code

    wrong = martin.post("/profil/adresse/code", {"code": "000000" if code != "000000"
                                                 else "111111"})
    assert wrong.status_code == 400
    assert "Code incorrect : encore 4 essais." in text_of(wrong)
    done = martin.post("/profil/adresse/code", {"code": f" {code[:3]} {code[3:]} "})
    assert done.status_code == 302
    assert user(demo, "martin").email == "jean@martin-boulangerie.invalid"
    assert "Adresse e-mail changée : jean@martin-boulangerie.invalid." in martin.page("/profil")
    again = martin.post("/profil/adresse/code", {"code": code})  # used once
    assert again.status_code == 404 and "Aucune demande en attente" in text_of(again)


def test_an_address_of_another_account_or_a_broken_one_is_refused(demo, visit):
    martin = visit("martin")
    taken = martin.post("/profil/adresse", {"email": user(demo, "dupont").email.upper()})
    assert taken.status_code == 400
    assert "Cette adresse est déjà celle d'un autre compte." in text_of(taken)
    broken = martin.post("/profil/adresse", {"email": "pas une adresse"})
    assert broken.status_code == 400 and "Adresse e-mail invalide" in text_of(broken)
    with demo.session() as s:
        assert s.scalar(select(OutboxMessage.id).where(
            OutboxMessage.subject.contains("Code de confirmation"))) is None


def test_five_wrong_codes_cancel_the_request(demo, visit):
    martin = visit("martin")
    martin.post("/profil/adresse", {"email": "jean@martin-boulangerie.invalid"})
    code = code_in(last_mail(demo, "jean@martin-boulangerie.invalid"))
    wrong = "999999" if code != "999999" else "888888"
    answers = [text_of(martin.post("/profil/adresse/code", {"code": wrong}))
               for _ in range(profile.MAX_TRIES)]
    assert "encore 1 essai." in answers[-2]
    assert "la demande est annulée, recommencez." in answers[-1]
    late = martin.post("/profil/adresse/code", {"code": code})  # the right one, too late
    assert late.status_code == 404
    assert user(demo, "martin").email != "jean@martin-boulangerie.invalid"


def test_a_code_expires(demo):
    with demo.transaction() as s:
        martin = s.scalars(select(User).where(User.login == "martin")).one()
        code = profile.request_email(s, Context(load_principal(s, martin)), martin,
                                     "jean@martin-boulangerie.invalid")
    later = utcnow() + timedelta(minutes=profile.CODE_MINUTES, seconds=1)
    with demo.transaction() as s, pytest.raises(Exception, match="expiré"):
        martin = s.scalars(select(User).where(User.login == "martin")).one()
        profile.confirm(s, Context(load_principal(s, martin)), martin, profile.EMAIL, code,
                        now=later)


def test_a_new_password_counts_once_the_mailed_code_is_typed_back(demo, visit, app,
                                                                  demo_password):
    martin = visit("martin")
    other_browser = visit("martin")
    refused = martin.post("/profil/mot-de-passe", {
        "old_password": "pas le bon", "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert refused.status_code == 400 and "L'ancien mot de passe est incorrect." in \
        text_of(refused)
    asked = martin.post("/profil/mot-de-passe", {
        "old_password": demo_password, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert asked.status_code == 302
    address = user(demo, "martin").email
    mail = last_mail(demo, address)
    assert "le changement de votre mot de passe" in mail.subject
    assert NEW_PASSWORD not in mail.text_body
    visit("martin")  # the old password still opens the account until the code is typed
    done = martin.post("/profil/mot-de-passe/code", {"code": code_in(mail)})
    assert done.status_code == 302
    assert "Mot de passe changé" in martin.page("/profil")  # this browser stays in
    assert other_browser.get("/profil").status_code == 302  # the other one is closed
    with pytest.raises(AssertionError):
        visit("martin")  # the old password no longer signs in
    with demo.session() as s:
        assert s.scalar(select(AuditEntry.id).where(
            AuditEntry.action == "user.password_change",
            AuditEntry.actor_login == "martin")) is not None


def test_without_an_address_the_password_changes_at_once(demo, visit, demo_password):
    with demo.transaction() as s:
        s.scalars(select(User).where(User.login == "secretaire")).one().email = None
    secretaire = visit("secretaire")
    assert "Sans adresse e-mail, le mot de passe change dès l'enregistrement." in \
        secretaire.page("/profil")
    done = secretaire.post("/profil/mot-de-passe", {
        "old_password": demo_password, "password": NEW_PASSWORD, "confirmation": NEW_PASSWORD})
    assert done.status_code == 302
    assert "Mot de passe changé" in secretaire.page("/profil")


def test_the_old_password_page_is_only_for_the_initial_password(visit):
    martin = visit("martin")
    moved = martin.get("/mot-de-passe")
    assert moved.status_code == 303 and moved.headers["Location"].endswith(
        "/profil#mot-de-passe")


def test_with_an_smtp_server_the_page_says_sent(demo, settings_file, visit):
    app = create_app(load_settings(settings_file(smtp={"host": "127.0.0.1", "port": 2525})),
                     demo, secure_cookies=False)
    martin = visit("martin", on=app)
    martin.post("/profil/adresse", {"email": "jean@martin-boulangerie.invalid"})
    assert "Un code de confirmation envoyé à jean@martin-boulangerie.invalid." in \
        martin.page("/profil")
