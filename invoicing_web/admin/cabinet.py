"""The cabinet's card: name, SIREN, address, colour and logo (the correspondant's)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from acl.errors import Refused
from acl.people.cabinet import LOGO_MAX_BYTES, get_cabinet, update_cabinet
from acl.rights.audit import admin_transaction
from invoicing_web.admin.base import SECTION_REFUSALS, _refuse_page, _show_refusal, bp, sections
from invoicing_web.forms import Form
from invoicing_web.security import context, db_session, login_required, services

CABINET_FIELDS = ("name", "siren", "address", "colour")


def _render(form: Form, status: int = 200):
    return render_template("admin/cabinet.html", form=form, cabinet=get_cabinet(db_session()),
                           logo_max_mib=LOGO_MAX_BYTES // 2**20), status


@bp.route("/cabinet", methods=["GET", "POST"])
@login_required
def cabinet_card():
    allowed = sections(g.principal).cabinet
    if request.method == "GET":
        if not allowed:
            abort(403, description=SECTION_REFUSALS["cabinet"])
        c = get_cabinet(db_session())
        return _render(Form({"name": c.name, "siren": c.siren, "address": c.address,
                             "colour": c.colour}))
    form = Form.from_request(*CABINET_FIELDS)
    upload = request.files.get("logo")
    logo = upload.stream.read(LOGO_MAX_BYTES + 1) if upload and upload.filename else None
    remove = request.form.get("remove_logo") == "1"
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            update_cabinet(tx, ctx, services().blobs, logo=logo, remove_logo=remove,
                           **{name: form.get(name) for name in CABINET_FIELDS})
    except Refused as exc:
        if not allowed:
            return _refuse_page(exc)
        if getattr(exc, "field", "") == "logo":
            form.error("logo", exc.reason)
        else:
            _show_refusal(exc, form)
        return _render(form, exc.status)
    flash("Fiche du cabinet enregistrée." + (" Nouveau logo en place." if logo else
                                             " Logo retiré." if remove else ""), "info")
    return redirect(url_for(".cabinet_card"))
