"""Issue 21: `liasse sync` mirrors every client tree onto the firm's server, by seed 000's
rules, run as a real process against a real `liasse serve` (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from support.sync import run_sync, tree_of, write_sync_settings

from acl.documents.models import Node
from acl.people import portfolios
from acl.people.models import Company, User

pytestmark = pytest.mark.e2e

BAKERY, GARAGE = "Boulangerie Martin", "Garage Dupont"
STANDARD = ("Achats", "Ventes", "Banque", "Fiscalité", "Social", "Juridique", "Autres")


@pytest.fixture
def local(tmp_path) -> Path:
    folder = tmp_path / "cabinet"
    folder.mkdir()
    return folder


def online_documents(db) -> dict[str, str]:
    """Every live document of every company: "Entreprise/Dossier/nom" -> sha256."""
    with db.session() as session:
        nodes = {n.id: n for n in session.scalars(select(Node).where(Node.deleted_at.is_(None)))}
        companies = {c.id: c.folder_name for c in session.scalars(select(Company))}
    found = {}
    for node in nodes.values():
        if node.kind != "file":
            continue
        names, parent = [node.name], nodes.get(node.parent_id)
        while parent is not None and parent.kind != "root":
            names.append(parent.name)
            parent = nodes.get(parent.parent_id)
        if parent is None:  # below a trashed folder
            continue
        found["/".join([companies[node.company_id], *reversed(names)])] = node.sha256
    return found


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def test_first_run_then_a_deposit_a_deletion_and_a_new_company(live_server, demo, local,
                                                                 client, settings_file):
    """The issue's "done when": the demo as `expert` into an empty folder, then again after
    `martin` deposits a file, deletes another, and a new company is created."""
    first = run_sync(live_server.base_url, local, password=live_server.password)
    assert first.code == 0, first.stdout + first.stderr + first.report
    online = online_documents(demo)
    mirrored = tree_of(local)
    for company in (BAKERY, GARAGE):
        for folder in STANDARD:  # the whole tree, empty folders included
            assert mirrored[f"{company}/{folder}"] is None
    assert {p: sha(b) for p, b in mirrored.items() if b is not None} == online
    # Modification times are the platform's.
    invoice = local / GARAGE / "Ventes" / "Facture 2026-0042.pdf"
    # A download by the tool is the firm's reception: the receipt shows the sync account (the
    # server writes receipts in batches within a fraction of a second: bounded wait).
    for _ in range(100):
        with demo.session() as session:
            node = session.scalar(select(Node).where(Node.name == "Facture 2026-0042.pdf"))
            if node.received_by_id is not None:
                break
        time.sleep(0.1)
    with demo.session() as session:
        node = session.scalar(select(Node).where(Node.name == "Facture 2026-0042.pdf"))
        assert int(invoice.stat().st_mtime) == int(node.modified_at.timestamp())
        receiver = session.get(User, node.received_by_id) if node.received_by_id else None
        assert receiver is not None and receiver.login == "expert"
    # Report and journal say so.
    assert f"== {BAKERY} ==" in first.report and "Téléchargés depuis la plateforme" in \
        first.report
    journal = list((local / ".liasse-sync" / "journal").glob("*.txt"))
    assert len(journal) == 1
    lines = journal[0].read_text(encoding="utf-8").splitlines()[1:]
    assert sorted(line.split("\t")[3] for line in lines) == sorted(online)

    martin = client(live_server, "martin")
    assert martin("PUT", live_server.dav(BAKERY, "Achats", "Facture Minoterie.pdf"),
                  b"%PDF-1.7 minoterie").status == 201
    assert martin("DELETE", live_server.dav(BAKERY, "Banque", "Relevé octobre 2026.csv")
                  ).status == 204
    created = subprocess.run(
        [sys.executable, "-m", "liasse.cli", "--config", str(settings_file()), "company", "add",
         "Fromagerie Léon", "--siren", "542065479", "--interlocuteur", "leon",
         "--interlocuteur-name", "Léon Fromager"], capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr

    second = run_sync(live_server.base_url, local, password=live_server.password)
    assert second.code == 0, second.report
    after = tree_of(local)
    assert after[f"{BAKERY}/Achats/Facture Minoterie.pdf"] == b"%PDF-1.7 minoterie"
    assert f"{BAKERY}/Banque/Relevé octobre 2026.csv" not in after
    assert after[f"{BAKERY}/Banque/supp_Relevé octobre 2026.csv"] == \
        mirrored[f"{BAKERY}/Banque/Relevé octobre 2026.csv"]
    for folder in STANDARD:
        assert after[f"Fromagerie Léon/{folder}"] is None
    assert "supp_Relevé octobre 2026.csv" in second.report
    assert "Facture Minoterie.pdf" in second.report

    # Nothing new: a few requests, nothing done; the supp_ file is never sent back.
    third = run_sync(live_server.base_url, local, password=live_server.password)
    assert third.code == 0, third.report
    assert tree_of(local) == after
    assert "Relevé octobre 2026.csv" not in {p.rsplit("/", 1)[-1] for p in
                                              online_documents(demo)}
    # The tool's own downloads wrote receipts, which moved the bakery's version: the third
    # run read that company again. From then on a run with nothing new is one request.
    fourth = run_sync(live_server.base_url, local, password=live_server.password)
    assert fourth.code == 0 and tree_of(local) == after
    assert requests_of(fourth) == 1, fourth.report


def requests_of(result) -> int:
    return int(result.report.split("Requêtes au serveur : ")[1].split()[0])


def test_local_documents_go_online_but_never_supp_conflict_copies_or_unknown_companies(
        live_server, demo, local):
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    achats = local / BAKERY / "Achats"
    (achats / "Bon de commande.pdf").write_bytes(b"%PDF bon")
    (achats / "Devis 2027").mkdir()
    (achats / "Devis 2027" / "Devis four.pdf").write_bytes(b"%PDF four")
    (achats / "supp_Ancienne facture.pdf").write_bytes(b"%PDF ancienne")
    (achats / "Facture (conflit 2026-01-02 10h30).pdf").write_bytes(b"%PDF conflit")
    (local / "Client inconnu").mkdir()
    (local / "Client inconnu" / "note.txt").write_bytes(b"note")
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 0, result.report
    online = online_documents(demo)
    assert online[f"{BAKERY}/Achats/Bon de commande.pdf"] == sha(b"%PDF bon")
    assert online[f"{BAKERY}/Achats/Devis 2027/Devis four.pdf"] == sha(b"%PDF four")
    assert not [p for p in online if "supp_" in p or "conflit" in p or "inconnu" in p]
    assert "Client inconnu" in result.report and "rien n'est envoyé" in result.report
    # Sent once: the next run has nothing to send.
    again = run_sync(live_server.base_url, local, password=live_server.password)
    assert "0 envoyé(s)" in again.report and again.code == 0


def test_changed_on_both_sides_keeps_both_and_says_so(live_server, demo, local, client):
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    path = local / BAKERY / "Achats" / "Facture Moulin Giraud octobre.pdf"
    path.write_bytes(b"%PDF local edit")
    martin = client(live_server, "martin")
    assert martin("PUT", live_server.dav(BAKERY, "Achats", "Facture Moulin Giraud octobre.pdf"),
                  b"%PDF online edit").status in (200, 204)
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 0, result.report
    assert path.read_bytes() == b"%PDF online edit"
    kept = [p for p in (local / BAKERY / "Achats").iterdir() if "(conflit " in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == b"%PDF local edit"
    assert "Conflits" in result.report and kept[0].name in result.report
    # Online, only the online version: a conflict copy is never sent.
    assert online_documents(demo)[f"{BAKERY}/Achats/Facture Moulin Giraud octobre.pdf"] == \
        sha(b"%PDF online edit")
    assert not [p for p in online_documents(demo) if "conflit" in p]


def test_changed_on_one_side_goes_to_the_other(live_server, demo, local, client):
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    mine = local / BAKERY / "Fiscalité" / "Liasse fiscale 2025.pdf"
    mine.write_bytes(b"%PDF liasse corrigee")
    dupont = client(live_server, "dupont")
    assert dupont("PUT", live_server.dav(GARAGE, "Ventes", "Facture 2026-0042.pdf"),
                  b"%PDF facture v2").status in (200, 204)
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 0, result.report
    assert online_documents(demo)[f"{BAKERY}/Fiscalité/Liasse fiscale 2025.pdf"] == \
        sha(b"%PDF liasse corrigee")
    assert (local / GARAGE / "Ventes" / "Facture 2026-0042.pdf").read_bytes() == \
        b"%PDF facture v2"
    assert not [p for p in tree_of(local) if "conflit" in p]


def test_a_local_deletion_is_not_propagated_and_is_reported(live_server, demo, local):
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    (local / GARAGE / "Ventes" / "Facture 2026-0042.pdf").unlink()
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 0, result.report
    assert f"{GARAGE}/Ventes/Facture 2026-0042.pdf" in online_documents(demo)
    assert "Supprimés localement : PAS supprimés en ligne" in result.report
    assert "Facture 2026-0042.pdf" in result.report
    assert not (local / GARAGE / "Ventes" / "Facture 2026-0042.pdf").exists()


def test_a_company_gone_from_the_platform_stays_as_it_is_locally(live_server, demo, local,
                                                                   ctx_of):
    """Out of the account's reach (here: out of the associé's portfolio) is, for the tool,
    gone from the platform: its folder is never deleted nor renamed locally."""
    assert run_sync(live_server.base_url, local, login="associe",
                    password=live_server.password).code == 0
    before = tree_of(local)
    assert f"{GARAGE}/Ventes/Facture 2026-0042.pdf" in before
    with demo.transaction() as session:
        ctx = ctx_of("expert", session)
        garage = session.scalar(select(Company).where(Company.folder_name == GARAGE))
        portfolios.set_company(session, ctx, portfolios.find_portfolio(
            session, "Tous les clients"), garage, False)
    result = run_sync(live_server.base_url, local, login="associe",
                      password=live_server.password)
    assert result.code == 0, result.report
    assert tree_of(local) == before  # nothing renamed, nothing deleted
    assert f"== {GARAGE} ==" in result.report
    assert "entreprise absente de la plateforme" in result.report


BRAKED = 12


def test_the_brake_stops_mass_supp_renames_until_forced(live_server, demo, local, client):
    martin = client(live_server, "martin")
    # More than half of the bakery's documents (the demo holds about ten), deleted at once.
    for i in range(BRAKED):
        assert martin("PUT", live_server.dav(BAKERY, "Social", f"Bulletin {i:02d}.pdf"),
                      f"%PDF {i}".encode()).status == 201
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    for i in range(BRAKED):
        assert martin("DELETE", live_server.dav(BAKERY, "Social", f"Bulletin {i:02d}.pdf")
                      ).status == 204
    stopped = run_sync(live_server.base_url, local, password=live_server.password)
    assert stopped.code == 1
    assert "frein" in stopped.report and "--force" in stopped.report
    assert sorted(p.name for p in (local / BAKERY / "Social").iterdir()) == [
        f"Bulletin {i:02d}.pdf" for i in range(BRAKED)]
    forced = run_sync(live_server.base_url, local, "--force", password=live_server.password)
    assert forced.code == 0, forced.report
    assert sorted(p.name for p in (local / BAKERY / "Social").iterdir()) == [
        f"supp_Bulletin {i:02d}.pdf" for i in range(BRAKED)]


def test_a_folder_deleted_online_is_renamed_supp_as_a_whole(live_server, demo, local, client):
    martin = client(live_server, "martin")
    assert martin("MKCOL", live_server.dav(BAKERY, "Autres", "Archives") + "/").status == 201
    assert martin("PUT", live_server.dav(BAKERY, "Autres", "Archives", "vieux.pdf"),
                  b"%PDF vieux").status == 201
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    assert martin("DELETE", live_server.dav(BAKERY, "Autres", "Archives") + "/").status == 204
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 0, result.report
    assert (local / BAKERY / "Autres" / "supp_Archives" / "vieux.pdf").read_bytes() == \
        b"%PDF vieux"
    assert not (local / BAKERY / "Autres" / "Archives").exists()
    # Never copied again, either way.
    again = run_sync(live_server.base_url, local, password=live_server.password)
    assert "0 envoyé(s)" in again.report
    assert not [p for p in online_documents(demo) if "Archives" in p]


def test_a_file_still_being_written_waits_for_the_next_run(live_server, demo, local):
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    growing = local / BAKERY / "Banque" / "Relevé novembre.csv"
    growing.write_bytes(b"date;montant\n")
    slow = write_sync_settings(local.parent, settle_seconds=3600)
    waited = run_sync(live_server.base_url, local, password=live_server.password, settings=slow)
    assert waited.code == 0
    assert "en cours d'écriture" in waited.report
    assert f"{BAKERY}/Banque/Relevé novembre.csv" not in online_documents(demo)
    done = run_sync(live_server.base_url, local, password=live_server.password)
    assert done.code == 0
    assert f"{BAKERY}/Banque/Relevé novembre.csv" in online_documents(demo)


def test_a_second_run_on_the_same_folder_does_not_start(live_server, local):
    from sync.cli import locked

    with locked(local / ".liasse-sync") as mine:
        assert mine
        result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 2 and "déjà en cours" in result.stderr
    assert not (local / BAKERY).exists()


def test_a_refused_token_falls_back_to_a_full_comparison(live_server, demo, local, client):
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    import sqlite3

    state = sqlite3.connect(local / ".liasse-sync" / "state.db")
    state.execute("UPDATE meta SET value = 'urn:liasse:sync:abimé' WHERE key = 'token'")
    state.commit()
    state.close()
    martin = client(live_server, "martin")
    assert martin("PUT", live_server.dav(BAKERY, "Ventes", "Ticket Z.pdf"), b"%PDF Z"
                  ).status == 201
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 0, result.report
    assert "comparaison complète" in result.report
    assert (local / BAKERY / "Ventes" / "Ticket Z.pdf").read_bytes() == b"%PDF Z"


def test_python_m_sync_runs_without_the_server_command(live_server, local):
    """On a firm's file server: the package alone, password from a file, settings in TOML."""
    secret = local.parent / "mot-de-passe.txt"
    secret.write_text(live_server.password + "\n", encoding="utf-8")
    settings = local.parent / "sync.toml"
    settings.write_text(
        f'[sync]\nserver = "{live_server.base_url}"\nuser = "secretaire"\n'
        f'local = "{local.as_posix()}"\npassword_file = "{secret.as_posix()}"\n'
        "settle_seconds = 0\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    env["PYTHONPATH"] = str(Path(__file__).parents[2])
    done = subprocess.run([sys.executable, "-m", "sync", "--settings", str(settings),
                           "--quiet"], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    # The secretary reaches Achats, Ventes, Banque and Autres of the bakery only.
    assert sorted(p.name for p in local.iterdir() if not p.name.startswith(".")) == [BAKERY]
    assert sorted(p.name for p in (local / BAKERY).iterdir()) == [
        "Achats", "Autres", "Banque", "Ventes"]
