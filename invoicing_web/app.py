"""Application factory: `create_app(settings, db)` — one blueprint per area."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Flask, g, render_template, request
from werkzeug.exceptions import HTTPException

from acl.db import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, Database, as_utc
from acl.documents.blobs import open_store
from acl.errors import Refused, StorageUnavailable
from acl.people.cabinet import get_cabinet
from acl.rights.passwords import PasswordHasher
from config.settings import Settings
from invoicing_web import admin, auth, calendar, dashboard, documents, invoicing, messaging
from invoicing_web.forms import IdConverter
from invoicing_web.invoicing.base import may_invoice
from invoicing_web.security import (
    Services,
    check_csrf,
    close_db_session,
    csrf_token,
    db_session,
    load_user,
)

log = logging.getLogger("liasse.web")
SESSION_HOURS = 8
PARIS = ZoneInfo("Europe/Paris")


def create_app(settings: Settings, db: Database, *, secure_cookies: bool | None = None) -> Flask:
    app = Flask(__name__)
    tls = bool(settings.server.tls_certificate) if secure_cookies is None else secure_cookies
    app.config.update(
        SECRET_KEY=settings.security.session_secret or None,
        SESSION_COOKIE_NAME="liasse_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=tls,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        MAX_CONTENT_LENGTH=(settings.drive.max_upload_mib * 2**20 * 4) or None,
    )
    if not app.config["SECRET_KEY"]:
        import secrets

        # No secret configured: sessions last as long as this process.
        app.config["SECRET_KEY"] = secrets.token_urlsafe(32)
    app.extensions["liasse"] = Services(settings, db, PasswordHasher(settings.security),
                                        open_store(settings, serving=True))
    app.before_request(load_user)
    app.before_request(check_csrf)
    app.after_request(page_headers)
    app.teardown_appcontext(close_db_session)

    @app.context_processor
    def identity():
        try:
            cabinet = get_cabinet(db_session())
        except Refused:
            cabinet = None
        return {"cabinet": cabinet, "csrf_token": csrf_token, "current_user": g.get("user"),
                "url_map_endpoints": app.view_functions, "may_invoice": may_invoice,
                "unread_messages": messaging.unread_total}

    app.add_template_filter(paris_time, "paris")

    app.url_map.converters["int"] = IdConverter  # before the routes that use it
    for module in (auth, dashboard, documents, admin, invoicing, messaging, calendar):
        app.register_blueprint(module.bp)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        messages = {400: "Requête invalide.", 401: "Connexion requise.",
                    403: "Accès refusé.", 404: "Page introuvable.",
                    405: "Méthode non permise.", 409: "Conflit.",
                    413: "Envoi trop volumineux."}
        message = error.description if error.code in (400, 403, 409, 413) and \
            error.description and not error.description.startswith("The ") \
            else messages.get(error.code, "Erreur.")
        return render_template("error.html", message=message, code=error.code), error.code

    @app.errorhandler(Refused)
    def refused(exc: Refused):
        """A refusal no view turned into a form error: its sentence, with its status (the one
        mapping, `acl.errors`); what may not be seen is worded as what does not exist."""
        message = exc.reason or ("Page introuvable." if exc.status == 404 else "Refusé.")
        return render_template("error.html", message=message, code=exc.status), exc.status

    def database_unavailable(error: Exception):
        """Busy past its timeout, or gone for a moment: the transaction was rolled back;
        the page says to try again (503 with Retry-After), not an internal error."""
        log.warning("database unavailable on %s %s: answered 503", request.method,
                    request.path, exc_info=True)
        return try_again(UNAVAILABLE_MESSAGE)

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(error: StorageUnavailable):
        """The bucket of the bodies unreachable or refusing (logged where it was met, in
        acl.documents.s3store): nothing was filed; the page says to try again."""
        return try_again(error.reason)

    def try_again(message: str):
        response = app.make_response((render_template("error.html", code=503,
                                                      message=message), 503))
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for unavailable in db.unavailable:
        app.register_error_handler(unavailable, database_unavailable)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return render_template("error.html", code=500,
                               message="Erreur interne : l'incident est consigné dans le "
                                       "journal du serveur."), 500

    return app


# The app's own pages: scripts and styles from the app only (the brand colour is one inline
# style), no framing, no plugin, forms posted to the app only.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; object-src 'none'; base-uri 'self'; "
               "form-action 'self'; frame-ancestors 'none'")


def page_headers(response):
    """Every answer: nosniff, no framing, the referrer kept in the app; a page gets the
    app's CSP (a document's body keeps its sandbox, acl.documents.delivery)."""
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def paris_time(value) -> str:
    """Stored in UTC, shown in Europe/Paris."""
    return as_utc(value).astimezone(PARIS).strftime("%d/%m/%Y %H:%M") if value else ""
