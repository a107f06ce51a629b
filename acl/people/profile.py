"""One's own account: name, e-mail address, password, alert preference (the profile page).

A new e-mail address is taken once the code mailed to it is typed back: nobody can give
their account an address they do not read. A new password is taken once the code mailed to
the account's address is typed back (seed 002: "changement confirmé par un code envoyé par
e-mail"); an account without an address changes it with the old password alone, as before.
A code is six digits, valid CODE_MINUTES, MAX_TRIES tries; asking again voids the previous
one; only its hash is kept.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.models import AlertMode
from acl.people.accounts import check_display_name, check_email, store_password
from acl.people.mails import Paragraph, account_mail
from acl.people.models import Cabinet, PendingChange, User
from acl.rights.audit import Context, record
from acl.rights.passwords import PasswordHasher

CODE_MINUTES = 15
MAX_TRIES = 5
EMAIL, PASSWORD = "email", "password"


def _hash(pending_id: int, code: str) -> str:
    return hashlib.sha256(f"{pending_id}:{code}".encode()).hexdigest()


def _require_active(user: User) -> None:
    if not user.active:
        raise PermissionDenied("Ce compte est désactivé.")


def rename(session: Session, ctx: Context, user: User, name: str) -> str:
    """One's own display name (documents and receipts show it)."""
    _require_active(user)
    name = check_display_name(name)
    if name != user.display_name:
        before, user.display_name = user.display_name, name
        record(session, ctx, "user.rename", user.login, company_id=user.company_id,
               detail={"before": before, "after": name})
    return name


def set_alerts(session: Session, ctx: Context, user: User, mode: str) -> AlertMode:
    _require_active(user)
    try:
        chosen = AlertMode(mode)
    except ValueError:
        raise InvalidInput("Choisissez : aucune alerte, immédiates ou groupées.",
                           field="alert_mode") from None
    if chosen.value != user.alert_mode:
        user.alert_mode = chosen.value
        record(session, ctx, "user.alerts", user.login, company_id=user.company_id,
               detail={"mode": chosen.value})
    return chosen


def _start(session: Session, user: User, kind: str, new_value: str,
           now: datetime) -> tuple[PendingChange, str]:
    """A new pending change of that kind (the previous one stops working) and its code."""
    session.execute(update(PendingChange).where(
        PendingChange.user_id == user.id, PendingChange.kind == kind,
        PendingChange.used_at.is_(None)).values(expires_at=now))
    pending = PendingChange(user_id=user.id, kind=kind, new_value=new_value, code_hash="",
                            created_at=now, expires_at=now + timedelta(minutes=CODE_MINUTES),
                            tries=0)
    session.add(pending)
    session.flush()
    code = f"{secrets.randbelow(10**6):06d}"
    pending.code_hash = _hash(pending.id, code)
    return pending, code


def _code_mail(session: Session, user: User, recipient: str, what: str, code: str,
               base_url: str) -> None:
    session.add(account_mail(session.get(Cabinet, 1), user, recipient,
                             f"Code de confirmation : {what}", [
        Paragraph(f"Pour confirmer {what}, saisissez ce code sur la page « Mon profil », "
                  f"dans les {CODE_MINUTES} minutes :", code=code),
        Paragraph("Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : rien "
                  "ne change sans ce code."),
        ], base_url))


def request_email(session: Session, ctx: Context, user: User, address: str, *,
                  base_url: str = "", now: datetime | None = None) -> str:
    """Mail a code to the new address; the address changes when it is typed back."""
    _require_active(user)
    address = check_email(address) or ""
    if not address:
        raise InvalidInput("Indiquez la nouvelle adresse e-mail.", field="email")
    if user.email and address.lower() == user.email.lower():
        raise InvalidInput("C'est déjà votre adresse.", field="email")
    taken = session.scalar(select(User.id).where(func.lower(User.email) == address.lower(),
                                                 User.id != user.id))
    if taken is not None:
        raise InvalidInput("Cette adresse est déjà celle d'un autre compte.", field="email")
    _, code = _start(session, user, EMAIL, address, now or utcnow())
    _code_mail(session, user, address, "votre nouvelle adresse e-mail", code, base_url)
    record(session, ctx, "user.email_request", user.login, company_id=user.company_id,
           detail={"email": address})
    return code


def request_password(session: Session, ctx: Context, hasher: PasswordHasher, user: User,
                     old: str, new: str, confirmation: str, *, base_url: str = "",
                     now: datetime | None = None) -> str | None:
    """Check the old password and the new one; with an address, mail a code and return it
    (the password changes when it is typed back); without, change it now and return None."""
    _require_active(user)
    ok, _ = hasher.verify(old, user.password_hash)
    if not ok:
        raise InvalidInput("L'ancien mot de passe est incorrect.", field="old_password")
    if new != confirmation:
        raise InvalidInput("Les deux saisies du nouveau mot de passe diffèrent.",
                           field="confirmation")
    if new == old:
        raise InvalidInput("Le nouveau mot de passe doit différer de l'ancien.",
                           field="password")
    hasher.check(new, login=user.login, company_name=user.company.name if user.company else "")
    if not user.email:
        store_password(user, hasher.hash(new), must_change=False)
        record(session, ctx, "user.password_change", user.login, company_id=user.company_id)
        return None
    _, code = _start(session, user, PASSWORD, hasher.hash(new), now or utcnow())
    _code_mail(session, user, user.email, "le changement de votre mot de passe", code, base_url)
    return code


def pending(session: Session, user: User, kind: str, now: datetime | None = None
            ) -> PendingChange | None:
    """The change of that kind waiting for its code, if any is still valid."""
    now = now or utcnow()
    return session.scalars(select(PendingChange).where(
        PendingChange.user_id == user.id, PendingChange.kind == kind,
        PendingChange.used_at.is_(None), PendingChange.expires_at > now,
        PendingChange.tries < MAX_TRIES).order_by(PendingChange.id.desc())).first()


def confirm(session: Session, ctx: Context, user: User, kind: str, code: str, *,
            now: datetime | None = None) -> str:
    """Apply the pending change whose code this is; returns what changed, in words. A wrong
    code counts a try (the caller commits it: the refusal is raised after) and raises."""
    _require_active(user)
    now = now or utcnow()
    waiting = pending(session, user, kind, now)
    if waiting is None:
        raise NotFound("Aucune demande en attente, ou elle a expiré : recommencez.")
    code = "".join(code.split())
    if not secrets.compare_digest(_hash(waiting.id, code), waiting.code_hash):
        waiting.tries += 1
        left = MAX_TRIES - waiting.tries
        raise WrongCode("Code incorrect : " + (
            f"encore {left} essai{'s' if left > 1 else ''}." if left else
            "la demande est annulée, recommencez."))
    waiting.used_at = now
    if kind == EMAIL:
        if session.scalar(select(User.id).where(
                func.lower(User.email) == waiting.new_value.lower(), User.id != user.id)):
            raise InvalidInput("Cette adresse est devenue celle d'un autre compte.",
                               field="email")
        before, user.email = user.email, waiting.new_value
        record(session, ctx, "user.email_change", user.login, company_id=user.company_id,
               detail={"before": before or "", "after": user.email})
        return f"Adresse e-mail changée : {user.email}."
    store_password(user, waiting.new_value, must_change=False)
    record(session, ctx, "user.password_change", user.login, company_id=user.company_id)
    return "Mot de passe changé : vos autres connexions sont fermées."


class WrongCode(InvalidInput):
    """A wrong confirmation code: the try it cost must be committed before answering."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, field="code")
