"""Web sessions kept on the server: the browser's cookie holds a random key, the database
its hash. Signing out deletes the row, so a copy of the cookie taken before stops working at
once; a session lasts `LIFETIME` at most."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.rights.models import WebSession

LIFETIME = timedelta(hours=8)


def _id(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


def open_session(session: Session, user_id: int) -> str:
    """A new session of the user; returns the key for the browser's cookie (the caller
    commits). Sessions past their lifetime are forgotten on the way."""
    now = utcnow()
    session.execute(delete(WebSession).where(WebSession.created_at < now - LIFETIME))
    key = secrets.token_urlsafe(32)
    session.add(WebSession(id=_id(key), user_id=user_id, created_at=now))
    return key


def user_of(session: Session, key: str) -> int | None:
    """The user of a live session, or None."""
    if not key:
        return None
    return session.scalar(select(WebSession.user_id).where(
        WebSession.id == _id(key), WebSession.created_at >= utcnow() - LIFETIME))


def end_session(session: Session, key: str) -> None:
    if key:
        session.execute(delete(WebSession).where(WebSession.id == _id(key)))
