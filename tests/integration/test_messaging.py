"""Messaging in-process (issue 19): threads shared within each side, decided by the one
permission function; links and attachments; unread counts; mails and forwarding through the
outbox; edits and withdrawals kept visible; the company timeline from the event stream."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from support import conversations

from acl.documents import store
from acl.documents.limits import Limits
from acl.documents.models import Node
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.models import Event, OutboxMessage
from acl.events.stream import last_event_id, visible_events_since
from acl.messaging import mail, threads, timeline
from acl.messaging.models import Message, MessageRevision, MessageThread
from acl.messaging.threads import Attachment, Draft
from acl.people import accounts
from acl.people.accounts import find_user
from acl.people.models import Company
from acl.rights.models import Service
from acl.rights.principals import load_principal


@pytest.fixture(autouse=True)
def _without_demo_conversations(demo):
    conversations.clear(demo)

BASE = "http://liasse.test"


def company(s, name="Boulangerie Martin") -> Company:
    return s.scalars(select(Company).where(Company.name == name)).one()


def who(s, login):
    return load_principal(s, find_user(s, login))


def start(db, login="expert", subject="Bilan 2026", body="Bonjour, où en est le bilan ?",
          recipients=(), **draft):
    with db.transaction() as s:
        bakery = company(s)
        thread, message = threads.start_thread(s, who(s, login), bakery, subject,
                                               Draft(body, **draft))
        chosen = mail.chosen_recipients(s, bakery, [find_user(s, r).id for r in recipients])
        mail.queue_mails(s, bakery, thread, message, find_user(s, login), chosen, BASE)
        return thread.id, message.id


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_message_of_the_firm_reaches_martin_by_mail_and_stays_on_the_platform(demo):
    thread_id, _ = start(demo, recipients=["martin"])
    with demo.session() as s:
        mails = list(s.scalars(select(OutboxMessage)))
        assert [m.recipient for m in mails] == ["martin@demo.invalid"]
        assert mails[0].subject == "[Cabinet Démo] Boulangerie Martin : Bilan 2026"
        assert f"{BASE}/messagerie/{company(s).id}/fil/{thread_id}" in mails[0].text_body
        assert "Bonjour, où en est le bilan ?" in mails[0].text_body
        assert "Une copie du message est conservée sur la plateforme" in mails[0].text_body
        martin = who(s, "martin")
        lines = threads.thread_lines(s, martin, company(s))
        assert [(line.thread.subject, line.unread) for line in lines] == [("Bilan 2026", 1)]
        assert threads.unread_counts(s, martin) == {company(s).id: 1}


def test_the_space_is_shared_within_each_side_and_closed_to_others(demo):
    with demo.session() as s:
        before = last_event_id(s)
    thread_id, _ = start(demo)
    with demo.transaction() as s:
        bakery = company(s)
        thread = s.get(MessageThread, thread_id)
        threads.reply(s, who(s, "martin"), bakery, thread, Draft("Il avance, merci."))
    with demo.session() as s:
        bakery, thread = company(s), s.get(MessageThread, thread_id)
        for login in ("associe", "assistant", "expert", "martin"):
            shown = threads.messages_of(s, who(s, login), thread)
            assert [m.message.body for m in shown] == ["Bonjour, où en est le bilan ?",
                                                       "Il avance, merci."], login
        # secretaire has no messaging right; dupont is another company's.
        for login in ("secretaire", "dupont"):
            with pytest.raises(NotFound):
                threads.space(s, who(s, login), bakery.id)
            with pytest.raises(NotFound):
                threads.get_thread(s, who(s, login), bakery, thread_id)
            assert threads.unread_counts(s, who(s, login)) == {}
        garage = company(s, "Garage Dupont")
        with pytest.raises(NotFound):  # a thread id of another company
            threads.get_thread(s, who(s, "expert"), garage, thread_id)
        posted = [e for e in visible_events_since(s, who(s, "secretaire"), before)
                  if e.kind.startswith("message:")]
        assert posted == []
        assert [e.kind for e in visible_events_since(s, who(s, "associe"), before)] == [
            "message:posted", "message:posted"]
        assert threads.unread_counts(s, who(s, "associe")) == {bakery.id: 2}
        assert threads.unread_counts(s, who(s, "martin")) == {}  # he read it by answering


def test_reading_a_thread_clears_its_unread_count(demo):
    thread_id, _ = start(demo)
    with demo.transaction() as s:
        threads.mark_read(s, who(s, "martin"), s.get(MessageThread, thread_id))
    with demo.session() as s:
        assert threads.unread_counts(s, who(s, "martin")) == {}
        assert threads.unread_counts(s, who(s, "associe")) == {company(s).id: 1}


@pytest.mark.parametrize("body, reason", [
    ("", "Le message est vide : écrivez quelque chose."),
    ("  \n\t ", "Le message est vide : écrivez quelque chose."),
    ("é" * 50_001, "Le message est trop long : 100 ko au plus. Joignez plutôt un document."),
])
def test_empty_or_huge_messages_are_refused_and_nothing_is_written(demo, body, reason):
    with pytest.raises(InvalidInput) as refused:
        start(demo, body=body)
    assert refused.value.reason == reason
    assert count(demo, MessageThread) == 0 and count(demo, Message) == 0


def test_a_subject_is_required_and_bounded(demo):
    with pytest.raises(InvalidInput, match="objet"):
        start(demo, subject="   ")
    with pytest.raises(InvalidInput, match="200 caractères"):
        start(demo, subject="x" * 201)
    assert count(demo, MessageThread) == 0


def test_recipients_are_only_the_company_interlocutors(demo):
    with demo.session() as s:
        designated = [u.login for u in mail.designated_recipients(s, company(s))]
    assert designated == ["martin"]  # secretaire lacks the messaging right
    with pytest.raises(InvalidInput, match="interlocuteur désigné"):
        start(demo, recipients=["dupont"])
    assert count(demo, MessageThread) == 0 and count(demo, OutboxMessage) == 0


def test_links_open_only_for_readers_of_the_document(demo, ctx_of):
    with demo.session() as s:
        liasse = s.scalars(select(Node).where(Node.name == "Liasse fiscale 2025.pdf")).one().id
        garage_doc = s.scalars(select(Node).where(Node.name == "Facture 2026-0042.pdf")).one().id
    with pytest.raises(NotFound):  # a document of another company
        start(demo, links=[garage_doc])
    thread_id, _ = start(demo, links=[liasse])
    with demo.transaction() as s:  # secretaire may now message, still not read Fiscalité
        accounts.grant_service(s, ctx_of("martin", s), find_user(s, "secretaire"), company(s),
                               Service.MESSAGING, True)
    with demo.session() as s:
        thread = s.get(MessageThread, thread_id)
        [seen_by_martin] = threads.messages_of(s, who(s, "martin"), thread)
        assert [(d.name, d.readable) for d in seen_by_martin.documents] == [
            ("Liasse fiscale 2025.pdf", True)]
        [seen_by_secretary] = threads.messages_of(s, who(s, "secretaire"), thread)
        assert [(d.name, d.readable) for d in seen_by_secretary.documents] == [
            ("document non accessible", False)]


def test_attachments_are_filed_in_a_folder_the_sender_may_write(demo, blobs, settings):
    limits = Limits.from_settings(settings.drive)
    with demo.session() as s:
        achats = store.resolve(s, company(s), ["Achats"]).node.id
    with demo.transaction() as s:
        thread = MessageThread(company_id=company(s).id, subject="Pièces")
        s.add(thread)
        s.flush()
        thread_id = thread.id
    with demo.transaction() as s, pytest.raises(NotFound):  # secretaire: no messaging at all
        threads.reply(s, who(s, "secretaire"), company(s), s.get(MessageThread, thread_id),
                      Draft("ci-joint", attachments=[Attachment("a.pdf", b"%PDF")],
                            folder_id=achats), blobs=blobs, limits=limits)
    with demo.transaction() as s:
        threads.reply(s, who(s, "martin"), company(s), s.get(MessageThread, thread_id),
                      Draft("Voici la facture.", attachments=[
                          Attachment("Facture EDF.pdf", b"%PDF-1.4 edf\n")], folder_id=achats),
                      blobs=blobs, limits=limits)
    with demo.session() as s:
        node = s.scalars(select(Node).where(Node.name == "Facture EDF.pdf")).one()
        assert store.location_of(s, node).path == "Boulangerie Martin/Achats/Facture EDF.pdf"
        assert s.scalars(select(Event).where(Event.kind == "deposited",
                                             Event.node_id == node.id)).one()
        entries = timeline.timeline(s, who(s, "associe"), company(s))
        assert ("deposited", "Jean Martin", "Achats/Facture EDF.pdf") in [
            (e.kind, e.who, e.text) for e in entries]
        assert ("message", "Jean Martin", "Pièces") in [(e.kind, e.who, e.text)
                                                       for e in entries]
    # a folder of another company: not found, and the message is not written either
    with demo.session() as s:
        garage_folder = store.resolve(s, company(s, "Garage Dupont"), ["Achats"]).node.id
    before = count(demo, Message)
    with demo.transaction() as s, pytest.raises(NotFound):
        threads.reply(s, who(s, "martin"), company(s), s.get(MessageThread, thread_id),
                      Draft("x", attachments=[Attachment("b.pdf", b"%PDF")],
                            folder_id=garage_folder), blobs=blobs, limits=limits)
    assert count(demo, Message) == before


def test_edits_keep_the_previous_text_and_withdrawals_say_who_and_when(demo):
    with demo.session() as s:
        before = last_event_id(s)
    thread_id, message_id = start(demo)
    with demo.transaction() as s:
        message = s.get(Message, message_id)
        with pytest.raises(PermissionDenied):
            threads.edit(s, who(s, "associe"), company(s), message, "pas à moi")
    with demo.transaction() as s:
        threads.edit(s, who(s, "expert"), company(s), s.get(Message, message_id),
                     "Bonjour, où en est le bilan 2026 ?")
    with demo.session() as s:
        [shown] = threads.messages_of(s, who(s, "martin"), s.get(MessageThread, thread_id))
        assert shown.message.body == "Bonjour, où en est le bilan 2026 ?"
        assert shown.message.edited_at is not None
        assert [r.body for r in shown.revisions] == ["Bonjour, où en est le bilan ?"]
    with demo.transaction() as s:
        threads.retract(s, who(s, "expert"), company(s), s.get(Message, message_id))
    with demo.session() as s:
        message = s.get(Message, message_id)
        assert message.retracted_at is not None and message.body == ""
        assert find_user(s, "expert").id == message.retracted_by_id
        kinds = [e.kind for e in s.scalars(select(Event).where(
            Event.kind.like("message:%"), Event.id > before).order_by(Event.id))]
        assert kinds == ["message:posted", "message:edited", "message:retracted"]
        entries = timeline.timeline(s, who(s, "martin"), company(s))
        assert [e.text for e in entries if e.kind == "message"] == ["message retiré"]
    with demo.transaction() as s, pytest.raises(InvalidInput, match="retiré"):
        threads.edit(s, who(s, "expert"), company(s), s.get(Message, message_id), "encore")


def test_a_replaced_text_cannot_be_changed_in_the_database(demo):
    _, message_id = start(demo)
    with demo.transaction() as s:
        threads.edit(s, who(s, "expert"), company(s), s.get(Message, message_id), "v2")
    with pytest.raises(Exception, match="kept as it was"), demo.transaction() as s:
        s.scalars(select(MessageRevision)).one().body = "falsifié"
        s.flush()


def test_forwarding_goes_only_to_confirmed_addresses(demo):
    with demo.transaction() as s, pytest.raises(InvalidInput, match="Adresse e-mail invalide"):
        mail.add_forward(s, find_user(s, "martin"), "pas une adresse", BASE)
    with demo.transaction() as s:
        mail.add_forward(s, find_user(s, "martin"), "jean.martin@perso.invalid", BASE)
    with demo.session() as s:
        [confirmation] = s.scalars(select(OutboxMessage)).all()
    assert confirmation.recipient == "jean.martin@perso.invalid"
    token = confirmation.text_body.split("/messagerie/transferts/confirmer/")[1].split()[0]
    start(demo, subject="Avant confirmation")
    assert [m.recipient for m in _outbox(demo)][1:] == []  # never confirmed: nothing sent
    with demo.transaction() as s, pytest.raises(NotFound):
        mail.confirm_forward(s, "not-the-token")
    with demo.transaction() as s:
        assert mail.confirm_forward(s, token).address == "jean.martin@perso.invalid"
    start(demo, subject="Après confirmation")
    forwarded = _outbox(demo)[1:]
    assert [m.recipient for m in forwarded] == ["jean.martin@perso.invalid"]
    assert "Après confirmation" in forwarded[0].subject
    assert "transfert des messages" in forwarded[0].text_body


def _outbox(db):
    with db.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
