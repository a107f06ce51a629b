"""The issue's journey, as a new cabinet would do it, in Chromium against a real server with
a real SMTP server on loopback: `expert` onboards a company from the Excel template (the
company, its interlocuteur and a utilisateur with her folders), the welcome mail reaches
the utilisateur, she chooses her password from its link, then turns her deposit alerts off
in her profile."""

from __future__ import annotations

import re

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from acl.people.models import User
from tests.e2e.test_mail_alerts import (  # noqa: F401 - `smtp` is a fixture
    FAST_ALERTS,
    Sink,
    plain_and_html,
    smtp,
    smtp_settings,
    wait_until,
)

pytestmark = pytest.mark.e2e

PASSWORD = "mon-mot-de-passe-a-moi-2026"


def onboarding_file(path) -> None:
    book = Workbook()
    companies = book.active
    companies.title = "Entreprises"
    companies.append(["raison_sociale", "siren", "interlocuteur_identifiant",
                      "interlocuteur_nom", "interlocuteur_email"])
    companies.append(["Pharmacie de l'Église", "443061841", "eglise", "Anne Église",
                      "anne@pharmacie.invalid"])
    people = book.create_sheet("Utilisateurs")
    people.append(["identifiant", "nom", "role", "email", "entreprise", "dossiers_ecriture"])
    people.append(["lea", "Léa Préparatrice", "utilisateur", "lea@pharmacie.invalid",
                   "443061841", "Achats, Banque"])
    book.save(path)


def test_onboard_from_the_template_then_welcome_mail_password_and_profile(
        serve, smtp, demo, chromium, browser_sign_in, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    sink = Sink()
    _, port = smtp.start(sink)
    server = serve(smtp=smtp_settings(port), alerts=FAST_ALERTS)
    upload = tmp_path / "nouveau-client.xlsx"
    onboarding_file(upload)

    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        browser_sign_in(page, server, "expert")
        page.get_by_role("navigation", name="Navigation principale").get_by_role(
            "link", name="Administration").click()
        page.get_by_role("link", name="Import", exact=True).first.click()
        page.get_by_label("Fichier Excel (.xlsx) ou CSV").set_input_files(upload)
        page.get_by_role("button", name="Importer").click()
        expect(page.get_by_role("heading", name="Import réussi")).to_be_visible()
        expect(page.get_by_text("Une invitation a été envoyée à chacun")).to_be_visible()
        expect(page.get_by_role("cell", name="lea@pharmacie.invalid")).to_be_visible()
        expect(page.locator("code.secret")).to_have_count(0)  # no password on screen

        # The worker delivers the welcome mails to the SMTP server.
        wait_until(lambda: {r.recipients[0] for r in sink.messages} >= {
            "anne@pharmacie.invalid", "lea@pharmacie.invalid"}, "the two welcome mails")
        mail = next(r.mail for r in sink.messages if r.recipients[0] == "lea@pharmacie.invalid")
        assert mail["Subject"] == "[Cabinet Démo] Votre accès à la plateforme documentaire"
        plain, html = plain_and_html(mail)
        assert plain.startswith("Bonjour Léa Préparatrice,")
        assert "Votre identifiant : lea" in plain
        link = re.search(rf"{re.escape(server.base_url)}/invitation/\S+", plain)[0]
        assert f'href="{link}"' in html

        # Léa, in her own browser, chooses her password from the link.
        context.clear_cookies()
        page.goto(link)
        page.get_by_label("Mot de passe (12 caractères au moins)").fill(PASSWORD)
        page.get_by_label("Confirmation").fill(PASSWORD)
        page.get_by_role("button", name="Enregistrer et entrer").click()
        page.wait_for_url("**/tableau-de-bord")
        expect(page.get_by_role("heading", level=1)).to_have_text("Pharmacie de l'Église")

        # Then she turns her deposit alerts off in her profile.
        page.get_by_role("link", name="Mon profil").click()
        page.get_by_label("Aucune alerte").check()
        page.get_by_role("button", name="Enregistrer les alertes").click()
        expect(page.get_by_role("status").filter(has_text="Alertes : aucune alerte.")) \
            .to_be_visible()
        expect(page.get_by_label("Aucune alerte")).to_be_checked()
        with demo.session() as s:
            lea = s.scalars(select(User).where(User.login == "lea")).one()
            assert lea.alert_mode == "off" and lea.email == "lea@pharmacie.invalid"
    finally:
        context.close()
