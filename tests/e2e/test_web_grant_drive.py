"""The issue's "done when", in a real browser against a real server: a right given in the
habilitation matrix appears on the drive (WebDAV) for that user, and vanishes when revoked.

The delegation rules (acl.rights.delegation) let the correspondant (`expert`) and the company's
interlocuteur (`martin`) set a company utilisateur's rights; an associé may not, and the
matrix says why.
"""

from __future__ import annotations

import base64
import urllib.request
import xml.etree.ElementTree as ET
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"


def drive_listing(server, login: str, *segments: str) -> list[str]:
    """The names PROPFIND Depth 1 lists in a drive folder, as `login` sees it."""
    url = server.dav(*segments) + "/"
    token = base64.b64encode(f"{login}:{server.password}".encode()).decode()
    request = urllib.request.Request(url, method="PROPFIND", headers={
        "Depth": "1", "Authorization": f"Basic {token}",
        "Content-Type": "application/xml; charset=utf-8"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 207
        body = reply.read()
    own = unquote(urlsplit(url).path).rstrip("/")
    names = []
    for href in ET.fromstring(body).iter("{DAV:}href"):
        path = unquote(urlsplit(href.text).path).rstrip("/")
        if path != own:
            names.append(path.rsplit("/", 1)[-1])
    return sorted(names)


def sign_out(page) -> None:
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url("**/connexion")


def open_matrix(page, company: str) -> None:
    """From anywhere: Administration → Habilitations → the company (when there is a choice)."""
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Administration").click()
    page.get_by_role("link", name="Habilitations", exact=True).first.click()
    if "/habilitations/" not in page.url:
        page.get_by_role("link", name=company).click()
    page.get_by_role("heading", name=f"Habilitations — {company}").wait_for()
    # The heading can be in the DOM before the stylesheet applies; layout checks need it.
    page.wait_for_load_state("load")


def set_right(page, login: str, folder: str, level: str) -> None:
    page.get_by_label(f"{login} — {folder}", exact=True).select_option(level)
    page.get_by_role("button", name="Enregistrer les droits").click()
    page.get_by_role("status").filter(has_text="1 droit modifié.").wait_for()


def test_expert_grants_fiscalite_to_secretaire_and_martin_revokes_it(
        live_server, browser_page, browser_sign_in):
    page = browser_page
    before = drive_listing(live_server, "secretaire", BAKERY)
    assert before == ["Achats", "Autres", "Banque", "Ventes"]

    # expert finds Boulangerie Martin, then gives secretaire read access to Fiscalité.
    browser_sign_in(page, live_server, "expert")
    page.get_by_label("Rechercher une entreprise (nom ou SIREN)").fill("Boulangerie")
    page.get_by_role("button", name="Rechercher").click()
    assert page.get_by_role("row").filter(has_text=BAKERY).count() == 1
    open_matrix(page, BAKERY)
    assert page.get_by_label("secretaire — Fiscalité", exact=True).input_value() == "aucun"
    set_right(page, "secretaire", "Fiscalité", "lecture")
    assert page.get_by_label("secretaire — Fiscalité", exact=True).input_value() == "lecture"

    assert drive_listing(live_server, "secretaire", BAKERY) == sorted([*before, "Fiscalité"])
    assert drive_listing(live_server, "secretaire", BAKERY, "Fiscalité") == \
        ["Liasse fiscale 2025.pdf"]

    # martin, who manages his company's utilisateurs, revokes it: "aucun".
    sign_out(page)
    browser_sign_in(page, live_server, "martin")
    open_matrix(page, BAKERY)  # his only company: straight to its matrix
    set_right(page, "secretaire", "Fiscalité", "aucun")
    assert drive_listing(live_server, "secretaire", BAKERY) == before


def test_associe_is_told_why_he_cannot_grant_to_secretaire(live_server, browser_page,
                                                           browser_sign_in):
    page = browser_page
    browser_sign_in(page, live_server, "associe")
    open_matrix(page, BAKERY)
    row = page.get_by_role("row").filter(has_text="Sophie Secrétaire")
    assert "Un associé administre les assistants et les interlocuteurs de ses entreprises." \
        in row.inner_text()
    assert row.get_by_role("combobox").count() == 0
    assert page.get_by_label("assistant — Fiscalité", exact=True).is_enabled()


def test_matrix_fits_a_phone_and_works_with_the_keyboard(live_server, browser_page,
                                                         browser_sign_in):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    browser_sign_in(page, live_server, "martin")
    open_matrix(page, BAKERY)
    # The wide table scrolls in its own box; the page itself does not overflow.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    cell = page.get_by_label("secretaire — Social", exact=True)
    cell.focus()
    cell.select_option("lecture")
    page.get_by_role("button", name="Enregistrer les droits").focus()
    page.keyboard.press("Enter")
    page.get_by_role("status").filter(has_text="1 droit modifié.").wait_for()
    assert "Social" in drive_listing(live_server, "secretaire", BAKERY)


def test_the_issue_journey_as_a_new_user_would_do_it(live_server, browser_page,
                                                    browser_sign_in):
    """Open the demo, sign in as expert, find Boulangerie Martin, see what martin deposited,
    give secretaire read access to Fiscalité, sign in as secretaire and find it."""
    page = browser_page
    browser_sign_in(page, live_server, "expert")
    page.get_by_role("table").get_by_role("link", name=BAKERY, exact=True).click()  # dashboard
    page.get_by_role("link", name="Achats", exact=True).click()
    row = page.get_by_role("row").filter(has_text="Facture Moulin Giraud octobre.pdf")
    assert "martin" in row.inner_text().lower() or "Jean Martin" in row.inner_text()
    open_matrix(page, BAKERY)
    set_right(page, "secretaire", "Fiscalité", "lecture")
    sign_out(page)

    browser_sign_in(page, live_server, "secretaire")
    page.get_by_role("link", name="Mes documents").click()
    page.get_by_role("link", name="Achats", exact=True).click()
    assert page.get_by_role("button", name="Déposer").count() == 1  # she writes in Achats
    page.go_back()
    page.get_by_role("link", name="Fiscalité", exact=True).click()
    assert page.get_by_role("row").filter(has_text="Liasse fiscale 2025.pdf").count() == 1
    # read only: no upload form in a folder she may only read
    assert page.get_by_role("button", name="Déposer").count() == 0
