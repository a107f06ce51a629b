"""The documents pages of the web app, through Flask's test client on the demo world.

What a user notices: what is listed or answers 404, what a download or a zip holds, the
receipt and versions shown, the sentence next to a refused field, what lands in the trash.
"""

from __future__ import annotations

import errno
import gc
import io
import os
import re
import zipfile
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlalchemy import select
from support.web import text_of

from acl.db import utcnow
from acl.documents import store
from acl.documents.blobs import BlobWriter, open_store
from acl.documents.models import Download, Node
from acl.people import accounts
from acl.people.models import Company
from acl.rights.models import Level
from config.settings import load_settings
from invoicing_web.app import create_app

BAKERY = "/documents/Boulangerie Martin"


@pytest.fixture
def node_id(demo):
    """`node_id("Achats", "Facture.pdf")`: the id of a live node of Boulangerie Martin."""

    def find(*segments: str, company: str = "Boulangerie Martin") -> int:
        with demo.session() as s:
            found = s.scalars(select(Company).where(Company.folder_name == company)).one()
            location = store.resolve(s, found, list(segments))
            assert location is not None, segments
            return location.node.id

    return find


def listed_names(page: str) -> list[str]:
    """The names in the listing, in order (the checkboxes' labels)."""
    return re.findall(r"Sélectionner « (.+?) »", page)


# --- rights -------------------------------------------------------------------------------

def test_secretaire_sees_her_folders_and_fiscalite_is_404(visit, node_id):
    secretaire = visit("secretaire")
    root = secretaire.page(BAKERY + "/")
    # in the firm's standard order, not the alphabet's
    assert listed_names(root) == ["Achats", "Ventes", "Banque", "Autres"]
    assert "Fiscalité" not in root
    fiscal_doc = node_id("Fiscalité", "Liasse fiscale 2025.pdf")
    for url in (BAKERY + "/Fiscalité", BAKERY + "/Fiscalité/Liasse fiscale 2025.pdf",
                f"/document/{fiscal_doc}", f"/telecharger/{fiscal_doc}",
                "/documents/Garage Dupont/", "/corbeille/Garage Dupont",
                BAKERY + "/Achats/pas là.pdf"):
        assert secretaire.get(url).status_code == 404, url
    # a zip or a move naming it is refused the same way
    answer = secretaire.post(f"/dossier/{node_id('Achats')}/zip", {"item": [str(fiscal_doc)]})
    assert answer.status_code == 404


def test_firm_staff_see_their_companies_and_company_users_go_to_theirs(visit):
    expert_page = visit("expert").page("/documents")
    assert "Boulangerie Martin" in expert_page and "Garage Dupont" in expert_page
    assistant_page = visit("assistant").page("/documents")
    assert "Boulangerie Martin" in assistant_page and "Garage Dupont" not in assistant_page
    answer = visit("martin").get("/documents")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(quote("/documents/Boulangerie Martin/"))


def test_read_only_folder_shows_no_deposit_and_refuses_one(demo, visit, node_id, ctx_of):
    with demo.transaction() as s:
        ctx = ctx_of("martin", s)
        bakery = s.scalars(select(Company).where(Company.siren == "732829320")).one()
        accounts.grant(s, ctx, accounts.find_user(s, "secretaire"), bakery, "Fiscalité",
                       Level.READ)
    secretaire = visit("secretaire")
    page = secretaire.page(BAKERY + "/Fiscalité")
    assert "Liasse fiscale 2025.pdf" in page
    assert "Déposer des documents" not in page
    answer = secretaire.upload(node_id("Fiscalité"), ("note.txt", b"x"))
    assert answer.status_code == 403
    assert "Vous n'avez qu'un droit de lecture sur « Fiscalité »." in text_of(answer)
    assert "note.txt" not in secretaire.page(BAKERY + "/Fiscalité")


def test_listing_hides_helper_files_and_shows_the_receipt_columns(demo, settings, visit,
                                                                  node_id):
    blobs = open_store(settings)
    sha, size = blobs.put_bytes(b"finder")
    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.siren == "732829320")).one()
        banque = store.resolve(s, bakery, ["Banque"])
        for name in (".DS_Store", "._Relevé.csv", "Thumbs.db", "~$Budget.xlsx"):
            store.store_body(s, banque, name, sha, size, None)
    page = visit("martin").page(BAKERY + "/Banque")
    assert listed_names(page) == ["Relevé octobre 2026.csv"]
    row = page[page.index("Relevé octobre 2026.csv"):]
    assert "Sophie Secrétaire" in row  # deposited by
    for heading in ("Taille", "Déposé par", "Déposé le", "Réceptionné par", "Réceptionné le",
                    "Téléchargements"):
        assert f'<th scope="col">{heading}</th>' in page


def test_folders_come_first(visit, node_id):
    expert = visit("expert")
    achats = node_id("Achats")
    assert expert.post(f"/dossier/{achats}/creer", {"name": "Zèbre"}).status_code == 303
    assert expert.post(f"/dossier/{achats}/creer", {"name": "abricots"}).status_code == 303
    page = expert.page(BAKERY + "/Achats")
    assert listed_names(page) == ["abricots", "Zèbre", "Facture Moulin Giraud octobre.pdf",
                                  "Facture Moulins Réunis MR-2291.pdf",  # demo_invoicing's
                                  "Facture électricité décembre.pdf"]  # demo_messaging's


# --- deposits ---------------------------------------------------------------------------------

TOO_BIG = str(2**63)  # no id column holds it: the database would fail, not find nothing


def test_ids_no_database_can_hold_are_no_page_not_a_server_error(visit, node_id):
    martin = visit("martin")
    invoice = node_id("Achats", "Facture Moulin Giraud octobre.pdf")
    for url in (f"/document/{TOO_BIG}", f"/telecharger/{TOO_BIG}",
                f"/telecharger/{invoice}/version/{TOO_BIG}"):
        assert martin.get(url).status_code == 404, url
    assert martin.post(f"/element/{TOO_BIG}/renommer", {"name": "x.pdf"}).status_code == 404
    for destination in (TOO_BIG, "\u00b2", "-1"):  # "²".isdigit() is true
        moved = martin.post(f"/element/{invoice}/deplacer", {"destination": destination})
        assert moved.status_code == 400, destination
    zipped = martin.post(f"/dossier/{node_id('Achats')}/zip", {"item": [TOO_BIG, "\u00b2"]})
    assert zipped.status_code == 400
    assert martin.get(f"/entreprise?id={TOO_BIG}").status_code == 302  # back home
    assert node_id("Achats", "Facture Moulin Giraud octobre.pdf") == invoice  # not moved


def test_upload_several_then_overwrite_keeps_the_previous_version(visit, node_id):
    secretaire = visit("secretaire")
    achats = node_id("Achats")
    answer = secretaire.upload(achats, ("Facture A.pdf", b"premier contenu"),
                               ("Ticket été.txt", b"ticket"), follow_redirects=True)
    assert answer.status_code == 200
    page = text_of(answer)
    assert "2 documents déposés : Facture A.pdf, Ticket été.txt." in page
    assert {"Facture A.pdf", "Ticket été.txt"} <= set(listed_names(page))

    secretaire.upload(achats, ("Facture A.pdf", b"second contenu, plus long"))
    doc = node_id("Achats", "Facture A.pdf")
    detail = secretaire.page(BAKERY + "/Achats/Facture A.pdf")
    assert "Versions précédentes" in detail and "Aucune version précédente" not in detail
    version_link = re.search(rf'href="(/telecharger/{doc}/version/\d+)"', detail).group(1)
    old = secretaire.get(version_link, buffered=True)
    assert old.data == b"premier contenu"
    current = secretaire.get(f"/telecharger/{doc}", buffered=True)
    assert current.data == b"second contenu, plus long"
    assert current.headers["Content-Disposition"] == (
        "attachment; filename=\"Facture A.pdf\"; filename*=UTF-8''Facture%20A.pdf")
    ticket = secretaire.get(f"/telecharger/{node_id('Achats', 'Ticket été.txt')}",
                            buffered=True)
    assert ticket.headers["Content-Disposition"] == (
        "attachment; filename=\"Ticket ete.txt\"; filename*=UTF-8''Ticket%20%C3%A9t%C3%A9.txt")
    # the listing still shows one "Facture A.pdf"
    assert listed_names(secretaire.page(BAKERY + "/Achats")).count("Facture A.pdf") == 1


def test_upload_with_javascript_gets_json(visit, node_id):
    secretaire = visit("secretaire")
    answer = secretaire.upload(node_id("Ventes"), ("Devis.pdf", b"devis"),
                               headers={"Accept": "application/json"})
    assert answer.status_code == 200
    assert answer.json["message"] == "Document déposé : Devis.pdf."
    assert answer.json["redirect"] == quote(BAKERY + "/Ventes")
    refused = secretaire.upload(node_id("Ventes"), ("a:b.pdf", b"x"),
                                headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert refused.json["error"].startswith("Nom refusé : le caractère : n'est pas accepté")


def test_upload_of_a_name_windows_refuses_says_why(visit, node_id):
    secretaire = visit("secretaire")
    answer = secretaire.upload(node_id("Achats"), ("ok.pdf", b"x"), ("CON.txt", b"y"))
    assert answer.status_code == 400
    page = text_of(answer)
    assert "« CON » est un nom réservé par Windows" in page
    assert "ok.pdf" not in listed_names(page)  # nothing of the batch was kept


# werkzeug's form parser leaves the in-memory spool of the cut-off part to the garbage
# collector, which says so (a ResourceWarning of tempfile.SpooledTemporaryFile): nothing leaks.
@pytest.mark.filterwarnings("ignore:Exception ignored in. <function SpooledTemporaryFile"
                            ":pytest.PytestUnraisableExceptionWarning")
def test_an_upload_cut_off_by_the_client_stores_nothing(demo, settings, visit, node_id):
    """The browser's connection drops while the form is sent: the body is shorter than its
    announced length. Nothing is filed, no body or temporary file is left."""
    blobs_root = settings.data_dir / "blobs"
    before = {p for p in blobs_root.rglob("*") if p.is_file()}
    secretaire = visit("secretaire")
    body = ("--frontiere\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n"
            f"{secretaire.token}\r\n--frontiere\r\nContent-Disposition: form-data; "
            'name="files"; filename="Coupé.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
            ).encode() + b"%PDF-1.4 " + b"x" * 5000
    stream = io.BytesIO(body)
    try:
        answer = secretaire.client.post(
            f"/dossier/{node_id('Achats')}/deposer", input_stream=stream,
            content_type="multipart/form-data; boundary=frontiere",
            environ_overrides={"CONTENT_LENGTH": str(len(body) + 100_000)})
        assert answer.status_code == 400
        answer.close()
    finally:
        stream.close()
        gc.collect()  # that spool goes now, under this test's filter, not during another test
    with demo.session() as s:
        assert s.scalars(select(Node).where(Node.name == "Coupé.pdf")).first() is None
    assert {p for p in blobs_root.rglob("*") if p.is_file()} == before


def test_over_quota_says_so_and_stores_nothing(demo, settings, visit, node_id):
    blobs_root = settings.data_dir / "blobs"
    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.siren == "732829320")).one()
        bakery.quota_bytes = store.used_bytes(s, bakery.id) + 100
    before = {p for p in blobs_root.rglob("*") if p.is_file()}
    secretaire = visit("secretaire")
    answer = secretaire.upload(node_id("Achats"), ("petit.txt", b"a" * 60),
                               ("gros.pdf", b"b" * 60))
    assert answer.status_code == 507
    page = text_of(answer)
    assert "Espace de l'entreprise épuisé" in page and "Rien n'a été déposé." in page
    assert not {"petit.txt", "gros.pdf"} & set(listed_names(page))
    assert {p for p in blobs_root.rglob("*") if p.is_file()} == before  # no body, no temp
    json_answer = secretaire.upload(node_id("Achats"), ("gros.pdf", b"b" * 200),
                                    headers={"Accept": "application/json"})
    assert json_answer.status_code == 507
    assert "quota" in json_answer.json["error"]
    # within the quota it goes through
    assert secretaire.upload(node_id("Achats"), ("petit.txt", b"a" * 60)).status_code == 303


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_a_full_disk_says_so_and_stores_nothing(settings, visit, node_id, monkeypatch,
                                                 failing):
    blobs_root = settings.data_dir / "blobs"
    before = {p for p in blobs_root.rglob("*") if p.is_file()}
    secretaire = visit("secretaire")

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if failing == "fsync":  # a body synced before it is named (WRITEBACK bytes or more)
        monkeypatch.setattr("acl.documents.blobs.WRITEBACK", 4)
        monkeypatch.setattr("acl.documents.blobs.os.fsync", full)
    else:
        monkeypatch.setattr(BlobWriter, "write", full)
    answer = secretaire.upload(node_id("Achats"), ("plein.pdf", b"%PDF-1.4 plein"))
    assert answer.status_code == 507
    page = text_of(answer)
    assert "Le serveur n'a plus d'espace disque libre. Rien n'a été déposé." in page
    assert "plein.pdf" not in listed_names(page)
    assert {p for p in blobs_root.rglob("*") if p.is_file()} == before  # no body, no temp
    monkeypatch.undo()
    assert secretaire.upload(node_id("Achats"), ("plein.pdf", b"%PDF-1.4")).status_code == 303


def test_too_large_says_so(demo, settings_file, visit, node_id):
    small = load_settings(settings_file(drive={"max_upload_mib": 1}))
    secretaire = visit("secretaire", on=create_app(small, demo, secure_cookies=False))
    answer = secretaire.upload(node_id("Achats"), ("scan.pdf", b"x" * (2**20 + 1)))
    assert answer.status_code == 413
    page = text_of(answer)
    assert "« scan.pdf » est trop volumineux : 1 Mio au plus par document." in page
    assert "scan.pdf" not in listed_names(page)


def test_missing_or_forged_csrf_token_is_refused(visit, node_id):
    secretaire = visit("secretaire")
    url = f"/dossier/{node_id('Achats')}/deposer"
    for token in ("", "forged"):
        answer = secretaire.post(
            url, {"csrf_token": token, "files": [(io.BytesIO(b"x"), "csrf.txt")]},
            content_type="multipart/form-data")
        assert answer.status_code == 400
        assert "Jeton de sécurité absent ou invalide" in text_of(answer)
    answer = secretaire.client.post(f"/dossier/{node_id('Achats')}/creer", data={"name": "X"})
    assert answer.status_code == 400
    assert "csrf.txt" not in secretaire.page(BAKERY + "/Achats")


# --- downloads and receipts ---------------------------------------------------------------

def test_download_by_the_other_side_marks_the_receipt(demo, visit, node_id):
    releve = node_id("Banque", "Relevé octobre 2026.csv")  # deposited by secretaire
    martin = visit("martin")
    assert martin.get(f"/telecharger/{releve}", buffered=True).status_code == 200
    page = martin.page(BAKERY + "/Banque/Relevé octobre 2026.csv")
    assert "Pas encore réceptionné" in page  # same side: no receipt
    expert = visit("expert")
    body = expert.get(f"/telecharger/{releve}", buffered=True)
    assert body.data.startswith(b"date;libell")
    page = expert.page(BAKERY + "/Banque/Relevé octobre 2026.csv")
    receipt = page[page.index("Accusé de réception"):page.index("Historique")]
    assert "Réceptionné par</dt><dd>Élise Expert" in receipt
    assert "Téléchargements</dt><dd>2" in receipt
    history = page[page.index("Historique"):page.index("Versions précédentes")]
    assert history.count("complet") == 2
    assert "Jean Martin" in history and "Élise Expert" in history


def test_an_interrupted_download_is_no_receipt(demo, visit, node_id):
    visit("martin").upload(node_id("Banque"), ("Grand livre.csv", b"x" * (3 * 2**20)))
    ledger = node_id("Banque", "Grand livre.csv")
    answer = visit("expert").get(f"/telecharger/{ledger}")
    assert answer.headers["Content-Length"] == str(3 * 2**20)
    next(iter(answer.response))  # the first block only, then the client goes away
    answer.close()
    with demo.session() as s:
        node = s.get(Node, ledger)
        assert node.received_at is None and node.download_count == 0
        assert s.execute(select(Download.complete, Download.bytes_sent).where(
            Download.node_id == ledger)).all() == [(False, 2**20)]


def test_by_id_redirects_to_where_the_document_is(visit, node_id):
    doc = node_id("Achats", "Facture Moulin Giraud octobre.pdf")
    answer = visit("martin").get(f"/document/{doc}")
    assert answer.status_code == 302
    assert answer.headers["Location"] == quote(
        BAKERY + "/Achats/Facture Moulin Giraud octobre.pdf")


def test_zip_keeps_the_structure_and_holds_only_what_may_be_read(demo, visit, node_id):
    secretaire = visit("secretaire")
    achats = node_id("Achats")
    secretaire.post(f"/dossier/{achats}/creer", {"name": "2026"})
    secretaire.upload(node_id("Achats", "2026"), ("a.txt", b"alpha"))
    secretaire.post(f"/dossier/{node_id('Achats', '2026')}/creer", {"name": "vide"})
    root = node_id()
    answer = secretaire.post(f"/dossier/{root}/zip",
                             {"item": [str(achats), str(node_id("Banque"))]}, buffered=True)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/zip"
    assert "filename*=UTF-8''Boulangerie%20Martin.zip" in answer.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.data)) as archive:
        assert sorted(archive.namelist()) == [
            "Achats/", "Achats/2026/", "Achats/2026/a.txt", "Achats/2026/vide/",
            "Achats/Facture Moulin Giraud octobre.pdf",
            "Achats/Facture Moulins Réunis MR-2291.pdf",
            "Achats/Facture électricité décembre.pdf", "Banque/",
            "Banque/Relevé octobre 2026.csv"]
        assert archive.read("Achats/2026/a.txt") == b"alpha"
        assert archive.read("Achats/Facture Moulin Giraud octobre.pdf").startswith(b"%PDF")
    with demo.session() as s:
        assert s.get(Node, node_id("Achats", "2026", "a.txt")).download_count == 1
        assert s.get(Node, node_id("Banque", "Relevé octobre 2026.csv")).download_count == 1
    nothing = secretaire.post(f"/dossier/{root}/zip", {})
    assert nothing.status_code == 400
    assert "Cochez au moins un document ou un dossier." in text_of(nothing)


def test_zip_of_a_folder_leaves_out_helper_files(demo, settings, visit, node_id):
    blobs = open_store(settings)
    sha, size = blobs.put_bytes(b"finder")
    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.siren == "732829320")).one()
        store.store_body(s, store.resolve(s, bakery, ["Banque"]), ".DS_Store", sha,
                             size, None)
    answer = visit("martin").post(f"/dossier/{node_id()}/zip",
                                  {"item": [str(node_id("Banque"))]}, buffered=True)
    with zipfile.ZipFile(io.BytesIO(answer.data)) as archive:
        assert archive.namelist() == ["Banque/", "Banque/Relevé octobre 2026.csv"]


# --- organising ---------------------------------------------------------------------------

def test_create_rename_move_delete_restore(visit, node_id):
    secretaire = visit("secretaire")
    achats = node_id("Achats")
    answer = secretaire.post(f"/dossier/{achats}/creer", {"name": "Fournisseurs"},
                             follow_redirects=True)
    assert "Dossier « Fournisseurs » créé." in text_of(answer)
    folder = node_id("Achats", "Fournisseurs")

    answer = secretaire.post(f"/element/{folder}/renommer", {"name": "Fournis<seurs"})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Nom refusé : le caractère &lt; n&#39;est pas accepté par Windows." in page
    assert 'value="Fournis&lt;seurs"' in page  # kept as typed

    answer = secretaire.post(f"/element/{folder}/renommer", {"name": "Meuniers"},
                             follow_redirects=True)
    assert "« Fournisseurs » renommé en « Meuniers »." in text_of(answer)
    assert "Meuniers" in listed_names(secretaire.page(BAKERY + "/Achats"))
    folder = node_id("Achats", "Meuniers")

    invoice = node_id("Achats", "Facture Moulin Giraud octobre.pdf")
    answer = secretaire.post(f"/element/{invoice}/deplacer", {"destination": str(folder)},
                             follow_redirects=True)
    assert answer.request.path == BAKERY + "/Achats/Meuniers/Facture Moulin Giraud octobre.pdf"
    assert listed_names(secretaire.page(BAKERY + "/Achats/Meuniers")) == [
        "Facture Moulin Giraud octobre.pdf"]

    answer = secretaire.post(f"/element/{folder}/supprimer", follow_redirects=True)
    assert "« Meuniers » a été mis à la corbeille." in text_of(answer)
    assert "Meuniers" not in listed_names(text_of(answer))
    assert secretaire.get(f"/document/{invoice}").status_code == 404  # in the trash with it

    trash = secretaire.page("/corbeille/Boulangerie Martin")
    assert "Meuniers" in trash
    answer = secretaire.post(f"/corbeille/Boulangerie Martin/restaurer/{folder}",
                             follow_redirects=True)
    assert "Restauré : Achats/Meuniers." in text_of(answer)
    assert "La corbeille est vide." in text_of(answer)
    assert listed_names(secretaire.page(BAKERY + "/Achats/Meuniers")) == [
        "Facture Moulin Giraud octobre.pdf"]


def test_selection_move_and_delete_with_errors_next_to_the_field(visit, node_id):
    secretaire = visit("secretaire")
    achats = node_id("Achats")
    secretaire.upload(achats, ("a.txt", b"a"), ("b.txt", b"b"))
    a, b = node_id("Achats", "a.txt"), node_id("Achats", "b.txt")
    answer = secretaire.post(f"/dossier/{achats}/deplacer", {"item": [str(a), str(b)]})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Choisissez le dossier de destination." in page
    assert f'value="{a}" id="sel-{a}" checked' in page  # the selection is kept

    # a name already in the destination: nothing moves
    secretaire.upload(node_id("Ventes"), ("b.txt", b"autre"))
    ventes = node_id("Ventes")
    answer = secretaire.post(f"/dossier/{achats}/deplacer",
                             {"item": [str(a), str(b)], "destination": str(ventes)})
    assert answer.status_code == 400
    assert "« b.txt » existe déjà dans « Ventes »." in text_of(answer)
    assert f'<option value="{ventes}" selected>' in answer.get_data(as_text=True)
    assert {"a.txt", "b.txt"} <= set(listed_names(secretaire.page(BAKERY + "/Achats")))

    answer = secretaire.post(f"/dossier/{achats}/deplacer",
                             {"item": [str(a)], "destination": str(ventes)},
                             follow_redirects=True)
    assert "1 élément déplacé dans « Boulangerie Martin/Ventes »." in text_of(answer)
    answer = secretaire.post(f"/dossier/{achats}/supprimer", {"item": [str(b)]},
                             follow_redirects=True)
    assert "Mis à la corbeille : b.txt." in text_of(answer)
    assert not {"a.txt", "b.txt"} & set(listed_names(text_of(answer)))


def test_destinations_are_the_writable_folders(visit, node_id):
    page = visit("secretaire").page(BAKERY + "/Achats/Facture Moulin Giraud octobre.pdf")
    options = re.findall(r'<option value="\d+">([^<]+)</option>', page)
    assert options == ["Ventes", "Banque", "Autres"]  # the firm's order


def test_standard_folders_cannot_be_renamed_moved_or_deleted(visit, node_id):
    expert = visit("expert")
    achats = node_id("Achats")
    assert "Gérer ce dossier" not in expert.page(BAKERY + "/Achats")
    answer = expert.post(f"/element/{achats}/renommer", {"name": "Achats 2026"})
    assert answer.status_code == 403
    assert "Les dossiers standard ne peuvent être ni renommés, ni déplacés, ni supprimés." \
        in text_of(answer)
    assert expert.post(f"/element/{achats}/supprimer").status_code == 403
    assert expert.post(f"/element/{achats}/deplacer",
                       {"destination": str(node_id("Ventes"))}).status_code == 403
    assert "Achats" in listed_names(expert.page(BAKERY + "/"))


def test_a_folder_cannot_move_into_itself(visit, node_id):
    expert = visit("expert")
    expert.post(f"/dossier/{node_id('Achats')}/creer", {"name": "Haut"})
    expert.post(f"/dossier/{node_id('Achats', 'Haut')}/creer", {"name": "Bas"})
    answer = expert.post(f"/element/{node_id('Achats', 'Haut')}/deplacer",
                         {"destination": str(node_id("Achats", "Haut", "Bas"))})
    assert answer.status_code == 403  # as on the drive (RFC 4918 §9.9.4; issue 14)
    assert "« Haut » ne peut pas être déplacé dans lui-même." in text_of(answer)


def test_protected_documents_keep_their_folder(demo, visit, node_id):
    expert = visit("expert")
    achats = node_id("Achats")
    expert.post(f"/dossier/{achats}/creer", {"name": "Ancien"})
    expert.upload(node_id("Achats", "Ancien"), ("vieux.pdf", b"vieux"))
    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.siren == "732829320")).one()
        bakery.protection_date = (utcnow() + timedelta(days=1)).date()
    answer = expert.post(f"/element/{node_id('Achats', 'Ancien')}/supprimer")
    assert answer.status_code == 403
    assert "antérieur à la date de protection" in text_of(answer)
    assert "Ancien" in listed_names(expert.page(BAKERY + "/Achats"))
    # The pages say why the actions are not there.
    closed = f"{bakery.protection_date - timedelta(days=1):%d/%m/%Y}"
    document = expert.page(BAKERY + "/Achats/Ancien/vieux.pdf")
    assert f"Lecture seule — exercice clos au {closed} : ce document est antérieur" in document
    assert "Mettre à la corbeille" not in document
    folder = expert.page(BAKERY + "/Achats/Ancien")
    assert f"Lecture seule — exercice clos au {closed} : ce dossier contient" in folder
    assert "exercice clos" not in expert.page(BAKERY + "/Achats")  # a standard folder


def test_trash_shows_only_what_the_user_may_restore(demo, visit, node_id):
    expert = visit("expert")
    fiscal = node_id("Fiscalité", "Liasse fiscale 2025.pdf")
    expert.post(f"/element/{fiscal}/supprimer")
    assert "Liasse fiscale 2025.pdf" in expert.page("/corbeille/Boulangerie Martin")
    secretaire = visit("secretaire")
    assert "Liasse fiscale 2025.pdf" not in secretaire.page("/corbeille/Boulangerie Martin")
    answer = secretaire.post(f"/corbeille/Boulangerie Martin/restaurer/{fiscal}")
    assert answer.status_code == 404
    with demo.session() as s:
        assert s.get(Node, fiscal).deleted_at is not None


# --- escaping and the mount page -----------------------------------------------------------

def test_hostile_names_are_shown_as_text(demo, settings, visit):
    blobs = open_store(settings)
    sha, size = blobs.put_bytes(b"%PDF-1.4 hostile")
    name = "<script>alert(1)</script>.pdf"
    with demo.transaction() as s:  # the drive refuses "<": only the database holds it
        bakery = s.scalars(select(Company).where(Company.siren == "732829320")).one()
        martin = accounts.find_user(s, "martin")
        achats = store.resolve(s, bakery, ["Achats"])
        node = store.store_body(s, achats, name, sha, size, martin.id)
        node_id = node.id
    expert = visit("expert")
    listing = expert.get(BAKERY + "/Achats").get_data(as_text=True)
    detail = expert.get(f"/document/{node_id}").get_data(as_text=True)  # its link
    assert f'href="/document/{node_id}">&lt;script&gt;' in listing
    for raw in (listing, detail):
        assert "<script>alert(1)</script>" not in raw
        assert "&lt;script&gt;alert(1)&lt;/script&gt;.pdf" in raw
    assert "Accusé de réception" in detail
    download = expert.get(f"/telecharger/{node_id}", buffered=True)
    assert download.headers["Content-Disposition"] == (
        "attachment; filename=\"_script_alert(1)__script_.pdf\"; "
        "filename*=UTF-8''%3Cscript%3Ealert%281%29%3C%2Fscript%3E.pdf")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    expert.post(f"/element/{node_id}/supprimer")
    raw = expert.get("/corbeille/Boulangerie Martin").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.pdf" in raw


def test_typed_text_is_escaped_when_kept(visit, node_id):
    answer = visit("expert").post(f"/dossier/{node_id('Achats')}/creer",
                                  {"name": '"><img src=x onerror=alert(1)>'})
    raw = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "<img src=x" not in raw
    assert 'value="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in raw


def test_mount_page_gives_the_drive_url_and_davmount_links(visit):
    page = visit("assistant").page("/monter-le-lecteur")
    assert "http://localhost/dav/" in page
    assert 'href="http://localhost/dav/Boulangerie%20Martin/?davmount"' in page
    assert "Garage Dupont" not in page
    for system in ("Windows", "macOS", "Linux"):
        assert f"{system}" in page
    assert "net use L: http://localhost/dav/ /user:assistant *" in page
    # Plain HTTP: the firm is told what to do, its clients whom to ask.
    assert "Demandez l'adresse HTTPS" not in page
    assert "Publiez Liasse en HTTPS" in page
    client = visit("martin").page("/monter-le-lecteur")
    assert "Demandez l'adresse HTTPS à votre cabinet." in client
    assert "Publiez Liasse" not in client


def test_standard_folders_keep_the_firms_order_then_the_rest_by_name(visit, node_id):
    expert = visit("expert")
    root = listed_names(expert.page(BAKERY + "/"))
    assert root == ["Achats", "Ventes", "Banque", "Fiscalité", "Social", "Juridique",
                    "Autres"]
    achats = node_id("Achats")
    for name in ("b", "A", "c"):
        assert expert.post(f"/dossier/{achats}/creer", {"name": name}).status_code == 303
    listed = listed_names(expert.page(BAKERY + "/Achats"))
    assert listed[:3] == ["A", "b", "c"] and listed[3:] == sorted(listed[3:], key=str.casefold)
    # the destinations offered for a move follow the same order
    page = expert.page(BAKERY + "/Achats/Facture Moulin Giraud octobre.pdf")
    options = re.findall(r'<option value="\d+">([^<]+)</option>', page)
    tops = [o for o in options if o.count("/") == 0]
    assert tops == ["Ventes", "Banque", "Fiscalité", "Social", "Juridique", "Autres"], options


def test_the_download_history_names_the_software(visit, node_id):
    expert = visit("expert")
    doc = node_id("Achats", "Facture Moulin Giraud octobre.pdf")
    firefox = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 "
               "Firefox/128.0")
    expert.get(f"/telecharger/{doc}", headers={"User-Agent": firefox}, buffered=True).close()
    page = expert.page(BAKERY + "/Achats/Facture Moulin Giraud octobre.pdf")
    assert re.search(r'class="client" title="Mozilla/5.0 \(Windows[^"]*">Firefox sur '
                     r"Windows</td>", page)


def test_the_site_has_an_icon(visit, app):
    page = visit("martin").page("/tableau-de-bord")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    anonymous = app.test_client()
    assert anonymous.get("/favicon.ico").headers["Location"].endswith("/static/favicon.svg")
    icon = anonymous.get("/static/favicon.svg", buffered=True)
    icon.close()
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data().startswith(b"<svg")

