"""Activity figures for dashboards: per company, in one grouped query each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, and_, func, select
from sqlalchemy.orm import Session

from acl.db import as_utc
from acl.documents.models import Node
from acl.documents.operations import may_read
from acl.documents.store import location_of
from acl.people.models import User
from acl.rights.models import Side
from acl.rights.policy import Principal


@dataclass(frozen=True)
class Activity:
    awaiting_receipt: int = 0  # deposited by the company, not yet downloaded by the firm
    last_deposit: datetime | None = None
    documents: int = 0


def company_activity(session: Session, company_ids: list[int]) -> dict[int, Activity]:
    if not company_ids:
        return {}
    live_docs = and_(Node.kind == "file", Node.deleted_at.is_(None), ~Node.is_client_file,
                     Node.company_id.in_(company_ids))
    awaiting = func.sum(func.cast(and_(Node.received_at.is_(None),
                                       User.side == Side.COMPANY.value), Integer))
    rows = session.execute(
        select(Node.company_id, func.count(Node.id), func.max(Node.created_at), awaiting)
        .outerjoin(User, User.id == Node.deposited_by_id).where(live_docs)
        .group_by(Node.company_id)).all()
    return {cid: Activity(int(waiting or 0), as_utc(last), count)
            for cid, count, last, waiting in rows}


def recent_documents(session: Session, principal: Principal, company_id: int, *,
                     limit: int = 15, received_only: bool = False) -> list[tuple[Node, str]]:
    """The company's latest documents the principal may read, with their paths."""
    stmt = select(Node).where(Node.company_id == company_id, Node.kind == "file",
                              Node.deleted_at.is_(None), ~Node.is_client_file)
    if received_only:
        stmt = stmt.where(Node.received_at.is_not(None)).order_by(Node.received_at.desc())
    else:
        stmt = stmt.order_by(Node.created_at.desc())
    found = []
    for node in session.scalars(stmt.limit(limit * 4)):
        location = location_of(session, node)
        if any(n.deleted_at is not None for n in location.nodes):
            continue
        if may_read(principal, location):
            found.append((node, location.path))
        if len(found) >= limit:
            break
    return found


def awaiting_receipt(session: Session, principal: Principal, company_ids: list[int], *,
                     limit: int = 500) -> list[tuple[Node, str, str]]:
    """What the dashboard counts as "déposés non réceptionnés", listed: the live documents
    deposited by the companies' side that nobody of the firm has downloaded yet, newest
    first, among those the principal may read: (node, company name, path)."""
    if not company_ids:
        return []
    rows = session.scalars(
        select(Node).join(User, User.id == Node.deposited_by_id).where(
            Node.company_id.in_(company_ids), Node.kind == "file", Node.deleted_at.is_(None),
            ~Node.is_client_file, Node.received_at.is_(None),
            User.side == Side.COMPANY.value)
        .order_by(Node.created_at.desc(), Node.id.desc()).limit(limit * 2))
    found = []
    for node in rows:
        location = location_of(session, node)
        if any(n.deleted_at is not None for n in location.nodes):
            continue
        if may_read(principal, location):
            found.append((node, location.company.name, location.path))
        if len(found) >= limit:
            break
    return found
