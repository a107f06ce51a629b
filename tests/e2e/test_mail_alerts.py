"""Deposit alerts end to end: a real `liasse serve`, documents PUT through /dav, and a real
SMTP server on loopback (aiosmtpd, started by the test on a free port) — issue 4.

Every wait polls a condition against a deadline. "Settled" means the worker has nothing left
to do: it has read every event, no deposit waits for its digest, and every mail of the outbox
is marked sent; only then are the mails received counted, so that a second copy would show.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select
from support.server import free_port

from acl.documents.models import Node
from acl.events.models import AlertMode, Event, OutboxMessage, PendingAlert, WorkerCursor
from acl.people.models import Cabinet, User

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
STAFF = ("expert@demo.invalid", "associe@demo.invalid", "assistant@demo.invalid")
FAST_ALERTS = {"quiet_delay_seconds": 1, "poll_seconds": 0.2}
DEADLINE = 30.0


# --- an SMTP server on loopback ---------------------------------------------------------------

@dataclass
class Received:
    recipients: tuple[str, ...]
    mail: EmailMessage


@dataclass
class Sink:
    """An aiosmtpd handler that records what it accepts.

    `refuse_first`: answer "451 try later" to that many DATA commands before accepting.
    `hold_at`: the n-th DATA (1-based) waits, unanswered, until `release` is set, then is
    refused — the sender stopped before the server accepted it."""

    refuse_first: int = 0
    hold_at: int = 0
    messages: list[Received] = field(default_factory=list)
    refused: list[tuple[str, ...]] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    data_commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        recipients = tuple(envelope.rcpt_tos)
        with self.lock:
            self.data_commands += 1
            turn = self.data_commands
            if len(self.refused) < self.refuse_first:
                self.refused.append(recipients)
                return "451 4.3.0 try later"
        if turn == self.hold_at:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
            return "451 4.3.0 interrupted"
        mail = email.message_from_bytes(envelope.original_content or envelope.content,
                                        policy=email.policy.default)
        with self.lock:
            self.messages.append(Received(recipients, mail))
        return "250 2.0.0 OK"

    def per_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(r for m in self.messages for r in m.recipients)

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


class SmtpServers:
    """Starts aiosmtpd controllers; the fixture stops whatever is still running."""

    def __init__(self) -> None:
        self.running: list[Controller] = []

    def start(self, sink: Sink, port: int | None = None) -> tuple[Controller, int]:
        port = port or free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port,
                                server_hostname="smtp.test", ready_timeout=10)
        deadline = time.monotonic() + 10
        while True:  # the port may still be closing after a stop on the same port
            try:
                controller.start()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.running.append(controller)
        return controller, port

    def stop(self, controller: Controller) -> None:
        self.running.remove(controller)
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServers]:
    servers = SmtpServers()
    try:
        yield servers
    finally:
        for controller in list(servers.running):
            servers.stop(controller)


def smtp_settings(port: int, **extra) -> dict:
    return {"host": "127.0.0.1", "port": port, "security": "none", "timeout_seconds": 5,
            "retry_base_seconds": 0.5, **extra}


# --- the drive and the database ---------------------------------------------------------------

class Dav:
    """One keep-alive connection to the drive as one user."""

    def __init__(self, server, user: str) -> None:
        parts = urlsplit(server.base_url)
        self.server = server
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        token = base64.b64encode(f"{user}:{server.password}".encode()).decode()
        self.auth = {"Authorization": f"Basic {token}"}

    def put(self, *segments: str, body: bytes = b"%PDF-1.4 facture\n") -> tuple[int, float]:
        """PUT a document; returns (status, seconds taken)."""
        started = time.monotonic()
        self.connection.request("PUT", urlsplit(self.server.dav(*segments)).path, body=body,
                                headers=self.auth)
        response = self.connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def dav() -> Iterator[Callable[..., Dav]]:
    opened: list[Dav] = []

    def open_as(server, user: str) -> Dav:
        connection = Dav(server, user)
        opened.append(connection)
        return connection

    yield open_as
    for connection in opened:
        connection.close()


def wait_until(condition: Callable[[], object], what: str, timeout: float = DEADLINE):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def outbox(db) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def settled(db) -> bool:
    """The worker has read every event, no digest waits, every mail is marked sent."""
    with db.session() as s:
        last_event = s.scalar(select(func.max(Event.id))) or 0
        cursor = s.scalar(select(WorkerCursor.last_event_id)) or 0
        waiting = s.scalar(select(func.count()).select_from(PendingAlert))
        unsent = s.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.status != "sent"))
    return cursor >= last_event and waiting == 0 and unsent == 0


def wait_for_mails(db, sink: Sink, expected: int) -> None:
    wait_until(lambda: sink.count() >= expected and settled(db),
               f"{expected} mails received and the outbox settled "
               f"(received {sink.count()}, outbox {[(m.recipient, m.status) for m in outbox(db)]})")


def set_immediate(db, *logins: str) -> None:
    with db.transaction() as s:
        for user in s.scalars(select(User).where(User.login.in_(logins))):
            user.alert_mode = AlertMode.IMMEDIATE.value


def liasse(config: Path, *argv: str) -> str:
    exe = Path(sys.executable).parent / "liasse"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "liasse.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    done = subprocess.run([*command, "--config", str(config), *argv], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def plain_and_html(mail: EmailMessage) -> tuple[str, str]:
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    return plain.get_content(), html.get_content()


# --- deposits and who is told -----------------------------------------------------------------

def test_a_deposit_by_martin_reaches_the_staff_in_charge_and_nobody_else(
        serve, smtp, dav, demo):
    sink = Sink()
    _, port = smtp.start(sink)
    server = serve(smtp=smtp_settings(port), alerts=FAST_ALERTS)

    status, _ = dav(server, "martin").put(BAKERY, "Achats", "Facture Moulin novembre.pdf")
    assert status == 201
    wait_for_mails(demo, sink, 3)

    assert sink.per_recipient() == Counter(STAFF), "never martin, never dupont"
    with demo.session() as s:
        node = s.scalars(select(Node).where(Node.name == "Facture Moulin novembre.pdf")).one()
        colour = s.get(Cabinet, 1).colour
    for received in sink.messages:
        mail = received.mail
        assert mail["To"] == received.recipients[0]
        assert mail["From"] == "Cabinet Démo <liasse@localhost>"
        assert mail["Subject"] == "[Cabinet Démo] Nouveau document : Facture Moulin novembre.pdf"
        plain, html = plain_and_html(mail)
        assert plain.startswith("Bonjour ")
        assert "Un nouveau document a été déposé sur la plateforme :" in plain
        assert "Boulangerie Martin/Achats/Facture Moulin novembre.pdf — déposé par Jean Martin" \
            in plain
        assert f"{server.base_url}/document/{node.id}" in plain
        assert f"background:{colour}" in html
        assert f'href="{server.base_url}/document/{node.id}"' in html
    greetings = {r.recipients[0]: plain_and_html(r.mail)[0].splitlines()[0]
                 for r in sink.messages}
    assert greetings == {"expert@demo.invalid": "Bonjour Élise Expert,",
                         "associe@demo.invalid": "Bonjour Paul Associé,",
                         "assistant@demo.invalid": "Bonjour Inès Assistante,"}


def test_fifty_uploads_give_one_mail_per_recipient(serve, smtp, dav, demo):
    sink = Sink()
    _, port = smtp.start(sink)
    server = serve(smtp=smtp_settings(port), alerts={**FAST_ALERTS, "quiet_delay_seconds": 2})

    drive = dav(server, "martin")
    names = [f"Ticket {i:02d}.pdf" for i in range(50)]
    for name in names:
        status, _ = drive.put(BAKERY, "Achats", name)
        assert status == 201
    wait_for_mails(demo, sink, 3)

    assert sink.per_recipient() == Counter(STAFF)
    for received in sink.messages:
        assert received.mail["Subject"] == "[Cabinet Démo] 50 nouveaux documents déposés"
        plain, html = plain_and_html(received.mail)
        for name in names:
            assert f"Achats/{name} — déposé par Jean Martin" in plain
        assert html.count("<li>") == 50


# --- the outbox against a failing SMTP server -------------------------------------------------

def test_a_server_that_refuses_then_accepts_delivers_each_mail_once(
        serve, smtp, dav, demo, settings_file):
    sink = Sink(refuse_first=4)
    _, port = smtp.start(sink)
    sections = {"smtp": smtp_settings(port), "alerts": FAST_ALERTS}
    server = serve(**sections)

    status, _ = dav(server, "martin").put(BAKERY, "Achats", "Facture refusée.pdf")
    assert status == 201
    wait_for_mails(demo, sink, 3)

    assert len(sink.refused) == 4
    assert sink.per_recipient() == Counter(STAFF)
    rows = outbox(demo)
    assert [m.status for m in rows] == ["sent"] * 3
    refused = Counter(r for recipients in sink.refused for r in recipients)
    for row in rows:
        assert row.attempts >= refused[row.recipient]
    assert sum(row.attempts for row in rows) >= 4
    assert "not sent (attempt 1)" in "".join(server.output), "the failure is logged"

    listing = liasse(settings_file(**sections), "outbox", "list")
    for recipient in STAFF:
        line = next(line for line in listing.splitlines() if recipient in line)
        assert "envoyé" in line
        assert "Nouveau document : Facture refusée.pdf" in line


def test_an_smtp_outage_neither_fails_nor_slows_uploads_and_mails_go_later(
        serve, smtp, dav, demo):
    port = free_port()  # nothing listens there yet
    server = serve(smtp=smtp_settings(port), alerts=FAST_ALERTS)

    drive = dav(server, "martin")
    status, seconds = drive.put(BAKERY, "Achats", "Pendant la panne.pdf")
    assert status == 201 and seconds < 2
    wait_until(lambda: len(rows := outbox(demo)) == 3 and all(m.attempts >= 1 for m in rows),
               "three mails tried once")
    for row in outbox(demo):
        assert row.status == "pending"
        assert row.last_error.startswith("connexion impossible")
    status, seconds = drive.put(BAKERY, "Achats", "Toujours en panne.pdf")
    assert status == 201 and seconds < 2

    sink = Sink()
    smtp.start(sink, port)  # the SMTP server comes back on the same port
    wait_for_mails(demo, sink, 6)
    assert sink.per_recipient() == Counter({r: 2 for r in STAFF})
    subjects = Counter((r.recipients[0], r.mail["Subject"]) for r in sink.messages)
    assert set(subjects.values()) == {1}, "each mail once"


def test_smtp_server_stopped_while_mails_are_due_then_restarted(serve, smtp, dav, demo):
    sink = Sink()
    controller, port = smtp.start(sink)
    server = serve(smtp=smtp_settings(port), alerts=FAST_ALERTS)
    drive = dav(server, "martin")
    drive.put(BAKERY, "Achats", "Avant l'arrêt.pdf")
    wait_for_mails(demo, sink, 3)

    smtp.stop(controller)
    status, seconds = drive.put(BAKERY, "Achats", "Pendant l'arrêt.pdf")
    assert status == 201 and seconds < 2
    wait_until(lambda: len(rows := outbox(demo)) == 6 and all(m.attempts >= 1
                                                               for m in rows[3:]),
               "the new mails tried while the SMTP server is stopped")
    assert [m.status for m in outbox(demo)[3:]] == ["pending"] * 3

    smtp.start(sink, port)
    wait_for_mails(demo, sink, 6)
    subjects = Counter((r.recipients[0], r.mail["Subject"]) for r in sink.messages)
    assert len(subjects) == 6 and set(subjects.values()) == {1}


def test_a_server_killed_mid_send_loses_nothing_and_sends_nothing_twice(
        serve, smtp, dav, demo):
    set_immediate(demo, "expert", "associe", "assistant")  # one mail per deposit each
    sink = Sink(hold_at=4)
    _, port = smtp.start(sink)
    sections = {"smtp": smtp_settings(port), "alerts": FAST_ALERTS}
    server = serve(**sections)
    drive = dav(server, "martin")
    for i in range(4):
        status, _ = drive.put(BAKERY, "Achats", f"Facture {i}.pdf")
        assert status == 201
    drive.close()

    assert sink.holding.wait(DEADLINE), "the fourth mail reached the SMTP server"
    server.process.kill()  # SIGKILL: no clean-up, the fourth mail was never accepted
    server.process.wait(timeout=10)
    sink.release.set()
    assert sink.count() == 3
    assert "sending" in {m.status for m in outbox(demo)}

    restarted = serve(**sections)
    wait_for_mails(demo, sink, 12)
    mails = Counter((r.recipients[0], r.mail["Subject"]) for r in sink.messages)
    assert len(mails) == 12 and set(mails.values()) == {1}, "each mail exactly once"
    assert sink.per_recipient() == Counter({r: 4 for r in STAFF})
    assert len({r.mail["Message-ID"] for r in sink.messages}) == 12
    wait_until(lambda: "interrupted by a stop are queued again" in "".join(restarted.output),
               "the recovery is logged")


class SilentServer:
    """Accepts TCP connections and never says a word (an SMTP host that hangs)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.accepted: list[float] = []
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(time.monotonic())
            self.connections.append(connection)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for connection in self.connections:
            connection.close()
        self.listener.close()


def test_a_hanging_smtp_host_times_out_within_the_bound_and_uploads_go_on(
        serve, dav, demo):
    silent = SilentServer()
    try:
        server = serve(smtp=smtp_settings(silent.port, timeout_seconds=1),
                       alerts=FAST_ALERTS)
        drive = dav(server, "martin")
        status, _ = drive.put(BAKERY, "Achats", "Avant.pdf")
        assert status == 201
        wait_until(lambda: len(silent.accepted) >= 1, "the worker connects to the SMTP host")

        # The worker is waiting for a greeting that never comes: uploads do not wait with it.
        for i in range(3):
            status, seconds = drive.put(BAKERY, "Achats", f"Pendant {i}.pdf")
            assert status == 201 and seconds < 1

        wait_until(lambda: len(silent.accepted) >= 3, "two more attempts", timeout=20)
        first, second = silent.accepted[:2]
        assert 0.9 <= second - first < 4, "each attempt gives up after timeout_seconds = 1"
        rows = outbox(demo)
        assert rows and {m.status for m in rows} <= {"pending", "sending"}  # still queued
        assert any("timed out" in m.last_error for m in rows)
    finally:
        silent.close()


# --- several servers on one PostgreSQL database -----------------------------------------------

@pytest.mark.postgresql_only
def test_two_servers_on_one_postgresql_database_send_each_mail_once(
        serve, smtp, dav, demo, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("two servers share one database on PostgreSQL only (SQLite runs one "
                    "server per data folder); set LIASSE_TEST_DATABASE_URL")
    set_immediate(demo, "expert", "associe", "assistant")
    sink = Sink()
    _, port = smtp.start(sink)
    sections = {"smtp": smtp_settings(port), "alerts": FAST_ALERTS}
    first, second = serve(**sections), serve(**sections)

    for server in (first, second):
        drive = dav(server, "martin")
        for i in range(3):
            status, _ = drive.put(BAKERY, "Achats", f"Via {server.base_url[-5:]} {i}.pdf")
            assert status == 201
    wait_for_mails(demo, sink, 18)
    mails = Counter((r.recipients[0], r.mail["Subject"]) for r in sink.messages)
    assert len(mails) == 18 and set(mails.values()) == {1}, "each mail exactly once"

    first.stop()  # if it was the sender, the other one takes over
    status, _ = dav(second, "martin").put(BAKERY, "Achats", "Après l'arrêt.pdf")
    assert status == 201
    wait_for_mails(demo, sink, 21)
    mails = Counter((r.recipients[0], r.mail["Subject"]) for r in sink.messages)
    assert len(mails) == 21 and set(mails.values()) == {1}
