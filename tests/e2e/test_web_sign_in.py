"""The web app in a real browser: sign in, the dashboard, refusals."""

from __future__ import annotations

import pytest


@pytest.mark.e2e
def test_expert_signs_in_and_finds_boulangerie_martin(live_server, browser_page,
                                                      browser_sign_in):
    page = browser_page
    browser_sign_in(page, live_server, "expert")
    assert page.get_by_role("heading", name="Tableau de bord").is_visible()
    row = page.get_by_role("row").filter(has_text="Boulangerie Martin")
    assert "732829320" in row.inner_text()
    page.get_by_label("Rechercher une entreprise (nom ou SIREN)").fill("5521")
    page.get_by_role("button", name="Rechercher").click()
    assert page.get_by_role("row").filter(has_text="Garage Dupont").count() == 1
    assert page.get_by_role("row").filter(has_text="Boulangerie Martin").count() == 0


@pytest.mark.e2e
def test_wrong_password_is_refused_with_a_sentence(live_server, browser_page):
    page = browser_page
    page.goto(live_server.base_url + "/connexion")
    page.get_by_label("Identifiant").fill("expert")
    page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    page.get_by_role("button", name="Se connecter").click()
    assert page.get_by_role("alert").inner_text() == \
        "Identifiant ou mot de passe incorrect (ou compte désactivé)."
    assert page.get_by_label("Identifiant").input_value() == "expert"  # kept as typed


@pytest.mark.e2e
def test_company_user_sees_own_company(live_server, browser_page, browser_sign_in):
    page = browser_page
    browser_sign_in(page, live_server, "martin")
    assert page.get_by_role("heading", name="Boulangerie Martin").is_visible()
    assert "Garage Dupont" not in page.content()
