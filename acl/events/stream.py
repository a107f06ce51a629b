"""The append-only event stream: what happened, written in the transaction of the change.

Alerts, dashboards and feeds read it (`events_since`), each filtered by the reader's rights.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.events.models import Event
from acl.people.models import Company
from acl.rights.delegation import may_read_audit
from acl.rights.models import Role, Side
from acl.rights.policy import Action, Principal, Resource, authorize, reaches


def event_values(kind: str, *, company_id: int | None, folder: str, node_id: int | None,
                 path: str, actor_id: int | None, detail: dict[str, Any]) -> dict[str, Any]:
    """The columns of one event row (for `record_event`, or a bulk insert of many)."""
    return {"at": utcnow(), "kind": kind, "company_id": company_id, "folder": folder,
            "node_id": node_id, "path": path, "actor_id": actor_id,
            "detail": json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)}


def record_event(session: Session, kind: str, *, company_id: int | None, folder: str,
                 node_id: int | None, path: str, actor_id: int | None,
                 detail: dict[str, Any]) -> Event:
    event = Event(**event_values(kind, company_id=company_id, folder=folder, node_id=node_id,
                                 path=path, actor_id=actor_id, detail=detail))
    session.add(event)
    return event


def events_since(session: Session, after_id: int, *, limit: int = 500,
                 kinds: tuple[str, ...] | None = None) -> list[Event]:
    """Events with an id above `after_id`, oldest first (primary-key range scan), of these
    kinds only if given."""
    query = select(Event).where(Event.id > after_id)
    if kinds is not None:
        query = query.where(Event.kind.in_(kinds))
    return list(session.scalars(query.order_by(Event.id).limit(limit)))


def last_event_id(session: Session) -> int:
    return session.scalar(select(func.max(Event.id))) or 0


ACCOUNT_PREFIX = "account:"
MESSAGE_PREFIX = "message:"  # messaging: for who may use the company's messaging
CALENDAR_PREFIX = "calendar:"  # calendar: for who sees its calendar; "private": company side


def is_visible(principal: Principal, event: Event, company_active: bool = True) -> bool:
    """Whether `principal` may see this event (the one permission function decides)."""
    if event.kind.startswith(ACCOUNT_PREFIX):
        if not may_read_audit(principal):
            return False
        return event.company_id is None and principal.role == Role.CORRESPONDANT or \
            event.company_id is not None and reaches(principal, event.company_id)
    if event.company_id is None:
        return False
    if event.kind.startswith(MESSAGE_PREFIX):
        return bool(authorize(principal, Action.MESSAGING,
                              Resource(event.company_id, company_active)))
    if event.kind.startswith(CALENDAR_PREFIX):
        if event.kind.endswith(":private") and principal.side != Side.COMPANY:
            return False
        return bool(authorize(principal, Action.CALENDAR,
                              Resource(event.company_id, company_active)))
    return bool(authorize(principal, Action.READ,
                          Resource(event.company_id, company_active, None,
                                   event.folder or None)))


def visible_events_since(session: Session, principal: Principal, after_id: int, *,
                         limit: int = 100) -> list[Event]:
    """What happened after event `after_id` that `principal` may see, oldest first."""
    active = {c.id: c.is_active for c in session.scalars(select(Company))}
    found: list[Event] = []
    while len(found) < limit:
        batch = events_since(session, after_id, limit=500)
        if not batch:
            break
        found += [e for e in batch if is_visible(principal, e, active.get(e.company_id, True))]
        after_id = batch[-1].id
    return found[:limit]
