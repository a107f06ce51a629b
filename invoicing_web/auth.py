"""Sign-in, sign-out, the forced password change, invitations; the profile page's routes
(`invoicing_web.profile`) live on this blueprint too."""

from __future__ import annotations

import time

from flask import Blueprint, g, redirect, render_template, request, url_for

from acl.errors import InvalidInput, NotFound
from acl.people import accounts, invitations
from acl.people.models import User
from acl.rights.audit import admin_transaction
from invoicing_web.forms import Form, local_url
from invoicing_web.security import (
    client_address,
    context,
    login_required,
    services,
    sign_in,
    sign_out,
)

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    return local_url(target) or url_for("dashboard.home")


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    form = Form.from_request("login")
    if request.method != "POST":  # GET, and HEAD (a monitor's check): no sign-in attempt
        return render_template("auth/login.html", form=form, next=request.args.get("next", ""))
    password = request.form.get("password", "")
    svc = services()
    if not form.get("login") or not password:
        form.error("_", "Indiquez votre identifiant et votre mot de passe.")
        return render_template("auth/login.html", form=form,
                               next=request.form.get("next", "")), 400
    outcome = accounts.attempt_sign_in(svc.db, svc.hasher, form.get("login"), password,
                                       client_address())
    user_id = outcome.user.id if outcome.user else None
    if user_id is None:
        if outcome.delay:
            time.sleep(outcome.delay)
        form.error("_", outcome.reason)
        return render_template("auth/login.html", form=form, next=request.form.get("next", "")), \
            429 if outcome.throttled else 401
    with svc.db.transaction() as tx:
        sign_in(tx, tx.get(User, user_id))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/deconnexion")
def logout():
    with services().db.transaction() as tx:
        sign_out(tx)
    return redirect(url_for("auth.login"))


@bp.route("/mot-de-passe", methods=["GET", "POST"])
@login_required
def change_password():
    """The initial password's replacement, at first sign-in; any other change goes through
    the profile page, confirmed by a mailed code."""
    if not g.user.must_change_password:
        return redirect(url_for("auth.profile_page") + "#mot-de-passe", code=303)
    form = Form()
    if request.method == "POST":
        old = request.form.get("old_password", "")
        new = request.form.get("password", "")
        if new != request.form.get("confirmation", ""):
            form.error("confirmation", "Les deux saisies du nouveau mot de passe diffèrent.")
        else:
            svc = services()
            try:
                with admin_transaction(svc.db, context()) as tx:
                    user = tx.get(User, g.user.id)
                    accounts.change_own_password(tx, context(), svc.hasher, user, old, new)
                    sign_in(tx, user)
            except InvalidInput as exc:
                form.error(exc.field or "password", exc.reason)
            else:
                return redirect(url_for("dashboard.home", changed=1))
    return render_template("auth/password.html", form=form, forced=g.user.must_change_password)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    svc = services()
    form = Form()
    try:
        with svc.db.session() as s:
            user = s.get(User, invitations.find_valid(s, token).user_id)
            login = user.login
    except NotFound as exc:
        return render_template("error.html", message=exc.reason, code=404), 404
    if request.method == "POST":
        try:
            with svc.db.transaction() as tx:
                user = invitations.accept(tx, svc.hasher, token,
                                          request.form.get("password", ""),
                                          request.form.get("confirmation", ""))
                sign_in(tx, user)
        except (InvalidInput, NotFound) as exc:
            form.error(getattr(exc, "field", "") or "password", exc.reason)
        else:
            return redirect(url_for("dashboard.home"))
    return render_template("auth/invitation.html", form=form, login=login)


from invoicing_web import profile  # noqa: E402, F401 - registers the profile pages on `bp`
