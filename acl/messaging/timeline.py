"""A company's timeline: its messages beside the receipts of its documents (deposited,
received by the other side), read from the event stream — not a copy (seed 000: "tous les
messages du cabinet et de vos entreprises, mais aussi les accusés de réception de chacun des
documents déposés"). Each receipt is filtered by the reader's rights (`is_visible`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.db import as_utc
from acl.events.models import Event
from acl.events.stream import is_visible
from acl.messaging.models import Message, MessageThread
from acl.people.models import Company, User
from acl.rights.policy import Principal

RECEIPT_KINDS = ("deposited", "received")


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # "message", "deposited" or "received"
    who: str
    text: str
    thread_id: int | None = None
    node_id: int | None = None


def timeline(session: Session, principal: Principal, company: Company, *,
             limit: int = 50) -> list[Entry]:
    """The latest `limit` entries, newest first."""
    names = {}

    def name(user_id: int | None) -> str:
        if user_id not in names:
            user = session.get(User, user_id) if user_id else None
            names[user_id] = user.display_name if user else "?"
        return names[user_id]

    entries = [Entry(as_utc(m.created_at), "message", name(m.author_id),
                     "message retiré" if m.retracted_at else subject, thread_id=m.thread_id)
               for m, subject in session.execute(
                   select(Message, MessageThread.subject).join(
                       MessageThread, MessageThread.id == Message.thread_id)
                   .where(Message.company_id == company.id)
                   .order_by(Message.id.desc()).limit(limit)).all()]
    events = session.scalars(select(Event).where(
        Event.company_id == company.id, Event.kind.in_(RECEIPT_KINDS))
        .order_by(Event.id.desc()).limit(limit * 4))
    shown = 0
    for event in events:
        if shown >= limit:
            break
        if not is_visible(principal, event, company.is_active):
            continue
        shown += 1
        entries.append(Entry(as_utc(event.at), event.kind, name(event.actor_id),
                             event.path.split("/", 1)[-1], node_id=event.node_id))
    return sorted(entries, key=lambda e: e.at, reverse=True)[:limit]
