"""WebDAV locks as rows: taken and refreshed by the drive (through WsgiDAV's lock manager,
davserver/locks.py), honoured by every channel (the operations layer refuses to change what
someone else has locked), listed and broken by the firm (web and CLI, audited).

A lock's root is the locked URL path below /dav, percent-encoded as WsgiDAV writes it
("/Boulangerie%20Martin/Achats/x.txt"); `root_of` gives it for a location. A lock covers its
root and, with depth infinity, everything below. A lock lasts `[drive] lock_max_seconds` at
most without being refreshed (RFC 4918 §10.7: the server may shorten the timeout asked):
a client cannot freeze a folder for weeks.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.documents.models import DavLock
from acl.errors import NotFound
from acl.people.models import Company
from acl.rights.audit import Context, record
from acl.rights.delegation import may_break_locks
from acl.rights.models import Generation
from acl.rights.policy import Principal

LOCKS = "locks"  # the generation counter bumped when a lock is taken or released


@dataclass(frozen=True)
class LockInfo:
    """A lock as the firm sees it (listing, breaking) and as the operations layer checks it."""

    token: str
    root: str
    path: str  # the root, decoded: "Boulangerie Martin/Achats/x.txt"
    principal: str
    scope: str
    depth: str
    expire: float


def root_of(path: str) -> str:
    """The lock root of a drive path ("Boulangerie Martin/Achats/x.txt")."""
    return "/" + quote(path.strip("/"))


def _info(row: DavLock) -> LockInfo:
    return LockInfo(row.token, row.root, unquote(row.root).lstrip("/"), row.principal,
                    row.scope, row.depth, row.expire)


def _bump(session: Session) -> None:
    session.execute(update(Generation).where(Generation.name == LOCKS)
                    .values(value=Generation.value + 1))


def _live(now: float | None = None):
    return DavLock.expire >= (time.time() if now is None else now)


def _below(root: str):
    """Roots strictly below `root` (LIKE with its wildcards escaped)."""
    escaped = root.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return DavLock.root.like(escaped + "/%", escape="\\")


def bounded(timeout: float, max_seconds: int) -> float:
    """The lifetime granted for a lifetime asked (-1: infinite) (RFC 4918 §10.7)."""
    return float(max_seconds) if timeout < 0 or timeout > max_seconds else float(timeout)


def create(session: Session, *, root: str, scope: str, depth: str, owner: bytes,
           principal: str, timeout: float) -> DavLock:
    row = DavLock(token="opaquelocktoken:" + hex(secrets.randbits(256)), root=root,
                  scope=scope, depth=depth, owner=owner, principal=principal,
                  timeout=timeout, expire=time.time() + timeout, created_at=utcnow())
    session.add(row)
    _bump(session)
    return row


def get(session: Session, token: str) -> DavLock | None:
    """The live lock of this token (an expired one is gone)."""
    return session.scalars(select(DavLock).where(DavLock.token == token, _live())).first()


def refresh(session: Session, token: str, timeout: float) -> DavLock | None:
    row = session.get(DavLock, token)
    if row is None:
        return None
    row.timeout, row.expire = timeout, time.time() + timeout
    return row


def remove(session: Session, token: str) -> bool:
    deleted = session.execute(delete(DavLock).where(DavLock.token == token)).rowcount > 0
    if deleted:
        _bump(session)
    return deleted


def at(session: Session, root: str, *, include_root: bool, include_children: bool
       ) -> list[DavLock]:
    """The live locks taken on `root` itself and/or on paths below it (WsgiDAV's
    `get_lock_list`: direct locks only)."""
    where = []
    if include_root:
        where.append(DavLock.root == root)
    if include_children:
        where.append(_below(root))
    return list(session.scalars(select(DavLock).where(or_(*where), _live())))


def covering(session: Session, root: str, *, below: bool = False) -> list[LockInfo]:
    """The live locks that cover `root`: on it, on a folder above it with depth infinity,
    and, with `below`, on anything under it (what deleting or moving a folder changes)."""
    above = [root.rsplit("/", n)[0] for n in range(1, root.count("/"))]
    where = [DavLock.root == root]
    if above:
        where.append(DavLock.root.in_(above) & (DavLock.depth == "infinity"))
    if below:
        where.append(_below(root))
    return [_info(row) for row in session.scalars(
        select(DavLock).where(or_(*where), _live()).order_by(DavLock.root))]


def listed(session: Session, roots: Iterable[str] | None = None) -> list[LockInfo]:
    """Every live lock (of these company roots, when given), by path."""
    stmt = select(DavLock).where(_live()).order_by(DavLock.root)
    if roots is not None:
        roots = list(roots)
        if not roots:
            return []
        stmt = stmt.where(or_(*(or_(DavLock.root == r, _below(r)) for r in roots)))
    return [_info(row) for row in session.scalars(stmt)]


def any_lock(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(DavLock).where(_live())) > 0


def purge_expired(session: Session) -> int:
    return session.execute(delete(DavLock).where(DavLock.expire < time.time())).rowcount


def visible(session: Session, principal: Principal) -> list[tuple[LockInfo, Company]]:
    """The live locks on the documents of the companies whose locks the principal may
    break, with their company."""
    companies = {root_of(c.folder_name): c for c in session.scalars(select(Company))
                 if may_break_locks(principal, c.id)}
    found = []
    for info in listed(session, companies):
        company_root = "/" + info.root.lstrip("/").split("/", 1)[0]
        found.append((info, companies[company_root]))
    return found


def break_lock(session: Session, ctx: Context, token: str) -> LockInfo:
    """Remove someone's lock (the firm's remedy for a client that died holding one); audited.
    NotFound for a lock that is gone or that the actor may not see."""
    for info, company in visible(session, ctx.principal):
        if info.token == token:
            remove(session, token)
            record(session, ctx, "lock.break", info.path, company_id=company.id,
                   detail={"par": info.principal})
            return info
    raise NotFound("Ce verrou n'existe plus.")
