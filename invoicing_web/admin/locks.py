"""The WebDAV locks of the documents: who holds which, until when; the firm lifts the lock of
a client that died with a document open (acl.documents.locks, audited)."""

from __future__ import annotations

from datetime import datetime

from flask import flash, g, redirect, render_template, request, url_for

from acl.documents import locks
from acl.errors import Refused
from acl.rights.audit import admin_transaction
from invoicing_web.admin.base import PARIS, bp, require_section
from invoicing_web.security import context, db_session, login_required, services


def _render(error: str = "", status: int = 200):
    shown = [(info, company, datetime.fromtimestamp(info.expire, PARIS))
             for info, company in locks.visible(db_session(), g.principal)]
    return render_template("admin/locks.html", locks=shown, error=error), status


@bp.get("/verrous")
@login_required
@require_section("locks")
def locks_list():
    return _render()


@bp.post("/verrous/lever")
@login_required
@require_section("locks")
def lock_break():
    try:
        with admin_transaction(services().db, context()) as tx:
            info = locks.break_lock(tx, context(), request.form.get("token", ""))
    except Refused as exc:
        return _render(exc.reason, exc.status)
    flash(f"Verrou de {info.principal} levé : {info.path}.", "info")
    return redirect(url_for(".locks_list"))
