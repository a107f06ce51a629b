"""What a person's feed holds: the newest events of the stream they may see now.

Feed readers (issue 20) list deposits and receipts of documents, new messages and the
calendar alerts that fell due. Every fetch filters by the reader's rights of the moment
(`stream.is_visible`, the one permission function): an item of a folder whose habilitation was
revoked is gone from the next fetch. Client helper files (`._*`, `Thumbs.db`...) raise no
deposit event; a receipt of one is left out here. A calendar alert is shown to whom it
was for: its own user, or every user of the company when the firm set it for them.

The scan walks the stream backwards by primary key in batches and stops after `MAX_SCANNED`
events, so that a reader who sees little of a busy firm costs a bounded amount of work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.calendar.models import CalendarAlert
from acl.db import as_utc
from acl.documents.models import Node
from acl.documents.store import is_client_file
from acl.errors import InvalidInput, NotFound
from acl.events.models import Event
from acl.events.stream import is_visible
from acl.people.models import Company, User
from acl.rights.policy import Action, Principal, Resource, authorize, reaches

# The filters a feed URL may name (`?types=depots,messages`), and the events of each.
KINDS: dict[str, tuple[str, ...]] = {
    "depots": ("deposited",),
    "receptions": ("received",),
    "messages": ("message:posted",),
    "alertes": ("calendar:alert_mailed",),
}
BATCH = 500
MAX_SCANNED = 20_000
NO_COMPANY = "Entreprise introuvable."


@dataclass
class FeedEntry:
    """One item, with what a title, a link and a stable id are made of."""

    event_id: int
    at: datetime
    kind: str
    company_id: int
    company_name: str
    folder: str
    path: str  # the company's folder name, then the document's path
    actor: str  # login of who did it ("" when nobody: the worker)
    actor_name: str
    node_id: int | None
    detail: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """`depots,messages` -> the event kinds; empty or absent: all. Unknown: InvalidInput."""
    if text is None or not text.strip():
        return tuple(k for kinds in KINDS.values() for k in kinds)
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in KINDS]
    if unknown or len(names) > len(KINDS):
        raise InvalidInput("Filtre inconnu : les types possibles sont "
                           + ", ".join(KINDS) + ".", field="types")
    return tuple(k for n in names for k in KINDS[n])


def feed_company(session: Session, principal: Principal, company_id: int) -> Company:
    """The company of a per-company feed, if the principal reaches it; else NotFound (a
    company one does not reach answers as one that does not exist)."""
    company = session.get(Company, company_id)
    if company is None or not reaches(principal, company.id) or not authorize(
            principal, Action.CALENDAR, Resource(company.id, company.is_active)):
        raise NotFound(NO_COMPANY)
    return company


def _alerts_for(session: Session, principal: Principal,
                events: list[Event]) -> dict[int, str]:
    """The alerts among these events that were for the principal: id -> day of the event."""
    ids = [json.loads(e.detail or "{}").get("alert") for e in events
           if e.kind == "calendar:alert_mailed"]
    ids = [i for i in ids if isinstance(i, int)]
    if not ids:
        return {}
    return {a.id: a.event_on.isoformat() for a in session.scalars(select(CalendarAlert).where(
        CalendarAlert.id.in_(ids))) if a.user_id in (None, principal.user_id)}


def recent_entries(session: Session, principal: Principal, *, company: Company | None = None,
                   kinds: tuple[str, ...], limit: int = 100) -> list[FeedEntry]:
    """The newest events of these kinds the principal may see, newest first, at most
    `limit`; of one company if given."""
    companies = {c.id: c for c in session.scalars(select(Company))} if company is None \
        else {company.id: company}
    reached = [cid for cid in companies if reaches(principal, cid)]
    if not reached or not principal.active:
        return []
    query = select(Event).where(Event.kind.in_(kinds))
    if company is not None or len(reached) < 900:
        query = query.where(Event.company_id.in_(reached))
    found: list[Event] = []
    days: dict[int, str] = {}
    before, scanned = None, 0
    while len(found) < limit and scanned < MAX_SCANNED:
        page = query if before is None else query.where(Event.id < before)
        batch = list(session.scalars(page.order_by(Event.id.desc()).limit(BATCH)))
        if not batch:
            break
        scanned += len(batch)
        before = batch[-1].id
        alerts = _alerts_for(session, principal, batch)
        days.update(alerts)
        for event in batch:
            owner = companies.get(event.company_id)
            if owner is None or not is_visible(principal, event, owner.is_active):
                continue
            if event.kind == "calendar:alert_mailed" and \
                    json.loads(event.detail or "{}").get("alert") not in alerts:
                continue
            if event.node_id is not None and is_client_file(event.path.rsplit("/", 1)[-1]):
                continue
            found.append(event)
    return _entries(session, found[:limit], companies, days)


def _entries(session: Session, events: list[Event], companies: dict[int, Company],
             days: dict[int, str]) -> list[FeedEntry]:
    actor_ids = {e.actor_id for e in events if e.actor_id is not None}
    actors = {u.id: u for u in session.scalars(select(User).where(User.id.in_(actor_ids)))} \
        if actor_ids else {}
    node_ids = {e.node_id for e in events if e.node_id is not None}
    client_nodes = set(session.scalars(select(Node.id).where(
        Node.id.in_(node_ids), Node.is_client_file.is_(True)))) if node_ids else set()
    entries = []
    for event in events:
        if event.node_id in client_nodes:
            continue
        actor = actors.get(event.actor_id)
        detail = json.loads(event.detail or "{}")
        if isinstance(detail, dict) and detail.get("alert") in days:
            detail["on"] = days[detail["alert"]]
        entries.append(FeedEntry(
            event.id, as_utc(event.at), event.kind, event.company_id,
            companies[event.company_id].name, event.folder, event.path,
            actor.login if actor else "", actor.display_name if actor else "",
            event.node_id, detail if isinstance(detail, dict) else {}))
    return entries
