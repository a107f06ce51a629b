"""The profile page of every user (`/profil`): name, e-mail address and password confirmed
by a mailed code, alert preference. The routes live on the `auth` blueprint (one's own
account); the rules in `acl.people.profile`."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for

from acl.errors import InvalidInput, NotFound, Refused
from acl.events.models import AlertMode
from acl.people import profile
from acl.people.models import User
from acl.rights.audit import admin_transaction
from invoicing_web.auth import bp
from invoicing_web.feed_pages import token_rows
from invoicing_web.forms import Form
from invoicing_web.security import (
    context,
    db_session,
    login_required,
    mail_notice,
    services,
    sign_in,
)

ALERT_CHOICES = [(AlertMode.OFF.value, "Aucune alerte"),
                 (AlertMode.IMMEDIATE.value, "Une alerte à chaque dépôt"),
                 (AlertMode.DIGEST.value, "Les dépôts groupés dans un message (après une "
                                          "période calme)")]


def _base_url() -> str:
    return services().settings.server.public_url.rstrip("/") or request.host_url.rstrip("/")


def _page(forms: dict[str, Form] | None = None, status: int = 200):
    session = db_session()
    user = session.get(User, g.user.id)
    return render_template(
        "profile/index.html", user=user, forms=forms or {}, alert_choices=ALERT_CHOICES,
        waiting_email=profile.pending(session, user, profile.EMAIL),
        waiting_password=profile.pending(session, user, profile.PASSWORD),
        code_minutes=profile.CODE_MINUTES, feed_tokens=token_rows(session, user)), status


def _act(form_name: str, act, *fields: str):
    """Run `act(tx, user, form)` in a transaction; a refusal shows the page again with the
    form's error (status of the refusal), a message string flashes and goes back."""
    form = Form.from_request(*fields)
    try:
        with admin_transaction(services().db, context()) as tx:
            message = act(tx, tx.get(User, g.user.id), form)
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _page({form_name: form}, exc.status)
    flash(message, "info")
    return redirect(url_for("auth.profile_page") + f"#{form_name}")


@bp.get("/profil")
@login_required
def profile_page():
    return _page()


@bp.post("/profil/nom")
@login_required
def profile_name():
    return _act("identite", lambda tx, user, form: "Nom enregistré : "
                + profile.rename(tx, context(), user, form.get("display_name")) + ".",
                "display_name")


@bp.post("/profil/alertes")
@login_required
def profile_alerts():
    def act(tx, user, form):
        mode = profile.set_alerts(tx, context(), user, form.get("alert_mode"))
        return f"Alertes : {dict(ALERT_CHOICES)[mode.value].lower()}."
    return _act("alertes", act, "alert_mode")


@bp.post("/profil/adresse")
@login_required
def profile_email():
    def act(tx, user, form):
        profile.request_email(tx, context(), user, form.get("email"), base_url=_base_url())
        return mail_notice("Un code de confirmation", form.get("email").strip())
    return _act("adresse", act, "email")


@bp.post("/profil/mot-de-passe")
@login_required
def profile_password():
    def act(tx, user, form):
        code = profile.request_password(
            tx, context(), services().hasher, user, request.form.get("old_password", ""),
            request.form.get("password", ""), request.form.get("confirmation", ""),
            base_url=_base_url())
        if code is None:  # no address to confirm with: changed at once
            sign_in(tx, user)
            return "Mot de passe changé : vos autres connexions sont fermées."
        return mail_notice("Un code de confirmation", user.email)
    return _act("mot-de-passe", act)


@bp.post("/profil/<kind>/code")
@login_required
def profile_confirm(kind: str):
    kinds = {"adresse": profile.EMAIL, "mot-de-passe": profile.PASSWORD}
    if kind not in kinds:
        return _page(status=404)
    form = Form.from_request("code")
    wrong = None
    try:
        with admin_transaction(services().db, context()) as tx:
            user = tx.get(User, g.user.id)
            try:
                message = profile.confirm(tx, context(), user, kinds[kind], form.get("code"))
            except profile.WrongCode as exc:
                wrong = exc  # the try it cost is committed with this transaction
            else:
                if kinds[kind] == profile.PASSWORD:
                    sign_in(tx, user)  # this browser stays signed in; the others are closed
    except (InvalidInput, NotFound) as exc:
        form.error(getattr(exc, "field", "") or "code", exc.reason)
        return _page({kind: form}, exc.status)
    if wrong is not None:
        form.error("code", wrong.reason)
        return _page({kind: form}, wrong.status)
    flash(message, "info")
    return redirect(url_for("auth.profile_page") + f"#{kind}")
