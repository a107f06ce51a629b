"""Threads and messages of a company's conversation space (seed 000: "La messagerie est
partagée au sein du cabinet tout comme l'entreprise ... seuls les utilisateurs habilités ont
accès").

Who may see or write is decided by the one permission function (`Action.MESSAGING` on the
company); a thread, a message or a document of another company, or of a company the user may
not use the messaging of, is not found (404), worded as what does not exist. A message is
never changed silently: an edit keeps the replaced text (`MessageRevision`), a withdrawal keeps
who and when. Every change is an event of the stream ("message:*"), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.documents import browsing, operations
from acl.documents.blobs import BlobStore
from acl.documents.limits import Limits
from acl.documents.store import Location
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.stream import record_event
from acl.messaging.models import (
    Message,
    MessageDocument,
    MessageRevision,
    MessageThread,
    ThreadRead,
)
from acl.people.models import Company
from acl.rights.policy import Action, Principal, Resource, authorize

MAX_BODY_BYTES = 100_000  # "over 100 kB" is refused (issue 19)
MAX_SUBJECT = 200
NO_THREAD = "Conversation introuvable."
NO_MESSAGE = "Message introuvable."
NO_SPACE = "Messagerie introuvable."


# --- who may ----------------------------------------------------------------------------------

def may_message(principal: Principal, company: Company) -> bool:
    return bool(authorize(principal, Action.MESSAGING, Resource(company.id, company.is_active)))


def space(session: Session, principal: Principal, company_id: int) -> Company:
    """The company whose conversation space the principal may use, else NotFound."""
    company = session.get(Company, company_id)
    if company is None or not may_message(principal, company):
        raise NotFound(NO_SPACE)
    return company


def companies_with_messaging(session: Session, principal: Principal) -> list[Company]:
    return [c for c in browsing.readable_companies(session, principal)
            if may_message(principal, c)]


# --- checks on what is typed --------------------------------------------------------------------

def check_subject(subject: str) -> str:
    subject = " ".join("".join(c if c.isprintable() else " " for c in subject).split())
    if not subject:
        raise InvalidInput("Indiquez l'objet de la conversation.", field="subject")
    if len(subject) > MAX_SUBJECT:
        raise InvalidInput(f"L'objet ne peut dépasser {MAX_SUBJECT} caractères.",
                           field="subject")
    return subject


def check_body(body: str) -> str:
    body = body.replace("\r\n", "\n").replace("\x00", "").strip()
    if not body:
        raise InvalidInput("Le message est vide : écrivez quelque chose.", field="body")
    if len(body.encode("utf-8")) > MAX_BODY_BYTES:
        raise InvalidInput("Le message est trop long : 100 ko au plus. Joignez plutôt un "
                           "document.", field="body")
    return body


# --- reading ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ThreadLine:
    thread: MessageThread
    messages: int
    unread: int


def _unread_filter(user_id: int):
    return and_(Message.author_id.is_distinct_from(user_id),
                Message.id > func.coalesce(ThreadRead.last_read_id, 0))


def thread_lines(session: Session, principal: Principal, company: Company) -> list[ThreadLine]:
    """The company's threads, latest activity first, with their unread count for the user."""
    counts = dict(session.execute(
        select(Message.thread_id, func.count()).where(Message.company_id == company.id)
        .group_by(Message.thread_id)).all())
    unread = dict(session.execute(
        select(Message.thread_id, func.count()).outerjoin(ThreadRead, and_(
            ThreadRead.thread_id == Message.thread_id, ThreadRead.user_id == principal.user_id))
        .where(Message.company_id == company.id, _unread_filter(principal.user_id))
        .group_by(Message.thread_id)).all())
    threads = session.scalars(select(MessageThread).where(
        MessageThread.company_id == company.id).order_by(MessageThread.last_message_at.desc(),
                                                         MessageThread.id.desc()))
    return [ThreadLine(t, counts.get(t.id, 0), unread.get(t.id, 0)) for t in threads]


def unread_counts(session: Session, principal: Principal,
                  companies: Iterable[Company] | None = None) -> dict[int, int]:
    """Company id -> messages the user has not read, over the companies he may message."""
    allowed = [c.id for c in (companies if companies is not None else
                              companies_with_messaging(session, principal))
               if may_message(principal, c)]
    if not allowed:
        return {}
    return dict(session.execute(
        select(Message.company_id, func.count()).outerjoin(ThreadRead, and_(
            ThreadRead.thread_id == Message.thread_id, ThreadRead.user_id == principal.user_id))
        .where(Message.company_id.in_(allowed), _unread_filter(principal.user_id))
        .group_by(Message.company_id)).all())


def get_thread(session: Session, principal: Principal, company: Company,
               thread_id: int) -> MessageThread:
    thread = session.get(MessageThread, thread_id)
    if thread is None or thread.company_id != company.id or not may_message(principal, company):
        raise NotFound(NO_THREAD)
    return thread


def get_message(session: Session, principal: Principal, company: Company,
                message_id: int) -> Message:
    message = session.get(Message, message_id)
    if message is None or message.company_id != company.id or \
            not may_message(principal, company):
        raise NotFound(NO_MESSAGE)
    return message


@dataclass
class ShownDocument:
    node_id: int
    name: str
    attached: bool
    readable: bool  # whether this reader may open it: a link opens only for its readers


@dataclass
class ShownMessage:
    message: Message
    revisions: list[MessageRevision] = field(default_factory=list)
    documents: list[ShownDocument] = field(default_factory=list)


def messages_of(session: Session, principal: Principal, thread: MessageThread, *,
                limit: int | None = None) -> list[ShownMessage]:
    """The thread's messages, oldest first (the last `limit` when given), with their replaced
    texts and documents; a document the reader may not read is named but not linked."""
    query = select(Message).where(Message.thread_id == thread.id)
    if limit:
        query = query.order_by(Message.id.desc()).limit(limit)
        messages = list(reversed(session.scalars(query).all()))
    else:
        messages = list(session.scalars(query.order_by(Message.id)))
    ids = [m.id for m in messages]
    shown = {m.id: ShownMessage(m) for m in messages}
    if not ids:
        return []
    for revision in session.scalars(select(MessageRevision).where(
            MessageRevision.message_id.in_(ids)).order_by(MessageRevision.id)):
        shown[revision.message_id].revisions.append(revision)
    for link in session.scalars(select(MessageDocument).where(
            MessageDocument.message_id.in_(ids))):
        try:
            location = browsing.open_node(session, principal, link.node_id)
            shown[link.message_id].documents.append(
                ShownDocument(link.node_id, location.node.name, link.attached, True))
        except NotFound:
            shown[link.message_id].documents.append(
                ShownDocument(link.node_id, "document non accessible", link.attached, False))
    return [shown[i] for i in ids]


def mark_read(session: Session, principal: Principal, thread: MessageThread) -> None:
    last = session.scalar(select(func.max(Message.id)).where(Message.thread_id == thread.id))
    row = session.get(ThreadRead, (principal.user_id, thread.id))
    if row is None:
        session.add(ThreadRead(user_id=principal.user_id, thread_id=thread.id,
                               last_read_id=last or 0))
    else:
        row.last_read_id = max(row.last_read_id, last or 0)


# --- writing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


def _linked(session: Session, principal: Principal, company: Company,
            node_ids: Sequence[int]) -> list[Location]:
    """The documents a message points at: live documents of this company the sender reads."""
    found = []
    for node_id in dict.fromkeys(node_ids):
        try:
            location = browsing.open_node(session, principal, node_id)
        except NotFound:
            raise NotFound("Document introuvable.") from None
        if location.company.id != company.id or location.node.kind != "file":
            raise NotFound("Document introuvable.")
        found.append(location)
    return found


def _file_attachments(session: Session, principal: Principal, company: Company,
                      blobs: BlobStore, limits: Limits, folder_id: int | None,
                      attachments: Sequence[Attachment]) -> list[Location]:
    """File the attachments through the operations layer into a folder the sender may write:
    the same rights, limits, locks, receipts and deposit events as any deposit."""
    if not attachments:
        return []
    if folder_id is None:
        raise InvalidInput("Choisissez le dossier où classer les pièces jointes.",
                           field="folder")
    try:
        folder = browsing.open_node(session, principal, folder_id)
    except NotFound:
        raise NotFound("Dossier introuvable.") from None
    if folder.company.id != company.id:
        raise NotFound("Dossier introuvable.")
    return [operations.deposit_bytes(session, principal, blobs, limits, folder, a.name, a.data)
            for a in attachments]


@dataclass(frozen=True)
class Draft:
    body: str
    links: Sequence[int] = ()
    attachments: Sequence[Attachment] = ()
    folder_id: int | None = None


def _post(session: Session, principal: Principal, company: Company, thread: MessageThread,
          draft: Draft, blobs: BlobStore | None, limits: Limits | None) -> Message:
    body = check_body(draft.body)
    linked = _linked(session, principal, company, draft.links)
    filed = _file_attachments(session, principal, company, blobs, limits, draft.folder_id,
                              draft.attachments) if draft.attachments else []
    now = utcnow()
    message = Message(thread_id=thread.id, company_id=company.id, author_id=principal.user_id,
                      author_side=principal.side.value, body=body, created_at=now)
    session.add(message)
    session.flush()
    for location in linked:
        session.add(MessageDocument(message_id=message.id, node_id=location.node.id,
                                    attached=False))
    for location in filed:
        session.merge(MessageDocument(message_id=message.id, node_id=location.node.id,
                                      attached=True))
    thread.last_message_at = now
    mark_read(session, principal, thread)
    record_event(session, "message:posted", company_id=company.id, folder="", node_id=None,
                 path=thread.subject, actor_id=principal.user_id,
                 detail={"thread": thread.id, "message": message.id})
    session.flush()
    return message


def start_thread(session: Session, principal: Principal, company: Company, subject: str,
                 draft: Draft, *, blobs: BlobStore | None = None,
                 limits: Limits | None = None) -> tuple[MessageThread, Message]:
    if not may_message(principal, company):
        raise NotFound(NO_SPACE)
    subject = check_subject(subject)
    check_body(draft.body)  # before anything is written
    thread = MessageThread(company_id=company.id, subject=subject,
                           created_by_id=principal.user_id)
    session.add(thread)
    session.flush()
    return thread, _post(session, principal, company, thread, draft, blobs, limits)


def reply(session: Session, principal: Principal, company: Company, thread: MessageThread,
          draft: Draft, *, blobs: BlobStore | None = None,
          limits: Limits | None = None) -> Message:
    thread = get_thread(session, principal, company, thread.id)
    return _post(session, principal, company, thread, draft, blobs, limits)


def _own(principal: Principal, message: Message) -> None:
    if message.author_id != principal.user_id:
        raise PermissionDenied("Seul l'auteur d'un message peut le modifier ou le retirer.")
    if message.retracted_at is not None:
        raise InvalidInput("Ce message a été retiré.")


def edit(session: Session, principal: Principal, company: Company, message: Message,
         body: str) -> Message:
    """Change a message's text; the replaced text stays visible as such."""
    message = get_message(session, principal, company, message.id)
    _own(principal, message)
    body = check_body(body)
    if body == message.body:
        return message
    session.add(MessageRevision(message_id=message.id, body=message.body))
    message.body = body
    message.edited_at = utcnow()
    record_event(session, "message:edited", company_id=company.id, folder="", node_id=None,
                 path="", actor_id=principal.user_id,
                 detail={"thread": message.thread_id, "message": message.id})
    session.flush()
    return message


def retract(session: Session, principal: Principal, company: Company,
            message: Message) -> Message:
    """Withdraw a message: "message retiré", by whom and when, stays in its place."""
    message = get_message(session, principal, company, message.id)
    _own(principal, message)
    session.add(MessageRevision(message_id=message.id, body=message.body))
    message.body = ""
    message.retracted_at = utcnow()
    message.retracted_by_id = principal.user_id
    record_event(session, "message:retracted", company_id=company.id, folder="", node_id=None,
                 path="", actor_id=principal.user_id,
                 detail={"thread": message.thread_id, "message": message.id})
    session.flush()
    return message


def last_activity(session: Session, company: Company) -> datetime | None:
    return session.scalar(select(func.max(MessageThread.last_message_at)).where(
        MessageThread.company_id == company.id))
