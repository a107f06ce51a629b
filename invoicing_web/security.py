"""Sessions, the signed-in user, CSRF protection and access helpers of the web app.

The session cookie (Flask's signed cookie) holds the key of a session kept on the server
(`acl.rights.sessions`: signing out ends it, whatever copy of the cookie remains), the user's
credentials version (a password change or a disablement signs every browser out) and the
CSRF token. Every POST must carry the token in a `csrf_token` field or an `X-CSRF-Token`
header.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session

from acl.db import Database
from acl.documents.blobs import BlobStore
from acl.people.models import User
from acl.rights import sessions, throttle
from acl.rights.audit import Context
from acl.rights.passwords import PasswordHasher
from acl.rights.policy import Principal
from acl.rights.principals import load_principal
from config.settings import Settings


@dataclass
class Services:
    """What views need, built once by `create_app`."""

    settings: Settings
    db: Database
    hasher: PasswordHasher
    blobs: BlobStore


def services() -> Services:
    return current_app.extensions["liasse"]


def db_session() -> Session:
    """The request's read session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = services().db.session()
    return g.db_session


def close_db_session(_exc=None) -> None:
    db = g.pop("db_session", None)
    if db is not None:
        db.close()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a state-changing request without the session's token (400)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="Jeton de sécurité absent ou invalide : rechargez la page et "
                               "recommencez.")


def load_user() -> None:
    """Before each request: `g.user` and `g.principal`, or None when signed out."""
    g.user = None
    g.principal = None
    user_id = session.get("user_id")
    if user_id is None:
        return
    user = db_session().get(User, user_id)
    if user is None or not user.active or user.credentials_version != session.get("cv") \
            or sessions.user_of(db_session(), session.get("sid", "")) != user.id:
        session.clear()
        return
    g.user = user
    g.principal = load_principal(db_session(), user)


def sign_in(tx: Session, user: User) -> None:
    """Open a session for `user` in the transaction `tx` (the caller commits)."""
    sign_out(tx)
    session.permanent = True
    session["sid"] = sessions.open_session(tx, user.id)
    session["user_id"] = user.id
    session["cv"] = user.credentials_version
    csrf_token()


def sign_out(tx: Session) -> None:
    """End the browser's session on the server and forget the cookie's content."""
    sessions.end_session(tx, session.get("sid", ""))
    session.clear()


def client_address() -> str:
    """The client's address, through the proxies the firm trusts ([server] trusted_proxies)."""
    return throttle.client_address(request.remote_addr or "",
                                   request.headers.get("X-Forwarded-For", ""),
                                   services().settings.server.trusted_proxies)


def context() -> Context:
    """The audit context of the signed-in user."""
    return Context(g.principal, client_address())


def principal() -> Principal:
    if g.principal is None:
        abort(401)
    return g.principal


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if g.user.must_change_password and request.endpoint not in (
                "auth.change_password", "auth.logout"):
            return redirect(url_for("auth.change_password"))
        return view(*args, **kwargs)

    return wrapped


def mail_waits() -> bool:
    """No SMTP server configured: mails wait in the outbox, and pages say so."""
    return not services().settings.smtp.host


def mail_notice(what: str, address: str, *, feminine: bool = False) -> str:
    """Whether a mail left: with no SMTP server configured it only waits in the outbox, and
    the page says so rather than claim it was sent ("Un code de confirmation envoyé à x.",
    or "... attend dans la file d'envoi ...")."""
    if not mail_waits():
        return f"{what} envoyé{'e' if feminine else ''} à {address}."
    return (f"{what} pour {address} attend dans la file d'envoi : aucun serveur de messagerie "
            "n'est configuré sur cette installation (le cabinet le lit avec « liasse outbox "
            "list »).")
