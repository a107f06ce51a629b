"""Invitations: an administrator creates a user with an e-mail address (by hand or by an
import); the user receives the firm's welcome mail, in its colours, with a link valid three
days (resendable) to choose a password. Only a hash of the token is kept.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.errors import InvalidInput, NotFound
from acl.people.accounts import require_managed, store_password
from acl.people.mails import Paragraph, account_mail
from acl.people.models import Cabinet, Invitation, User
from acl.rights.audit import Context, record
from acl.rights.passwords import PasswordHasher

VALIDITY = timedelta(days=3)  # a welcome mail is often read the next working day
VALIDITY_WORDS = "trois jours"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invite(session: Session, ctx: Context, user: User, base_url: str,
           now: datetime | None = None) -> str:
    """(Re)send the invitation: older links stop working. Returns the token (for tests)."""
    if user.id != ctx.principal.user_id:
        require_managed(session, ctx, user, "user.invite")
    if not user.email:
        raise InvalidInput("Ce compte n'a pas d'adresse e-mail : donnez-lui un mot de passe "
                           "initial à la place.", field="email")
    now = now or utcnow()
    session.execute(update(Invitation).where(Invitation.user_id == user.id,
                                             Invitation.used_at.is_(None))
                    .values(expires_at=now))
    token = secrets.token_urlsafe(32)
    session.add(Invitation(user_id=user.id, token_hash=_hash(token), created_at=now,
                           expires_at=now + VALIDITY))
    cabinet = session.get(Cabinet, 1)
    name = cabinet.name if cabinet else "Liasse"
    link = f"{base_url.rstrip('/')}/invitation/{token}"
    subject = "Votre accès à la plateforme documentaire"
    session.add(account_mail(cabinet, user, user.email, subject, [
        Paragraph(f"{name} vous ouvre un accès à sa plateforme documentaire : vos documents, "
                  "leurs accusés de réception et les échanges avec le cabinet."),
        Paragraph(f"Votre identifiant : {user.login}"),
        Paragraph(f"Choisissez votre mot de passe avec ce lien, valable {VALIDITY_WORDS} :",
                  link=link),
    ], base_url))
    record(session, ctx, "user.invite", user.login, company_id=user.company_id)
    return token


def find_valid(session: Session, token: str, now: datetime | None = None) -> Invitation:
    now = now or utcnow()
    invitation = session.scalars(select(Invitation).where(
        Invitation.token_hash == _hash(token))).one_or_none()
    if invitation is None or invitation.used_at is not None or invitation.expires_at <= now \
            or not session.get(User, invitation.user_id).active:  # a disabled account
        raise NotFound("Ce lien d'invitation n'est plus valable : demandez-en un nouveau.")
    return invitation


def accept(session: Session, hasher: PasswordHasher, token: str, password: str,
           confirmation: str, now: datetime | None = None) -> User:
    invitation = find_valid(session, token, now)
    user = session.get(User, invitation.user_id)
    if password != confirmation:
        raise InvalidInput("Les deux saisies du mot de passe diffèrent.", field="confirmation")
    hasher.check(password, login=user.login,
                 company_name=user.company.name if user.company else "")
    store_password(user, hasher.hash(password), must_change=False)
    invitation.used_at = now or utcnow()
    return user
