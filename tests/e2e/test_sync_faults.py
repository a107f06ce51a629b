"""Issue 21, bad input and faults of `liasse sync`, each against a real `liasse serve`: a
wrong password, a server unreachable or answering 5xx, a full local disk, names Windows or
the platform cannot hold, permission denied on a local file, `kill -9` in the middle."""

from __future__ import annotations

import os
import resource
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from support.sync import Relay, run_sync, sync_command, sync_env, tree_of, write_sync_settings

from acl.documents.models import Node

pytestmark = pytest.mark.e2e

BAKERY, GARAGE = "Boulangerie Martin", "Garage Dupont"


@pytest.fixture
def local(tmp_path) -> Path:
    folder = tmp_path / "cabinet"
    folder.mkdir()
    return folder


def test_a_wrong_password_stops_at_once_with_one_attempt(live_server, local):
    with Relay(live_server.base_url) as relay:
        result = run_sync(relay.url, local, password="pas le bon")
        assert relay.seen == [("REPORT", 401)]  # no retry storm against the lockout
    assert result.code == 2
    assert "identifiant ou mot de passe incorrect" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "n'a pas pu aller au bout" in result.report
    # The account is not locked: the right password works at once.
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0


def test_an_unreachable_server_is_tried_again_then_reported(local):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_sync(f"http://127.0.0.1:{port}", local, password="x")
    assert result.code == 2
    assert "serveur injoignable après 3 tentatives : connexion refusée" in result.stderr
    assert "serveur injoignable" in result.report


def test_5xx_answers_are_retried_with_backoff(live_server, local):
    with Relay(live_server.base_url, fail_first=2) as relay:
        result = run_sync(relay.url, local, password=live_server.password)
        assert relay.seen[:3] == [("REPORT", 503), ("REPORT", 503), ("REPORT", 207)]
    assert result.code == 0, result.report
    assert (local / GARAGE / "Ventes" / "Facture 2026-0042.pdf").exists()
    with Relay(live_server.base_url, always_fail=True) as relay:
        failed = run_sync(relay.url, local, password=live_server.password)
        assert len(relay.seen) == 3  # retries = 2 in the test settings
    assert failed.code == 2 and "503" in failed.report


def test_a_full_disk_stops_cleanly_and_the_next_run_completes(live_server, local, client):
    martin = client(live_server, "martin")
    big = os.urandom(3 * 1024 * 1024)
    assert martin("PUT", live_server.dav(BAKERY, "Achats", "Scan.pdf"), big).status == 201

    def small_files() -> None:  # writes past 1 MiB fail with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))

    full = run_sync(live_server.base_url, local, password=live_server.password,
                    preexec_fn=small_files)
    assert full.code == 2, full.report
    assert "disque local plein" in full.report and "Scan.pdf" in full.report
    assert not (local / BAKERY / "Achats" / "Scan.pdf").exists()  # nothing half-written
    assert not list((local / ".liasse-sync" / "tmp").iterdir())
    again = run_sync(live_server.base_url, local, password=live_server.password)
    assert again.code == 0, again.report
    assert (local / BAKERY / "Achats" / "Scan.pdf").read_bytes() == big


def test_names_windows_cannot_hold_are_reported_and_the_rest_goes_on(live_server, demo,
                                                                       local):
    # A name from before the rule (an import, an old version): the drive refuses new ones.
    with demo.transaction() as session:
        session.execute(update(Node).where(Node.name == "Relevé octobre 2026.csv")
                        .values(name="Relevé: octobre?.csv"))
    (local / BAKERY / "Achats").mkdir(parents=True)
    (local / BAKERY / "Achats" / "Note: urgente.txt").write_bytes(b"local")
    (local / BAKERY / "Achats" / "Note urgente.txt").write_bytes(b"local")
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 1, result.report
    assert "Relevé: octobre?.csv : nom impossible sous Windows" in result.report
    assert "Note: urgente.txt : nom impossible sous Windows" in result.report
    assert (local / GARAGE / "Ventes" / "Facture 2026-0042.pdf").exists()
    assert not (local / BAKERY / "Banque" / "Relevé: octobre?.csv").exists()
    with demo.session() as session:
        names = set(session.scalars(select(Node.name).where(Node.deleted_at.is_(None))))
    assert "Note urgente.txt" in names and "Note: urgente.txt" not in names


def test_permission_denied_on_a_local_file_is_reported_and_the_rest_goes_on(
        live_server, demo, local, monkeypatch, capsys):
    (local / BAKERY / "Achats").mkdir(parents=True)
    secret = local / BAKERY / "Achats" / "Confidentiel.pdf"
    secret.write_bytes(b"%PDF secret")
    (local / BAKERY / "Achats" / "Public.pdf").write_bytes(b"%PDF public")
    secret.chmod(0)
    if os.geteuid() == 0:
        # root reads whatever the mode says (and the test's Python lives under /root, out of
        # another account's reach): the run is in-process, the refusal made by open().
        real_open = Path.open

        def refusing_open(self, *args, **kwargs):
            if self.name == secret.name:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", refusing_open)
    from sync.cli import main

    monkeypatch.setenv("LIASSE_SYNC_PASSWORD", live_server.password)
    code = main(["--server", live_server.base_url, "--user", "expert", "--local", str(local),
                 "--settings", str(write_sync_settings(local.parent))])
    report = (local / ".liasse-sync" / "dernier-rapport.txt").read_text(encoding="utf-8")
    assert code == 1, report
    assert "Confidentiel.pdf : permission refusée sur le fichier local" in report
    with demo.session() as session:
        names = set(session.scalars(select(Node.name).where(Node.deleted_at.is_(None))))
    assert "Public.pdf" in names and "Confidentiel.pdf" not in names
    assert (local / GARAGE / "Ventes" / "Facture 2026-0042.pdf").exists()
    assert "terminée avec erreurs" in capsys.readouterr().out


def test_kill_9_in_the_middle_resumes_with_nothing_duplicated_lost_or_half_written(
        live_server, demo, local, client):
    martin = client(live_server, "martin")
    bodies = {f"Pièce {i:02d}.pdf": os.urandom(200_000 + i) for i in range(15)}
    for name, body in bodies.items():
        assert martin("PUT", live_server.dav(BAKERY, "Achats", name), body).status == 201
    journal = local / ".liasse-sync" / "journal"
    with Relay(live_server.base_url, delay=0.3) as relay:
        process = subprocess.Popen(
            sync_command(relay.url, local, "expert", write_sync_settings(local.parent)),
            env=sync_env(live_server.password), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                lines = sum(len(p.read_text(encoding="utf-8").splitlines()) - 1
                            for p in journal.glob("*.txt")) if journal.exists() else 0
                if lines >= 4:
                    break
                time.sleep(0.05)
            assert process.poll() is None, "the run ended before it could be killed"
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    halfway = tree_of(local)
    assert 0 < sum(1 for n in bodies if f"{BAKERY}/Achats/{n}" in halfway) < len(bodies)
    for name, body in bodies.items():  # what is there is whole
        assert halfway.get(f"{BAKERY}/Achats/{name}", body) == body

    resumed = run_sync(live_server.base_url, local, password=live_server.password)
    assert resumed.code == 0, resumed.report
    after = tree_of(local)
    for name, body in bodies.items():
        assert after[f"{BAKERY}/Achats/{name}"] == body
    assert not [p for p in after if "conflit" in p or "supp_" in p]
    assert not list((local / ".liasse-sync" / "tmp").iterdir())
    lines = [line.split("\t")[3] for p in journal.glob("*.txt")
             for line in p.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(lines) == len(set(lines))  # no document journaled twice
    with demo.session() as session:  # nothing sent back twice either
        achats = session.scalars(select(Node.name).where(Node.deleted_at.is_(None),
                                                         Node.name.like("Pièce%"))).all()
    assert sorted(achats) == sorted(bodies)
    assert stat.S_ISDIR((local / BAKERY).stat().st_mode)


def test_names_equal_but_for_case_online_are_reported_and_the_first_kept(live_server, local,
                                                                          client):
    """Windows cannot hold "Facture.pdf" and "facture.pdf" side by side: the second one the
    platform holds is reported and not copied, never written over the first."""
    martin = client(live_server, "martin")
    achats = local / BAKERY / "Achats"
    assert martin("PUT", live_server.dav(BAKERY, "Achats", "Facture.pdf"), b"premier").status \
        == 201
    assert run_sync(live_server.base_url, local, password=live_server.password).code == 0
    assert martin("PUT", live_server.dav(BAKERY, "Achats", "facture.pdf"), b"second").status \
        == 201
    result = run_sync(live_server.base_url, local, password=live_server.password)
    assert result.code == 1
    assert (achats / "Facture.pdf").read_bytes() == b"premier"
    assert "facture.pdf" not in os.listdir(achats)
    assert (f"{BAKERY}/Achats/facture.pdf : « Facture.pdf » est dans le même dossier en ligne, "
            "au même nom à la casse près") in result.report
