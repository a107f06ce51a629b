"""Documents in a real browser against a real `liasse serve`: deposit by drag-and-drop, then
download a selection as a zip."""

from __future__ import annotations

import zipfile

import pytest


def open_folder(page, folder: str) -> None:
    page.get_by_role("link", name="Mes documents").click()
    page.get_by_role("link", name=folder, exact=True).click()
    page.wait_for_url(f"**/{folder}")


@pytest.mark.e2e
def test_secretaire_drops_a_file_and_sees_it_listed(live_server, browser_page,
                                                    browser_sign_in):
    from playwright.sync_api import expect

    page = browser_page
    browser_sign_in(page, live_server, "secretaire")
    open_folder(page, "Achats")
    zone = page.locator("[data-dropzone]")
    expect(zone).to_contain_text("Glissez vos fichiers ici")
    # What a file manager does on a drop: dragenter/dragover, then drop with the files.
    zone.evaluate("""zone => {
        const files = new DataTransfer();
        files.items.add(new File(["Bon de livraison n° 42"], "Bon de livraison.txt",
                                 {type: "text/plain"}));
        for (const type of ["dragenter", "dragover", "drop"]) {
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: files, bubbles: true,
                                                    cancelable: true}));
        }
    }""")
    expect(page.get_by_role("status").filter(
        has_text="Document déposé : Bon de livraison.txt.")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Bon de livraison.txt")
    expect(row).to_contain_text("Sophie Secrétaire")
    expect(row).to_contain_text("23 octets")  # "°" is two bytes
    # usable on a phone: the listing fits the width, nothing scrolls sideways. The row is in the
    # DOM of the page the upload redirected to before its stylesheet applies: wait for it.
    page.wait_for_load_state("load")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.e2e
def test_download_a_zip_of_two_documents(live_server, browser_page, browser_sign_in):
    from playwright.sync_api import expect

    page = browser_page
    browser_sign_in(page, live_server, "secretaire")
    open_folder(page, "Ventes")
    page.get_by_label("Glissez vos fichiers ici, ou choisissez-les :").set_input_files([
        {"name": "Facture 001.txt", "mimeType": "text/plain", "buffer": b"facture un"},
        {"name": "Facture 002.txt", "mimeType": "text/plain", "buffer": b"facture deux"},
    ])
    page.get_by_role("button", name="Déposer", exact=True).click()
    expect(page.get_by_role("status").filter(
        has_text="2 documents déposés : Facture 001.txt, Facture 002.txt.")).to_be_visible()
    page.get_by_label("Sélectionner « Facture 001.txt »").check()
    page.get_by_label("Sélectionner « Facture 002.txt »").check()
    with page.expect_download() as started:
        page.get_by_role("button", name="Télécharger la sélection (zip)").click()
    download = started.value
    assert download.suggested_filename == "Ventes.zip"
    with zipfile.ZipFile(download.path()) as archive:
        assert sorted(archive.namelist()) == ["Facture 001.txt", "Facture 002.txt"]
        assert archive.read("Facture 002.txt") == b"facture deux"
