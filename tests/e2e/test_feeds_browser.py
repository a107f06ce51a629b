"""A person creates a feed token on the profile page, copies its addresses from "Flux et
agenda", a real reader uses them, then the token is revoked (issue 20) — in Chromium against
a real server."""

from __future__ import annotations

import urllib.error
import urllib.request

import feedparser
import pytest
from icalendar import Calendar

pytestmark = pytest.mark.e2e


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_create_copy_use_and_revoke_a_token(live_server, browser_page, browser_sign_in):
    page = browser_page
    browser_sign_in(page, live_server, "assistant")
    page.goto(live_server.base_url + "/profil")
    tokens = page.locator("#jetons tbody tr")
    assert tokens.count() == 1  # the demo's own token
    # The demo token's addresses are on "Flux et agenda" from the first start.
    page.get_by_role("link", name="Voir les adresses et comment s'abonner (Flux et agenda)") \
        .click()
    assert page.get_by_role("heading", name="Jeton « Démonstration »").is_visible()
    assert page.locator("input[id^='rss-']").count() == 1
    page.goto(live_server.base_url + "/profil")
    page.get_by_label("Nom du nouveau jeton").fill("Thunderbird <bureau>")
    page.get_by_role("button", name="Créer un jeton").click()
    page.wait_for_url("**/profil/flux#jeton-*")
    assert "Copiez ces adresses maintenant" in page.content()
    section = page.locator("section", has=page.get_by_role(
        "heading", name="Jeton « Thunderbird <bureau> »"))
    rss = section.locator("input[id^='rss-']").input_value()
    ics = section.locator("input[id^='ics-']").input_value()
    webcal = section.locator("input[id^='webcal-']").input_value()
    assert rss.startswith(live_server.base_url + "/feeds/") and rss.endswith("/rss")
    assert webcal == "webcal://" + ics.split("://", 1)[1]
    from playwright.sync_api import expect

    section.locator("button[data-copy^='rss-']").click()
    expect(section.locator("button[data-copy^='rss-']")).to_have_text("Copié")
    status, body = fetch(rss)
    assert status == 200 and not feedparser.parse(body).bozo
    status, body = fetch(ics)
    assert status == 200 and Calendar.from_ical(body).walk("VEVENT")
    # Shown once: on the next visit only the demo token's addresses are there.
    page.reload()
    assert section.locator("input[id^='rss-']").count() == 0
    assert "renouvelez" in section.inner_text()
    # Revoked from the profile page: the reader's next fetch is refused.
    page.goto(live_server.base_url + "/profil")
    row = page.locator("#jetons tbody tr", has_text="Thunderbird <bureau>")
    assert "jamais" not in row.inner_text()  # its last use is shown
    row.get_by_role("button", name="Révoquer").click()
    assert "révoqué" in page.locator(".flash").inner_text()
    assert page.locator("#jetons tbody tr", has_text="Thunderbird <bureau>").count() == 0
    assert fetch(rss)[0] == 404
    assert fetch(ics)[0] == 404
