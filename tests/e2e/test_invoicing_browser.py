"""The invoicing space in a real browser against a real `liasse serve` over the demo world,
as a new user goes through it: the settings (logo, colour), a customer and an article, a
quote typed with the editor's script (an article filled from its reference, live totals),
the invoice made from it, its Factur-X PDF, its filing for the accountant, and what the firm
then sees. Then the same editor with JavaScript off: the server fills and adds up.

The tests share the module's server (`world`): each reads the numbers it expects from the
pages (the next after those already listed), never from the order the tests run in."""

from __future__ import annotations

import io
import re

import pytest

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
CUSTOMER = "Traiteur Lumière"
CUSTOMER_SIREN = "443061841"  # valid by Luhn (stdnum.fr.siren)
LOGO_SIZE = (150, 60)  # not the demo's logo's (240 x 120): the page shows ours
NUMBER = r"\d{4}-\d{4}"


def money(text: str) -> re.Pattern:
    """The exact amount `text` ("1 234,21 €"), whatever spaces the page puts in it (a narrow
    no-break space between thousands, a no-break space before the euro sign)."""
    return re.compile("^" + r"\s".join(re.escape(part) for part in text.split()) + "$")


def whole(pattern: str) -> re.Pattern:
    return re.compile("^" + pattern + "$")


def logo_png() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", LOGO_SIZE, "white")
    ImageDraw.Draw(image).rectangle((5, 5, 55, 55), fill="#aa3300")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def open_invoicing(page) -> None:
    page.get_by_role("navigation", name="Navigation principale").get_by_role(
        "link", name="Facturation", exact=True).click()
    page.wait_for_url("**/facturation/")


def section(page, name: str) -> None:
    """A link of the invoicing space's own navigation."""
    page.get_by_role("navigation", name="Facturation").get_by_role(
        "link", name=name, exact=True).click()


def listed_numbers(page, prefix: str) -> list[str]:
    """The numbers starting with `prefix` ("F-", "D-") in the list of documents."""
    page.get_by_role("navigation", name="Facturation").get_by_role(
        "link", name="Devis et factures").click()
    page.wait_for_url("**/facturation/")
    texts = page.locator("#documents tbody tr td:first-child a").all_inner_texts()
    return [t.strip() for t in texts if re.fullmatch(re.escape(prefix) + NUMBER, t.strip())]


def check_next(number: str, before: list[str]) -> None:
    """`number` comes right after the numbers of its year listed before it was issued."""
    stem, sequence = number.rsplit("-", 1)
    same_year = [int(n.rsplit("-", 1)[1]) for n in before if n.startswith(stem + "-")]
    assert int(sequence) == max(same_year, default=0) + 1, (number, before)


def status(page):
    return page.get_by_role("status")


def line(page, label: str, row: int = 1):
    return page.get_by_label(f"{label}, ligne {row}", exact=True)


def issued_number(page, kind: str, prefix: str, *, feminine: bool) -> str:
    """Click "Enregistrer et émettre" and read the number the document was given."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Enregistrer et émettre").click()
    flash, ending = status(page), "émise" if feminine else "émis"
    expect(flash).to_have_text(whole(f"{kind} {prefix}{NUMBER} {ending}\\."))
    number = re.search(prefix + NUMBER, flash.inner_text())[0]
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{kind} {number}")
    return number


def test_a_quote_becomes_an_invoice_filed_for_the_accountant(world, browser_page,
                                                              browser_sign_in, tmp_path):
    from facturx import get_facturx_xml_from_pdf
    from playwright.sync_api import expect

    server, page, sign_in = world.server, browser_page, browser_sign_in
    # 1. martin opens his invoicing space from the navigation
    sign_in(page, server, "martin")
    open_invoicing(page)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Facturation — {BAKERY}")
    invoices_before = listed_numbers(page, "F-")
    quotes_before = listed_numbers(page, "D-")
    assert invoices_before and quotes_before  # the demo's

    # 2. settings: his logo, then his colour
    section(page, "Paramètres")
    expect(page.get_by_role("heading", level=1)).to_have_text("Paramètres de facturation")
    logo = tmp_path / "logo.png"
    logo.write_bytes(logo_png())
    page.get_by_label("Image PNG ou JPEG").set_input_files(logo)
    page.get_by_role("button", name="Enregistrer le logo").click()
    expect(status(page)).to_have_text("Logo enregistré : il figure sur vos documents.")
    shown = page.get_by_role("img", name="Logo actuel")
    expect(shown).to_be_visible()
    assert page.request.get(server.base_url + "/facturation/logo").body() == \
        logo.read_bytes()  # stored; and the page shows it, not the one it replaced:
    assert shown.evaluate("img => [img.naturalWidth, img.naturalHeight]") == list(LOGO_SIZE)
    page.get_by_label("Couleur principale").fill("#aa3300")
    page.get_by_role("button", name="Enregistrer les paramètres").click()
    expect(status(page)).to_have_text("Paramètres de facturation enregistrés.")
    expect(page.get_by_label("Couleur principale")).to_have_value("#aa3300")

    # 3. a customer and an article
    section(page, "Clients")
    page.get_by_role("link", name="Nouveau client").click()
    page.get_by_label("Nom ou raison sociale").fill(CUSTOMER)
    page.get_by_label("Type", exact=True).select_option(label="Professionnel")
    page.get_by_label("SIREN ou SIRET (professionnel)").fill(CUSTOMER_SIREN)
    billing = page.get_by_role("group", name="Adresse de facturation")
    billing.get_by_label("Adresse", exact=True).fill("5 rue de la Lumière")
    billing.get_by_label("Code postal").fill("69008")
    billing.get_by_label("Ville").fill("Lyon")
    page.get_by_role("button", name="Enregistrer le client").click()
    expect(status(page)).to_have_text(f"Client « {CUSTOMER} » enregistré.")
    expect(page.get_by_role("row").filter(has_text=CUSTOMER)).to_contain_text(
        CUSTOMER_SIREN)

    section(page, "Articles")
    page.get_by_role("link", name="Nouvel article").click()
    page.get_by_label("Référence", exact=True).fill("TARTE")
    page.get_by_label("Désignation").fill("Tarte aux pommes")
    page.get_by_label("Unité").select_option("pièce")
    page.get_by_label("Prix unitaire HT (€)").fill("18,50")
    page.get_by_label("Taux de TVA (%)").select_option("5,5")
    page.get_by_label("Nature").select_option(label="Bien")
    page.get_by_role("button", name="Enregistrer l'article").click()
    expect(status(page)).to_have_text("Article « TARTE » enregistré.")
    expect(page.get_by_role("row").filter(has_text="TARTE")).to_contain_text(
        "Tarte aux pommes")

    # 4. a quote, typed with the page's script
    section(page, "Devis et factures")
    page.get_by_role("button", name="Nouveau devis").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Devis — brouillon")
    expect(page.locator(f'#customer-names option[value="{CUSTOMER}"]')).to_have_count(1)
    page.get_by_label("Client", exact=True).press_sequentially(CUSTOMER)
    line(page, "Référence").press_sequentially("TARTE")
    line(page, "Référence").press("Tab")  # leaving the field fills the line
    expect(line(page, "Désignation")).to_have_value("Tarte aux pommes")
    expect(line(page, "Prix unitaire HT")).to_have_value(re.compile(r"^18,50?$"))
    expect(line(page, "Taux de TVA")).to_have_value("5,5")
    expect(line(page, "Unité")).to_have_value("pièce")
    expect(line(page, "Nature")).to_have_value("bien")
    expect(line(page, "Quantité")).to_have_value("1")
    expect(page.locator("#total-ttc")).to_have_text(money("19,52 €"))
    line(page, "Quantité").fill("12")
    expect(page.locator("#total-ht")).to_have_text(money("222,00 €"))
    expect(page.locator("#total-vat")).to_have_text(money("12,21 €"))
    expect(page.locator("#total-ttc")).to_have_text(money("234,21 €"))
    expect(page.locator("tr.line").first.locator(".net")).to_have_text(money("222,00 €"))
    preview = page.request.get(server.base_url + page.get_by_role(
        "link", name="Aperçu PDF").get_attribute("href"))
    assert preview.ok and preview.headers["content-type"] == "application/pdf"
    assert preview.body().startswith(b"%PDF")
    quote = issued_number(page, "Devis", "D-", feminine=False)
    check_next(quote, quotes_before)
    summary = page.get_by_role("region", name="Résumé")
    expect(summary).to_contain_text(CUSTOMER)
    expect(summary.locator("dt:text-is('Total TTC') + dd")).to_have_text(money("234,21 €"))

    # 5. the invoice made from it
    page.get_by_role("button", name="Transformer en facture").click()
    expect(status(page)).to_have_text(
        "Facture créée à partir du devis : vérifiez-la puis émettez-la.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Facture — brouillon")
    expect(page.get_by_text(f"D'après le devis {quote}.")).to_be_visible()
    expect(page.get_by_label("Client", exact=True)).to_have_value(CUSTOMER)
    expect(line(page, "Désignation")).to_have_value("Tarte aux pommes")
    expect(page.locator("#total-ttc")).to_have_text(money("234,21 €"))
    invoice = issued_number(page, "Facture", "F-", feminine=True)
    check_next(invoice, invoices_before)
    summary = page.get_by_role("region", name="Résumé")
    expect(summary.get_by_role("link", name=quote, exact=True)).to_be_visible()
    expect(summary.locator("#left-to-pay")).to_have_text(money("234,21 €"))

    # 6. its PDF, a Factur-X
    with page.expect_download() as started:
        page.get_by_role("link", name="Télécharger le PDF (Factur-X)").click()
    download = started.value
    file_name = f"Facture {invoice} - {CUSTOMER}.pdf"
    assert download.suggested_filename == file_name
    with open(download.path(), "rb") as body:
        data = body.read()
    assert data.startswith(b"%PDF")
    _xml_name, xml = get_facturx_xml_from_pdf(data)
    assert invoice.encode() in xml
    assert CUSTOMER.encode() in xml and CUSTOMER_SIREN.encode() in xml
    assert b"234.21" in xml
    page.get_by_role("link", name="Version imprimable").click()
    expect(page.locator(".sheet .number")).to_have_text(invoice)
    expect(page.locator(".sheet")).to_contain_text(CUSTOMER)
    assert page.evaluate("getComputedStyle(document.documentElement)"
                         ".getPropertyValue('--colour').trim()") == "#aa3300"
    page.get_by_role("link", name="← Retour").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Facture {invoice}")

    # 7. to the accountant, once
    page.get_by_role("button", name="Envoyer au comptable").click()
    expect(status(page)).to_have_text(whole(
        f"Envoyé au comptable : « .*{re.escape(file_name)} »\\."))
    expect(page.get_by_role("region", name="Résumé")).to_contain_text(
        "Envoyé au comptable")
    page.get_by_role("button", name="Déjà envoyé au comptable").click()
    expect(status(page)).to_have_text(whole(
        r"Déjà envoyé au comptable le \d\d/\d\d/\d{4} à \d\d:\d\d( \(UTC\))? : "
        r"rien n'a été déposé une seconde fois\."))

    # 8. the firm finds it in the company's sales folder, and nothing else of it
    page.get_by_role("button", name="Se déconnecter (martin)").click()
    page.wait_for_url("**/connexion")
    sign_in(page, server, "expert")
    nav = page.get_by_role("navigation", name="Navigation principale")
    expect(nav.get_by_role("link", name="Facturation")).to_have_count(0)
    nav.get_by_role("link", name="Documents", exact=True).click()
    page.get_by_role("link", name=BAKERY, exact=True).click()
    page.get_by_role("link", name="Ventes", exact=True).click()
    page.wait_for_url("**/Ventes")
    filed = page.get_by_role("link", name=file_name, exact=True)
    expect(filed).to_have_count(1)
    expect(page.get_by_role("row").filter(has=filed)).to_contain_text("Jean Martin")
    filed.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(file_name)
    receipt = page.get_by_role("region", name="Accusé de réception")
    expect(receipt.locator("dt:text-is('Déposé par') + dd")).to_have_text("Jean Martin")
    expect(page.get_by_text("Aucune version précédente.")).to_be_visible()

    reply = page.goto(server.base_url + "/facturation/")
    assert reply is not None and reply.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable.")


def test_without_javascript_the_server_adds_up_and_issues(world, chromium, browser_sign_in):
    from playwright.sync_api import expect

    server, sign_in = world.server, browser_sign_in
    context = chromium.new_context(java_script_enabled=False, locale="fr-FR",
                                   viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        sign_in(page, server, "martin")
        open_invoicing(page)
        invoices_before = listed_numbers(page, "F-")
        page.get_by_role("button", name="Nouvelle facture").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Facture — brouillon")
        page.get_by_label("Client", exact=True).fill("Café des Arts")
        line(page, "Désignation").fill("Croissants au beurre")
        line(page, "Quantité").fill("40")
        line(page, "Prix unitaire HT").fill("1,20")
        line(page, "Taux de TVA").select_option("5,5")
        line(page, "Nature").select_option("bien")
        # only an article's reference: the server fills the line from it
        line(page, "Référence", 2).fill("BAG")
        line(page, "Quantité", 2).fill("20")
        expect(page.locator("#total-ttc")).to_have_text(money("0,00 €"))  # nothing adds up
        page.get_by_role("button", name="Enregistrer le brouillon").click()
        expect(status(page)).to_have_text("Brouillon enregistré.")
        expect(line(page, "Désignation", 2)).to_have_value("Baguette tradition")
        expect(line(page, "Prix unitaire HT", 2)).to_have_value("1,1")
        # 40 x 1,20 + 20 x 1,10 = 70,00 HT at 5,5 %
        expect(page.locator("#total-ht")).to_have_text(money("70,00 €"))
        expect(page.locator("#total-vat")).to_have_text(money("3,85 €"))
        expect(page.locator("#total-ttc")).to_have_text(money("73,85 €"))
        invoice = issued_number(page, "Facture", "F-", feminine=True)
        check_next(invoice, invoices_before)
        expect(page.get_by_role("region", name="Résumé").locator(
            "dt:text-is('Total TTC') + dd")).to_have_text(money("73,85 €"))
    finally:
        context.close()
