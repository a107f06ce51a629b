"""Deposit alerts in-process: the event stream, who is told, digests, alert modes, bad
addresses, header injection, and `liasse outbox list` (issue 4).

Deposits go through `acl.documents.store.store_body`, the storage service of the drive; the
background worker's job is run by `Worker.tick(now)` with an explicit clock, so that the quiet
delay is crossed without waiting.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from acl.db import utcnow
from acl.documents.models import Node
from acl.documents.store import resolve, store_body
from acl.events.models import AlertMode, Event, OutboxMessage, PendingAlert
from acl.events.outbox import build_message
from acl.events.stream import visible_events_since
from acl.people import accounts
from acl.people.accounts import find_user
from acl.people.models import Company
from acl.rights.models import Level
from acl.rights.principals import load_principal
from liasse.cli import main
from liasse.worker import Worker

BAKERY = "Boulangerie Martin"
GARAGE = "Garage Dupont"
BASE_URL = "http://liasse.test"
QUIET = timedelta(seconds=120)  # the default [alerts] quiet_delay_seconds


@pytest.fixture
def deposit(demo, blobs) -> Callable[..., int]:
    """`deposit(login, company, folder, name)`: store a document as that user, committed;
    returns the node id."""

    def put(login: str, company: str, folder: str, name: str,
            body: bytes = b"%PDF-1.4 facture\n") -> int:
        sha, size = blobs.put(io.BytesIO(body))
        with demo.transaction() as s:
            user = find_user(s, login)
            target = s.scalars(select(Company).where(Company.name == company)).one()
            location = resolve(s, target, [folder])
            return store_body(s, location, name, sha, size, user.id).id

    return put


@pytest.fixture
def worker(settings, demo) -> Iterator[Worker]:
    """The background worker of `liasse serve`, not started: the test calls `tick(now)`."""
    w = Worker(settings, demo, BASE_URL)
    yield w
    w.stop()


def outbox(db) -> list[OutboxMessage]:
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def recipients(db) -> Counter[str]:
    return Counter(m.recipient for m in outbox(db))


def set_mode(db, login: str, mode: AlertMode) -> None:
    with db.transaction() as s:
        find_user(s, login).alert_mode = mode.value


def after_quiet(worker: Worker) -> None:
    """Queue what is new, then flush as if the quiet delay had passed."""
    worker.tick(utcnow())
    worker.tick(utcnow() + QUIET + timedelta(seconds=1))


STAFF = {"expert@demo.invalid", "associe@demo.invalid", "assistant@demo.invalid"}


# --- who is told ------------------------------------------------------------------------------

def test_a_deposit_by_martin_is_mailed_to_the_staff_in_charge_only(deposit, worker, demo):
    node = deposit("martin", BAKERY, "Achats", "Facture boulangerie.pdf")
    after_quiet(worker)

    assert recipients(demo) == Counter(STAFF), "one mail each, never martin nor dupont"
    for message in outbox(demo):
        assert message.subject == "[Cabinet Démo] Nouveau document : Facture boulangerie.pdf"
        assert "Boulangerie Martin" in message.text_body
        assert "Achats/Facture boulangerie.pdf — déposé par Jean Martin le " in \
            message.text_body
        assert f"{BASE_URL}/document/{node}" in message.text_body
        assert f'href="{BASE_URL}/document/{node}"' in message.html_body
        # the way to change this choice, which exists
        assert f"dans votre profil : {BASE_URL}/profil#alertes" in message.text_body
        assert message.status == "pending"  # no [smtp] host: kept in the outbox


def test_a_deposit_by_dupont_goes_to_the_staff_of_the_garage(deposit, worker, demo):
    deposit("dupont", GARAGE, "Ventes", "Facture 2026-0043.pdf")
    after_quiet(worker)
    assert recipients(demo) == Counter({"expert@demo.invalid", "associe@demo.invalid"})


def test_the_secretarys_deposit_reaches_the_interlocuteur(deposit, worker, demo):
    deposit("secretaire", BAKERY, "Achats", "Ticket de caisse.pdf")
    after_quiet(worker)
    assert recipients(demo) == Counter(STAFF | {"martin@demo.invalid"})


def test_no_alert_about_a_folder_the_recipient_cannot_read(deposit, worker, demo, ctx_of):
    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.name == BAKERY)).one()
        accounts.grant(s, ctx_of("associe", s), find_user(s, "assistant"), bakery, "Achats",
                       Level.parse("aucun"))

    deposit("secretaire", BAKERY, "Achats", "Facture fournisseur.pdf")
    after_quiet(worker)
    assert recipients(demo) == Counter(
        {"expert@demo.invalid", "associe@demo.invalid", "martin@demo.invalid"})

    deposit("secretaire", BAKERY, "Banque", "Relevé novembre.csv")
    after_quiet(worker)
    banque = [m for m in outbox(demo) if "Relevé novembre.csv" in m.subject]
    assert "assistant@demo.invalid" in {m.recipient for m in banque}, \
        "Banque is still readable by the assistant"
    assert not any("Facture fournisseur" in m.text_body for m in outbox(demo)
                   if m.recipient == "assistant@demo.invalid")


def test_a_digest_is_decided_again_when_it_is_sent(deposit, worker, demo, ctx_of):
    """Issue 15, item 13: rights lost during the quiet delay are lost for the digest too."""
    deposit("martin", BAKERY, "Juridique", "Statuts modifiés.pdf")
    deposit("martin", BAKERY, "Achats", "Facture ordinaire.pdf")
    worker.tick(utcnow())  # queued for the assistant (Juridique and Achats readable then)
    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.name == BAKERY)).one()
        accounts.grant(s, ctx_of("associe", s), find_user(s, "assistant"), bakery,
                       "Juridique", Level.parse("aucun"))
    worker.tick(utcnow() + QUIET + timedelta(seconds=1))
    to_assistant = [m for m in outbox(demo) if m.recipient == "assistant@demo.invalid"]
    assert len(to_assistant) == 1
    assert "Facture ordinaire" in to_assistant[0].text_body
    assert "Statuts" not in to_assistant[0].text_body + to_assistant[0].html_body

    deposit("martin", BAKERY, "Achats", "Autre facture.pdf")
    worker.tick(utcnow())
    with demo.transaction() as s:  # disabled meanwhile: no mail at all
        accounts.set_active(s, ctx_of("associe", s), find_user(s, "assistant"), False)
    worker.tick(utcnow() + 2 * QUIET)
    assert len([m for m in outbox(demo) if m.recipient == "assistant@demo.invalid"]) == 1
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(PendingAlert)) == 0


# --- grouping ---------------------------------------------------------------------------------

def test_a_burst_of_fifty_deposits_gives_one_mail_per_recipient(deposit, worker, demo):
    names = [f"Facture {i:02d}.pdf" for i in range(50)]
    for name in names:
        deposit("martin", BAKERY, "Achats", name)

    worker.tick(utcnow())
    worker.tick(utcnow() + QUIET - timedelta(seconds=10))
    assert outbox(demo) == [], "nothing is mailed before the quiet delay"

    worker.tick(utcnow() + QUIET + timedelta(seconds=1))
    assert recipients(demo) == Counter(STAFF)
    for message in outbox(demo):
        assert message.subject == "[Cabinet Démo] 50 nouveaux documents déposés"
        for name in names:
            assert f"Achats/{name} — déposé par Jean Martin" in message.text_body
        assert message.html_body.count("<li>") == 50
    with demo.session() as s:
        assert s.scalar(select(func.count()).select_from(PendingAlert)) == 0

    worker.tick(utcnow() + 2 * QUIET)
    assert len(outbox(demo)) == 3, "a digest is mailed once"


def test_a_document_deposited_again_is_named_once(deposit, worker, demo):
    """Saved three times from an editor (three versions) and one other document: the mail
    speaks of two documents, the replaced one with its number of versions."""
    for version in range(3):
        deposit("martin", BAKERY, "Achats", "Devis.pdf", body=b"%%PDF-1.4 v%d" % version)
    deposit("martin", BAKERY, "Achats", "Autre.pdf")
    after_quiet(worker)
    assert recipients(demo) == Counter(STAFF)
    for message in outbox(demo):
        assert message.subject == "[Cabinet Démo] 2 nouveaux documents déposés"
        assert message.text_body.count("Achats/Devis.pdf") == 1
        assert "Achats/Devis.pdf — déposé par Jean Martin le " in message.text_body
        assert "(3 versions)" in message.text_body
        assert message.html_body.count("<li>") == 2


def test_a_never_ending_burst_is_mailed_after_the_maximum_hold(deposit, worker, demo):
    deposit("martin", BAKERY, "Achats", "Première.pdf")
    worker.tick(utcnow())
    deposit("martin", BAKERY, "Achats", "Seconde.pdf")
    # 15 minutes later (default max_hold_seconds = 900) deposits still keep arriving:
    # the digest goes anyway.
    worker.tick(utcnow() + timedelta(seconds=901))
    assert recipients(demo) == Counter(STAFF)


# --- alert modes ------------------------------------------------------------------------------

def test_alerts_off_mails_nothing_and_immediate_mails_each_deposit(deposit, worker, demo):
    set_mode(demo, "expert", AlertMode.OFF)
    set_mode(demo, "associe", AlertMode.IMMEDIATE)

    deposit("martin", BAKERY, "Achats", "Un.pdf")
    worker.tick(utcnow())
    assert recipients(demo) == Counter({"associe@demo.invalid": 1}), \
        "immediate: mailed at once, digest: still waiting"
    deposit("martin", BAKERY, "Achats", "Deux.pdf")
    worker.tick(utcnow())
    assert [m.subject for m in outbox(demo)] == [
        "[Cabinet Démo] Nouveau document : Un.pdf", "[Cabinet Démo] Nouveau document : Deux.pdf"]

    worker.tick(utcnow() + QUIET + timedelta(seconds=1))
    assert recipients(demo) == Counter({"associe@demo.invalid": 2, "assistant@demo.invalid": 1})


def test_liasse_user_alerts_changes_the_mode(demo, settings, deposit, worker, capsys):
    assert main(["--config", str(settings.source), "--as", "expert", "user", "alerts",
                 "expert", "off"]) == 0
    assert "Alertes de « expert » : désactivées." in capsys.readouterr().out
    deposit("martin", BAKERY, "Achats", "Sans alerte.pdf")
    after_quiet(worker)
    assert "expert@demo.invalid" not in recipients(demo)


# --- bad input --------------------------------------------------------------------------------

def test_a_recipient_without_a_valid_address_is_skipped_with_a_log_line(
        deposit, worker, demo, caplog):
    with demo.transaction() as s:  # as an old import could have left them
        find_user(s, "associe").email = ""
        find_user(s, "assistant").email = "assistant chez demo"
    caplog.set_level(logging.WARNING)  # what `liasse serve` shows (basicConfig WARNING)

    deposit("martin", BAKERY, "Achats", "Facture.pdf")
    after_quiet(worker)

    assert recipients(demo) == Counter({"expert@demo.invalid": 1})
    logged = [r.getMessage() for r in caplog.records if r.name == "liasse.alerts"]
    assert "alert not mailed to associe: no e-mail address" in logged
    assert "alert not mailed to assistant: invalid e-mail address" in logged
    assert not [r for r in caplog.records if r.exc_info], "no job crashed"


@pytest.mark.parametrize("name", [
    "Facture\r\nBcc: x@y.example.pdf",
    "Facture\nBcc: x@y.example\n\nCorps injecté.pdf",
    "Facture\rX-Injected: oui.pdf",
])
def test_a_document_name_cannot_alter_the_mail_headers(deposit, worker, demo, settings, name):
    deposit("martin", BAKERY, "Achats", name)
    after_quiet(worker)

    messages = outbox(demo)
    assert len(messages) == 3
    for row in messages:
        raw = build_message(row, settings.smtp, "Cabinet Démo").as_bytes()
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert sorted(parsed.keys()) == ["Content-Type", "From", "MIME-Version", "Message-ID",
                                         "Subject", "To"]
        assert parsed["To"] == row.recipient
        subject = parsed["Subject"]
        assert "\r" not in subject and "\n" not in subject
        assert subject.startswith("[Cabinet Démo] Nouveau document : Facture ")
        header_lines = raw.split(b"\n\n", 1)[0].split(b"\n")
        assert not [h for h in header_lines if h.lower().startswith((b"bcc", b"x-injected"))]
        for part in parsed.walk():
            assert part.get("Bcc") is None and part.get("X-Injected") is None


def test_a_mail_keeps_its_message_id_from_one_attempt_to_the_next(deposit, worker, demo,
                                                                   settings):
    """A mail resent after a crash carries the same Message-ID: the receiver can drop it."""
    deposit("martin", BAKERY, "Achats", "Facture.pdf")
    after_quiet(worker)
    ids = [build_message(row, settings.smtp, "Cabinet Démo")["Message-ID"]
           for row in outbox(demo)]
    again = [build_message(row, settings.smtp, "Cabinet Démo")["Message-ID"]
             for row in outbox(demo)]
    assert ids == again
    assert len(set(ids)) == 3


# --- the event stream -------------------------------------------------------------------------

def event_count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Event))


@pytest.mark.parametrize("name", ["._Facture.pdf", ".DS_Store", "Thumbs.db", "~$Bilan.xlsx"])
def test_client_files_produce_no_event_and_no_alert(deposit, worker, demo, name):
    before = event_count(demo)
    deposit("martin", BAKERY, "Achats", name, body=b"\x00\x05\x16\x07 finder")
    after_quiet(worker)
    assert event_count(demo) == before
    assert outbox(demo) == []


def test_the_event_is_written_in_the_transaction_of_the_change(demo, blobs):
    sha, size = blobs.put(io.BytesIO(b"corps"))
    before = event_count(demo)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        with demo.transaction() as s:
            bakery = s.scalars(select(Company).where(Company.name == BAKERY)).one()
            store_body(s, resolve(s, bakery, ["Achats"]), "Annulé.pdf", sha, size,
                       find_user(s, "martin").id)
            raise Abort
    with demo.session() as s:
        assert s.scalars(select(Node).where(Node.name == "Annulé.pdf")).all() == []
    assert event_count(demo) == before, "no event for a change that rolled back"

    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.name == BAKERY)).one()
        node = store_body(s, resolve(s, bakery, ["Achats"]), "Gardé.pdf", sha, size,
                          find_user(s, "martin").id)
        node_id = node.id
    with demo.session() as s:
        event = s.scalars(select(Event).where(Event.node_id == node_id)).one()
        assert (event.kind, event.folder, event.path) == (
            "deposited", "Achats", "Boulangerie Martin/Achats/Gardé.pdf")
        assert event.actor_id == find_user(s, "martin").id


def test_visible_events_since_follows_the_rights(deposit, demo):
    with demo.session() as s:
        start = s.scalar(select(func.max(Event.id))) or 0
    deposit("expert", BAKERY, "Fiscalité", "Liasse 2026.pdf")
    deposit("martin", BAKERY, "Achats", "Facture A.pdf")
    deposit("secretaire", BAKERY, "Banque", "Relevé.csv")
    deposit("dupont", GARAGE, "Ventes", "Facture G.pdf")

    def seen(login: str, after: int = start) -> list[str]:
        with demo.session() as s:
            principal = load_principal(s, find_user(s, login))
            return [e.path for e in visible_events_since(s, principal, after)]

    assert seen("secretaire") == ["Boulangerie Martin/Achats/Facture A.pdf",
                                  "Boulangerie Martin/Banque/Relevé.csv"]
    assert seen("dupont") == ["Garage Dupont/Ventes/Facture G.pdf"]
    assert seen("assistant") == ["Boulangerie Martin/Fiscalité/Liasse 2026.pdf",
                                 "Boulangerie Martin/Achats/Facture A.pdf",
                                 "Boulangerie Martin/Banque/Relevé.csv"]
    assert len(seen("expert")) == 4

    # From the very first event (account changes of the demo included), nothing leaks.
    with demo.session() as s:
        companies = dict(s.execute(select(Company.id, Company.name)).all())
        for login, allowed in (("secretaire", {BAKERY}), ("dupont", {GARAGE})):
            principal = load_principal(s, find_user(s, login))
            events = visible_events_since(s, principal, 0, limit=10_000)
            assert events
            assert {companies[e.company_id] for e in events} == allowed
            assert not [e for e in events if e.folder == "Fiscalité"]


def test_visible_events_since_pages_past_invisible_events(deposit, demo):
    with demo.session() as s:
        start = s.scalar(select(func.max(Event.id))) or 0
    for i in range(30):
        deposit("dupont", GARAGE, "Ventes", f"Garage {i}.pdf")
    deposit("martin", BAKERY, "Achats", "Après.pdf")
    with demo.session() as s:
        principal = load_principal(s, find_user(s, "secretaire"))
        assert [e.path for e in visible_events_since(s, principal, start, limit=1)] == [
            "Boulangerie Martin/Achats/Après.pdf"]


# --- liasse outbox list -----------------------------------------------------------------------

def test_liasse_outbox_list_shows_each_mail_with_its_state_in_french(
        deposit, worker, demo, settings, capsys):
    deposit("martin", BAKERY, "Achats", "Facture listée.pdf")
    after_quiet(worker)
    with demo.transaction() as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        rows[0].status, rows[0].sent_at = "sent", utcnow()
        rows[1].status, rows[1].attempts = "failed", 10
        rows[1].last_error = "(550, b'Mailbox unavailable')"

    assert main(["--config", str(settings.source), "outbox", "list"]) == 0
    out = capsys.readouterr().out
    for heading in ("Destinataire", "Objet", "État", "Essais", "Dernière erreur"):
        assert heading in out
    lines = {m.recipient: next(line for line in out.splitlines() if m.recipient in line)
             for m in outbox(demo)}
    assert len(lines) == 3
    assert "envoyé" in lines[rows[0].recipient]
    assert "abandonné" in lines[rows[1].recipient]
    assert "Mailbox unavailable" in lines[rows[1].recipient]
    assert "en attente" in lines[rows[2].recipient]
    assert "Nouveau document : Facture listée.pdf" in out

    assert main(["--config", str(settings.source), "outbox", "list", "--status",
                 "pending"]) == 0
    out = capsys.readouterr().out
    assert rows[2].recipient in out and rows[0].recipient not in out


def test_the_outbox_list_is_refused_to_a_company_user(demo, settings, capsys):
    assert main(["--config", str(settings.source), "--as", "secretaire", "outbox",
                 "list"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("liasse : ")
