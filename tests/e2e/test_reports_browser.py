"""The firm's reports in a real browser against a real `liasse serve` over the demo world
(issue 18, "Done when"): signed in as `expert`, Boulangerie Martin's reports are refused
until `martin` opens his invoicing from "Accès du cabinet"; then they are one click from the
client list, with the chart, the VAT register and its PDF; refused again once he takes the
access back."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"


def test_consent_then_reports_then_revoke(live_server, chromium, browser_page,
                                          browser_sign_in):
    from playwright.sync_api import expect

    server, expert = live_server, browser_page
    context = chromium.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    martin = context.new_page()
    martin.set_default_timeout(20_000)
    try:
        browser_sign_in(martin, server, "martin")
        martin.get_by_role("navigation", name="Navigation principale").get_by_role(
            "link", name="Facturation", exact=True).click()
        martin.get_by_role("navigation", name="Facturation").get_by_role(
            "link", name="Rapports", exact=True).click()
        martin.wait_for_url("**/rapports/revenus")
        reports_url = martin.url.split("?")[0]
        expect(martin.get_by_role("heading", level=1)).to_have_text(
            f"Liste des revenus — {BAKERY}")

        browser_sign_in(expert, server, "expert")
        row = expert.get_by_role("row").filter(has_text=BAKERY)
        expect(row).to_contain_text("non ouverts au cabinet")
        assert expert.goto(reports_url).status == 404

        martin.goto(server.base_url + "/facturation/acces-cabinet")
        expect(martin.get_by_role("heading", level=2)).to_have_text(
            "Votre facturation est privée")
        martin.get_by_role("button", name="Ouvrir ma facturation au cabinet (lecture seule)"
                           ).click()
        expect(martin.get_by_role("heading", level=2)).to_have_text(
            "Le cabinet consulte votre facturation")

        expert.goto(server.base_url + "/tableau-de-bord")
        expert.get_by_role("link", name=f"Rapports de {BAKERY}").click()
        expect(expert.get_by_role("heading", level=1)).to_have_text(
            f"Liste des revenus — {BAKERY}")
        expect(expert.get_by_role("img", name=re.compile("^Revenus et dépenses HT par mois"))
               ).to_be_visible()
        expect(expert.get_by_role("cell", name="Hôtel du Parc").first).to_be_visible()
        expert.get_by_role("navigation", name="Rapports").get_by_role(
            "link", name="Registre de TVA").click()
        expect(expert.get_by_role("heading", level=1)).to_have_text(
            f"Registre de TVA — {BAKERY}")
        expect(expert.get_by_text("TVA sur les encaissements", exact=False)).to_be_visible()
        with expert.expect_download() as download:
            expert.get_by_role("link", name="PDF").click()
        assert download.value.suggested_filename.startswith("Registre de TVA - " + BAKERY)
        with open(download.value.path(), "rb") as handle:
            assert handle.read(5) == b"%PDF-"
        # A bad period is told in words.
        expert.get_by_label("Du (JJ/MM/AAAA)").fill("01/06/2026")
        expert.get_by_label("Au (JJ/MM/AAAA)").fill("01/01/2026")
        expert.get_by_role("button", name="Afficher").click()
        expect(expert.get_by_text("La fin de la période précède son début.")).to_be_visible()

        martin.get_by_role("button", name="Retirer l'accès du cabinet").click()
        expect(martin.get_by_role("heading", level=2)).to_have_text(
            "Votre facturation est privée")
        assert expert.goto(reports_url).status == 404
    finally:
        context.close()
