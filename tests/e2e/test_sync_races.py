"""Issue 21, a change online between the tool's listing and its upload, made to happen
deterministically: a relay between `liasse sync` and a real `liasse serve` (SQLite and
PostgreSQL) makes the change itself, through the server, just before relaying the upload.
Uploads are conditional (If-Match / If-None-Match: *): the online change is never
overwritten; both versions are kept and the report says so."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.sync import Relay, run_sync, tree_of

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
INVOICE = "Facture Moulin Giraud octobre.pdf"


@pytest.fixture
def local(tmp_path) -> Path:
    folder = tmp_path / "cabinet"
    folder.mkdir()
    return folder


def change_online_before_upload(live_server, dav, name: str, body: bytes):
    """A relay hook: before the tool's PUT of `name` is relayed, `martin` PUTs `body` there
    (once)."""
    done: list[int] = []

    def before(method: str, path: str) -> None:
        if method == "PUT" and path.endswith(f"/Achats/{name}") and not done:
            done.append(dav("PUT", live_server.dav(BAKERY, "Achats", name), body).status)

    return before, done


def conflict_copies(local: Path, stem: str) -> list[Path]:
    return sorted((local / BAKERY / "Achats").glob(f"{stem} (conflit *"))


def test_a_document_changed_online_while_its_local_change_is_sent_is_not_overwritten(
        live_server, local, client):
    martin = client(live_server, "martin")
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    mine = local / BAKERY / "Achats" / INVOICE
    mine.write_bytes(b"%PDF-1.4 version corrigee au cabinet\n")
    past = time.time() - 60
    os.utime(mine, (past, past))
    theirs = b"%PDF-1.4 version deposee par le client pendant la synchronisation\n"
    before, done = change_online_before_upload(live_server, martin, INVOICE, theirs)
    with Relay(live_server.base_url, before=before) as relay:
        result = run_sync(relay.url, local, password=live_server.password)
        puts = [status for method, status in relay.seen if method == "PUT"]
    assert done == [204]  # the client's change went in first
    assert puts == [412]  # the tool's upload was refused, not applied
    assert result.code == 0, result.report
    # Online: the client's version, untouched.
    assert martin("GET", live_server.dav(BAKERY, "Achats", INVOICE)).body == theirs
    # Locally: the online version under the name, the firm's beside it.
    assert mine.read_bytes() == theirs
    [copy] = conflict_copies(local, "Facture Moulin Giraud octobre")
    assert copy.read_bytes() == b"%PDF-1.4 version corrigee au cabinet\n"
    assert "Conflits (modifiés des deux côtés) : les deux versions sont gardées (1)" in \
        result.report
    assert f"{BAKERY}/Achats/{INVOICE} (modifié en ligne pendant l'envoi)" in result.report
    # Settled: the next run has nothing to do, and sends the conflict copy nowhere.
    again = run_sync(live_server.base_url, local, password=live_server.password)
    assert again.code == 0 and "Totaux : 0 téléchargé(s), 0 envoyé(s)" in again.report
    assert martin("GET", live_server.dav(BAKERY, "Achats", INVOICE)).body == theirs


def test_a_new_local_document_does_not_replace_one_of_that_name_made_online_meanwhile(
        live_server, local, client):
    martin = client(live_server, "martin")
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    mine = local / BAKERY / "Achats" / "Devis.pdf"
    mine.write_bytes(b"devis du cabinet\n")
    past = time.time() - 60
    os.utime(mine, (past, past))
    theirs = b"devis du client, depose pendant la synchronisation\n"
    before, done = change_online_before_upload(live_server, martin, "Devis.pdf", theirs)
    with Relay(live_server.base_url, before=before) as relay:
        result = run_sync(relay.url, local, password=live_server.password)
        puts = [status for method, status in relay.seen if method == "PUT"]
    assert done == [201] and puts == [412]
    assert result.code == 0, result.report
    assert martin("GET", live_server.dav(BAKERY, "Achats", "Devis.pdf")).body == theirs
    assert mine.read_bytes() == theirs
    [copy] = conflict_copies(local, "Devis")
    assert copy.read_bytes() == b"devis du cabinet\n"
    assert f"{BAKERY}/Achats/Devis.pdf (modifié en ligne pendant l'envoi)" in result.report


def test_the_same_content_made_online_meanwhile_is_agreed_not_a_conflict(live_server, local,
                                                                          client):
    martin = client(live_server, "martin")
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    body = b"le meme contenu des deux cotes\n"
    mine = local / BAKERY / "Achats" / "Relevé.pdf"
    mine.write_bytes(body)
    past = time.time() - 60
    os.utime(mine, (past, past))
    before, done = change_online_before_upload(live_server, martin, "Relevé.pdf", body)
    with Relay(live_server.base_url, before=before) as relay:
        result = run_sync(relay.url, local, password=live_server.password)
    assert done == [201]
    assert result.code == 0, result.report
    assert "conflit" not in " ".join(tree_of(local))
    assert "Conflits" not in result.report
    again = run_sync(live_server.base_url, local, password=live_server.password)
    assert "Totaux : 0 téléchargé(s), 0 envoyé(s)" in again.report
