"""An account's card: its name and e-mail edited, the account removed (kept for the
history that names it). Whoever manages the account, as the delegation rules say."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from acl.errors import NotFound, Refused
from acl.people import accounts, administration
from acl.people.models import User
from acl.rights import delegation
from acl.rights.audit import admin_transaction
from acl.rights.principals import load_principal
from invoicing_web.admin.base import _refuse_page, _show_refusal, bp, sections
from invoicing_web.forms import Form
from invoicing_web.security import context, db_session, login_required, services

EDIT_FIELDS = ("display_name", "email")


def _visible(login: str) -> User:
    try:
        return accounts.find_visible_user(db_session(), g.principal, login)
    except NotFound:
        abort(404)


def _render(user: User, form: Form, status: int = 200):
    target = load_principal(db_session(), user)
    return render_template(
        "admin/user_edit.html", person=user, form=form,
        managed=delegation.may_manage_user(g.principal, target),
        removable=delegation.may_remove_user(g.principal, target)), status


@bp.route("/utilisateurs/<login>/modifier", methods=["GET", "POST"])
@login_required
def user_edit(login: str):
    user = _visible(login)
    if request.method == "GET":
        if not sections(g.principal).users:
            abort(403, description="Votre compte n'administre aucun compte.")
        return _render(user, Form({"display_name": user.display_name,
                                   "email": user.email or ""}))
    form = Form.from_request(*EDIT_FIELDS)
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            changes = administration.edit_user(
                tx, ctx, accounts.find_visible_user(tx, g.principal, login),
                display_name=form.get("display_name"), email=form.get("email"))
    except Refused as exc:
        if not sections(g.principal).users:
            return _refuse_page(exc)
        _show_refusal(exc, form)
        return _render(user, form, exc.status)
    flash(f"Compte « {user.login} » modifié." if changes else "Aucun changement.", "info")
    return redirect(url_for(".user_edit", login=user.login))


@bp.route("/utilisateurs/<login>/supprimer", methods=["GET", "POST"])
@login_required
def user_remove(login: str):
    """GET: what removing means, and the button that confirms it; POST: remove."""
    user = _visible(login)
    if request.method == "GET":
        decision = delegation.may_remove_user(g.principal, load_principal(db_session(), user))
        if not decision:
            abort(403, description=decision.reason)
        return render_template("admin/user_remove.html", person=user)
    ctx = context()
    name = user.display_name
    try:
        with admin_transaction(services().db, ctx) as tx:
            administration.remove_user(tx, ctx, accounts.find_visible_user(tx, g.principal,
                                                                           login))
    except Refused as exc:
        return _refuse_page(exc)
    flash(f"Compte « {login} » ({name}) supprimé : il ne peut plus se connecter ; ses "
          "documents et réceptions gardent son nom.", "info")
    return redirect(url_for(".users_list"))
