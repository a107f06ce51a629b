"""The rights matrix, several cells at once, in Chromium with JavaScript (issue 16, item 5;
seed 004): the interlocuteur ticks a whole column, unticks one of its cells, Maj+clicks a
range, gives one right to all of them at once, and the drive shows it to the user."""

from __future__ import annotations

import pytest
from e2e.test_web_grant_drive import BAKERY, drive_listing, open_matrix

pytestmark = pytest.mark.e2e


def test_martin_gives_several_cells_at_once(live_server, browser_page, browser_sign_in):
    page = browser_page
    assert "Fiscalité" not in drive_listing(live_server, "secretaire", BAKERY)
    browser_sign_in(page, live_server, "martin")
    open_matrix(page, BAKERY)
    count = page.locator("#pick-count")
    # A whole column ticks its cell (one utilisateur in this company).
    page.get_by_label("toute la colonne Fiscalité").check()
    assert page.get_by_label("Sélectionner secretaire — Fiscalité").is_checked()
    assert count.inner_text() == "1 case cochée"
    page.get_by_label("toute la colonne Fiscalité").uncheck()
    assert count.inner_text() == ""
    # A click on Fiscalité, Maj+clic on Juridique: Social between them is ticked too.
    page.get_by_label("Sélectionner secretaire — Fiscalité").click()
    page.get_by_label("Sélectionner secretaire — Juridique").click(modifiers=["Shift"])
    for folder in ("Fiscalité", "Social", "Juridique"):
        assert page.get_by_label(f"Sélectionner secretaire — {folder}").is_checked(), folder
    assert count.inner_text() == "3 cases cochées"
    # A cell unticked after its column was ticked stays out (the column's box is not sent).
    page.get_by_label("toute la colonne Social").check()
    page.get_by_label("Sélectionner secretaire — Social").uncheck()
    assert count.inner_text() == "2 cases cochées"
    page.get_by_label("Donner le droit").select_option("lecture")
    page.get_by_role("button", name="Appliquer aux cases cochées").click()
    page.get_by_role("status").filter(has_text="2 cases en « lecture ».").wait_for()
    assert page.get_by_label("secretaire — Fiscalité", exact=True).input_value() == "lecture"
    assert page.get_by_label("secretaire — Juridique", exact=True).input_value() == "lecture"
    assert page.get_by_label("secretaire — Social", exact=True).input_value() == "aucun"
    assert drive_listing(live_server, "secretaire", BAKERY) == [
        "Achats", "Autres", "Banque", "Fiscalité", "Juridique", "Ventes"]
    # A whole row, then "aucun": the user sees no folder any more.
    page.get_by_label("toute la ligne secretaire").check()
    assert count.inner_text() == "7 cases cochées"
    page.get_by_label("Donner le droit").select_option("aucun")
    page.get_by_role("button", name="Appliquer aux cases cochées").click()
    page.get_by_role("status").filter(has_text="7 cases en « aucun ».").wait_for()
    assert drive_listing(live_server, "secretaire", BAKERY) == []
