"""Issue 21, `liasse sync` as a service, against a real `liasse serve` (SQLite and
PostgreSQL): the report mailed through the tool's own SMTP settings (a real aiosmtpd server on
loopback), the `--every` loop stopped by a signal, and the progress bar on a terminal (a
pseudo-terminal) and not elsewhere."""

from __future__ import annotations

import email
import email.policy
import fcntl
import os
import re
import select
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from support.server import free_port
from support.sync import FAST, Relay, run_sync, sync_command, sync_env, write_sync_settings
from support.world import render_toml

pytestmark = pytest.mark.e2e

BAKERY, GARAGE = "Boulangerie Martin", "Garage Dupont"
DEADLINE = 120.0


@pytest.fixture
def local(tmp_path) -> Path:
    folder = tmp_path / "cabinet"
    folder.mkdir()
    return folder


class Inbox:
    """An aiosmtpd handler keeping each message it accepts."""

    def __init__(self) -> None:
        self.mails: list[tuple[tuple[str, ...], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.mails.append((tuple(envelope.rcpt_tos), email.message_from_bytes(
            envelope.original_content or envelope.content, policy=email.policy.default)))
        return "250 2.0.0 OK"


@pytest.fixture
def smtp() -> tuple[Inbox, int]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            server_hostname="smtp.test", ready_timeout=10)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(folder: Path, port: int) -> Path:
    path = folder / "liasse-sync-mail.toml"
    path.write_text(render_toml({"sync": FAST, "sync.mail": {
        "host": "127.0.0.1", "port": port, "sender": "synchro@cabinet.test",
        "to": ["expert@cabinet.test", "associe@cabinet.test"]}}), encoding="utf-8")
    return path


def section(body: str, company: str) -> str:
    """The part of a report about one company."""
    start = body.index(f"== {company} ==")
    end = body.find("\n== ", start + 1)
    return body[start:] if end < 0 else body[start:end]


def test_the_report_is_mailed_company_by_company_in_french(live_server, local, smtp):
    inbox, port = smtp
    settings = mail_settings(local.parent, port)
    first = run_sync(live_server.base_url, local, password=live_server.password,
                     settings=settings)
    assert first.code == 0, first.report
    assert len(inbox.mails) == 1
    recipients, mail = inbox.mails[0]
    assert recipients == ("expert@cabinet.test", "associe@cabinet.test")
    assert mail["From"] == "synchro@cabinet.test"
    assert re.fullmatch(r"Synchronisation Liasse terminée \(\d\d/\d\d/\d{4} \d\d:\d\d\)",
                        mail["Subject"])
    body = mail.get_content().replace("\r\n", "\n")
    assert body == first.report  # the same words as the file the firm keeps
    assert "Résultat : terminé sans erreur." in body
    bakery, garage = section(body, BAKERY), section(body, GARAGE)
    assert "Téléchargés depuis la plateforme" in bakery
    assert f"{BAKERY}/Achats/Facture Moulin Giraud octobre.pdf" in bakery
    assert f"{GARAGE}/Ventes/Facture 2026-0042.pdf" in garage
    assert GARAGE not in bakery and BAKERY not in garage

    # A run with an error says so in the subject, and under its company only.
    bad = local / BAKERY / "Achats" / "devis|client.pdf"
    bad.write_bytes(b"un nom que Windows refuse\n")
    second = run_sync(live_server.base_url, local, password=live_server.password,
                      settings=settings)
    assert second.code == 1
    assert len(inbox.mails) == 2
    _, mail = inbox.mails[1]
    assert mail["Subject"].startswith("Synchronisation Liasse terminée avec erreurs (")
    body = mail.get_content().replace("\r\n", "\n")
    assert "Résultat : terminé avec 1 erreur(s)." in body
    errors = section(body, BAKERY)
    assert "Erreurs (1) :" in errors and "devis|client.pdf : nom impossible" in errors
    assert "Erreurs" not in section(body, GARAGE)


def test_a_report_that_cannot_be_mailed_is_still_written_and_says_so(live_server, local):
    settings = mail_settings(local.parent, free_port())  # nobody listens there
    result = run_sync(live_server.base_url, local, password=live_server.password,
                      settings=settings)
    assert result.code == 0  # the synchronisation itself went well
    assert "Note : compte-rendu non envoyé par courrier :" in result.report
    assert "Traceback" not in result.stderr


# --- the --every loop -------------------------------------------------------------------------


def reports_of(local: Path) -> list[Path]:
    folder = local / ".liasse-sync" / "rapports"
    return sorted(folder.glob("*.txt")) if folder.exists() else []


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


def lock_is_free(local: Path) -> bool:
    with (local / ".liasse-sync" / "lock").open("a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return True


def test_sigterm_lets_the_run_in_progress_finish_then_ends_the_loop(live_server, local,
                                                                    client):
    martin = client(live_server, "martin")
    body = os.urandom(150_000)
    in_download, release = threading.Event(), threading.Event()

    def before(method: str, path: str) -> None:
        if method == "GET" and path.endswith("/Achats/Arrivé pendant la boucle.pdf"):
            in_download.set()
            release.wait(DEADLINE)

    settings = write_sync_settings(local.parent)
    with Relay(live_server.base_url, before=before) as relay:
        process = subprocess.Popen(
            sync_command(relay.url, local, "expert", settings, "--every", "1s"),
            env=sync_env(live_server.password), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: reports_of(local) or process.poll() is not None, "a first run")
            assert process.poll() is None
            assert not lock_is_free(local)  # the loop holds the folder between runs
            assert martin("PUT", live_server.dav(BAKERY, "Achats",
                                                 "Arrivé pendant la boucle.pdf"),
                          body).status == 201
            assert in_download.wait(DEADLINE), "no run downloaded the new document"
            runs_before = len(reports_of(local))  # the run in progress has not written yet
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert process.poll() is None, "stopped in the middle of a run"
            release.set()
            out, err = process.communicate(timeout=DEADLINE)
        finally:
            release.set()
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    assert process.returncode == 0, err
    assert "arrêt demandé ; la dernière synchronisation est allée à son terme" in err
    assert "Traceback" not in err
    # The run in progress went to its end: the document is there, whole, and reported...
    assert (local / BAKERY / "Achats" / "Arrivé pendant la boucle.pdf").read_bytes() == body
    reports = reports_of(local)
    assert len(reports) == runs_before + 1  # ...and no run started after the signal
    last = reports[-1].read_text(encoding="utf-8")
    assert "Résultat : terminé sans erreur." in last
    assert f"{BAKERY}/Achats/Arrivé pendant la boucle.pdf" in section(last, BAKERY)
    assert not list((local / ".liasse-sync" / "tmp").iterdir())
    assert lock_is_free(local)
    # A next start finds nothing left to do.
    again = run_sync(live_server.base_url, local, password=live_server.password)
    assert again.code == 0 and "Totaux : 0 téléchargé(s)" in again.report


def test_ctrl_c_between_runs_ends_the_loop_at_once(live_server, local):
    process = subprocess.Popen(
        sync_command(live_server.base_url, local, "expert", write_sync_settings(local.parent),
                     "--every", "1h"),
        env=sync_env(live_server.password), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        wait_for(lambda: reports_of(local) or process.poll() is not None, "a first run")
        time.sleep(0.3)  # asleep until the next run, an hour away
        assert process.poll() is None
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == 0, err
    assert "arrêt demandé" in err and "Traceback" not in err
    assert len(reports_of(local)) == 1
    assert lock_is_free(local)


# --- the progress bar -------------------------------------------------------------------------


def run_on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `command` with its output on a pseudo-terminal: (exit code, what it showed)."""
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=slave,
                                   stderr=slave)
    finally:
        os.close(slave)
    shown = bytearray()
    try:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every end of the terminal's other side is closed
                break
            if not chunk:
                break
            shown += chunk
        code = process.wait(timeout=DEADLINE)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        os.close(master)
    return code, shown.decode("utf-8", "replace")


def test_a_progress_bar_on_a_terminal_and_none_in_a_pipe(live_server, local, tmp_path):
    code, shown = run_on_a_terminal(
        sync_command(live_server.base_url, local, "expert", write_sync_settings(local.parent)),
        sync_env(live_server.password))
    assert code == 0, shown
    bars = re.findall(r"\r\[([#.]{30})\] (\d+)/(\d+) ", shown)
    assert bars, shown
    assert all(int(done) <= int(total) for _, done, total in bars)
    assert any(done == total and bar == "#" * 30 for bar, done, total in bars)  # complete
    assert "Facture Moulin Giraud octobre.pdf" in shown  # the document under way is named
    assert "synchronisation terminée" in shown

    piped = tmp_path / "ailleurs"
    piped.mkdir()
    result = run_sync(live_server.base_url, piped, password=live_server.password)
    assert result.code == 0
    assert "\r" not in result.stdout + result.stderr
    assert "[#" not in result.stdout + result.stderr
    assert result.stdout.startswith("liasse sync : synchronisation terminée — ")
