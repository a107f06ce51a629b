"""Feed tokens: the secrets that feed readers and calendar apps carry in their URL.

RESEARCH.md §6: many readers cannot send HTTP Basic, so a feed URL carries a per-user secret
(`/feeds/<secret>/...`); GitHub's lesson is that such secrets must be per user, read-only,
revocable and rotatable, and their use logged. Here a token is named by its user ("Thunderbird
bureau"), several per user; only the SHA-256 of its 192-bit random secret is stored (a secret
that long needs no slow hash: nothing to guess, and a lookup by hash stays one indexed query).

A token works while it is not revoked, its account is active and the account's
`credentials_version` is the one it was issued under: a password change or a disablement
stops every token at once, and the profile page says so (`state`). Rotating gives a token a
new secret under the current credentials.

`probe` is the one query a feed fetch costs before it knows whether to answer `304`: the
token, its account, the rights generation and the last event, by an indexed lookup each.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from acl.db import as_utc, utcnow
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.models import Event
from acl.people.models import User
from acl.rights.audit import RIGHTS, Context, record
from acl.rights.models import FeedToken, Generation

MAX_NAME = 100
MAX_TOKENS = 20
SECRET_BYTES = 24  # 32 URL-safe characters
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")
USE_NOTED_EVERY = timedelta(minutes=5)  # readers poll every few minutes: one write at most
NAME_REQUIRED = "Donnez un nom au jeton (par exemple « Thunderbird bureau »)."
NO_TOKEN = "Jeton introuvable."


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii", "replace")).hexdigest()


def is_secret_shaped(text: str) -> bool:
    """Whether a URL segment may be a token at all (checked before any query)."""
    return SECRET_RE.match(text) is not None


def check_name(name: str) -> str:
    """One line, markup allowed but shown escaped everywhere, at most MAX_NAME characters."""
    name = " ".join("".join(c if c.isprintable() else " " for c in name).split())
    if not name:
        raise InvalidInput(NAME_REQUIRED, field="name")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"Le nom du jeton : {MAX_NAME} caractères au plus.", field="name")
    return name


def _require_active(user: User) -> None:
    if not user.active:
        raise PermissionDenied("Ce compte est désactivé.")


def issue(session: Session, ctx: Context, user: User, name: str, *,
          demo: bool = False) -> tuple[FeedToken, str]:
    """A new token of `user` and its secret (shown once: only its hash is kept)."""
    _require_active(user)
    name = check_name(name)
    live = session.scalar(select(func.count()).select_from(FeedToken).where(
        FeedToken.user_id == user.id, FeedToken.revoked_at.is_(None)))
    if live >= MAX_TOKENS:
        raise InvalidInput(f"{MAX_TOKENS} jetons au plus : révoquez ceux qui ne servent plus.",
                           field="name")
    secret = secrets.token_urlsafe(SECRET_BYTES)
    token = FeedToken(user_id=user.id, name=name, secret_hash=hash_secret(secret),
                      credentials_version=user.credentials_version, created_at=utcnow(),
                      last_used_from="", demo_secret=secret if demo else None)
    session.add(token)
    session.flush()
    record(session, ctx, "feed_token.create", user.login, company_id=user.company_id,
           detail={"jeton": name})
    return token, secret


def token_of(session: Session, user: User, token_id: int) -> FeedToken:
    token = session.get(FeedToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound(NO_TOKEN)
    return token


def revoke(session: Session, ctx: Context, user: User, token_id: int) -> FeedToken:
    """The token stops now (its row stays, for the audit log's sake)."""
    token = token_of(session, user, token_id)
    token.revoked_at = utcnow()
    token.demo_secret = None
    record(session, ctx, "feed_token.revoke", user.login, company_id=user.company_id,
           detail={"jeton": token.name})
    return token


def rotate(session: Session, ctx: Context, user: User, token_id: int) -> tuple[FeedToken, str]:
    """A new secret for the token (the old URL stops now), under the current credentials:
    also how a token stopped by a password change is given a working URL again."""
    _require_active(user)
    token = token_of(session, user, token_id)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    token.secret_hash = hash_secret(secret)
    token.credentials_version = user.credentials_version
    token.rotated_at = utcnow()
    token.demo_secret = secret if token.demo_secret else None
    record(session, ctx, "feed_token.rotate", user.login, company_id=user.company_id,
           detail={"jeton": token.name})
    return token, secret


def tokens_of(session: Session, user: User) -> list[FeedToken]:
    """The user's tokens not revoked, oldest first."""
    return list(session.scalars(select(FeedToken).where(
        FeedToken.user_id == user.id, FeedToken.revoked_at.is_(None)).order_by(FeedToken.id)))


def is_working(token: FeedToken, user: User) -> bool:
    return token.revoked_at is None and user.active and \
        token.credentials_version == user.credentials_version


def state(token: FeedToken, user: User) -> str:
    """What the profile page says of a token."""
    if token.revoked_at is not None:
        return "révoqué"
    if not user.active:
        return "arrêté : le compte est désactivé"
    if token.credentials_version != user.credentials_version:
        return ("arrêté : votre mot de passe a changé depuis sa création — renouvelez-le "
                "pour obtenir une nouvelle adresse")
    return "actif"


@dataclass(frozen=True)
class Probe:
    """What a feed fetch needs before deciding between `304` and a full answer."""

    token_id: int | None
    user_id: int
    working: bool
    rights_generation: int
    last_event_id: int
    last_event_at: datetime | None
    last_used_at: datetime | None


def _probe_columns():
    last_event = select(func.max(Event.id)).scalar_subquery()
    return (User.id, User.active, User.credentials_version,
            select(Generation.value).where(Generation.name == RIGHTS)
            .scalar_subquery().label("generation"),
            last_event.label("last_event_id"),
            select(Event.at).where(Event.id == last_event).scalar_subquery()
            .label("last_event_at"))


def probe_token(session: Session, secret: str) -> Probe | None:
    """The state of the token with this secret, in one query; None: no such token."""
    row = session.execute(select(
        FeedToken.id, FeedToken.credentials_version, FeedToken.revoked_at,
        FeedToken.last_used_at, *_probe_columns())
        .join(User, User.id == FeedToken.user_id)
        .where(FeedToken.secret_hash == hash_secret(secret))).one_or_none()
    if row is None:
        return None
    (token_id, version, revoked_at, last_used_at, user_id, active, user_version, generation,
     last_id, last_at) = row
    return Probe(token_id, user_id, revoked_at is None and active and version == user_version,
                 generation or 0, last_id or 0, as_utc(last_at) if last_at else None,
                 as_utc(last_used_at) if last_used_at else None)


def probe_user(session: Session, user_id: int, credentials_version: int) -> Probe | None:
    """The same for a reader signed in with HTTP Basic (already verified)."""
    row = session.execute(select(*_probe_columns()).where(User.id == user_id)).one_or_none()
    if row is None:
        return None
    _, active, user_version, generation, last_id, last_at = row
    return Probe(None, user_id, active and user_version == credentials_version,
                 generation or 0, last_id or 0, as_utc(last_at) if last_at else None, None)


def note_use(session: Session, probe: Probe, address: str, now: datetime | None = None) -> bool:
    """Record when and from where a token was last used, at most every USE_NOTED_EVERY."""
    now = now or utcnow()
    if probe.token_id is None or (probe.last_used_at is not None
                                  and now - probe.last_used_at < USE_NOTED_EVERY):
        return False
    session.execute(update(FeedToken).where(FeedToken.id == probe.token_id)
                    .values(last_used_at=now, last_used_from=address[:100]))
    return True
