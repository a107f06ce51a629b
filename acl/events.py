"""The append-only event stream: what happened, written in the transaction of the change.

Alerts, dashboards and feeds read it (`events_since`), each filtered by the reader's rights.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.models import Event


def record_event(session: Session, kind: str, *, company_id: int | None, folder: str,
                 node_id: int | None, path: str, actor_id: int | None,
                 detail: dict[str, Any]) -> Event:
    event = Event(kind=kind, company_id=company_id, folder=folder, node_id=node_id, path=path,
                  actor_id=actor_id,
                  detail=json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str))
    session.add(event)
    return event


def events_since(session: Session, after_id: int, *, limit: int = 500) -> list[Event]:
    """Events with an id above `after_id`, oldest first (primary-key range scan)."""
    return list(session.scalars(select(Event).where(Event.id > after_id)
                                .order_by(Event.id).limit(limit)))
