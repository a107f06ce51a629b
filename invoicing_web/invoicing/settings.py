"""The invoicing settings of a company (seed 000, "paramétrer vos factures"): who it is as a
seller, how its documents look (layout, colours, logo), numbering, terms, VAT options."""

from __future__ import annotations

import io
from dataclasses import asdict, fields

from flask import flash, redirect, render_template, request, send_file, url_for

from acl.errors import InvalidInput, Refused
from acl.invoicing import profile
from acl.invoicing.models import InvoicingDocument, Layout
from acl.invoicing.profile import LOGO_MAX_BYTES, ProfileInput
from invoicing_web.forms import Form
from invoicing_web.invoicing.base import bp, space
from invoicing_web.security import db_session, login_required, services

FIELDS = tuple(f.name for f in fields(ProfileInput))
CHECKBOXES = ("vat_franchise", "vat_on_debits")
LAYOUTS = [(Layout.CLASSIC.value, "Classique : logo et identité en tête, client encadré"),
           (Layout.BANNER.value, "Bandeau : une bande de couleur en haut de page"),
           (Layout.SOBER.value, "Épuré : filets fins, sans aplats")]


def _page(form: Form, status: int = 200):
    session = db_session()
    company = space()
    current = profile.profile_of(session, company)
    reference = session.get(InvoicingDocument, current.reference_document_id) \
        if current.reference_document_id else None
    return render_template("invoicing/settings.html", company=company, form=form,
                           profile=current, layouts=LAYOUTS, reference=reference,
                           logo_max_mib=LOGO_MAX_BYTES // 2**20), status


@bp.get("/parametres")
@login_required
def settings_page():
    values = asdict(ProfileInput.of(profile.profile_of(db_session(), space())))
    form = Form({k: v for k, v in values.items() if k not in CHECKBOXES})
    form.values.update({k: "1" if values[k] else "" for k in CHECKBOXES})
    return _page(form)


@bp.post("/parametres")
@login_required
def settings_save():
    form = Form.from_request(*[f for f in FIELDS if f not in CHECKBOXES])
    for name in CHECKBOXES:
        form.values[name] = "1" if request.form.get(name) else ""
    data = ProfileInput(**{**form.values, **{k: bool(form.values[k]) for k in CHECKBOXES}})
    try:
        with services().db.transaction() as tx:
            profile.update_profile(tx, space(tx), data)
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _page(form, exc.status)
    flash("Paramètres de facturation enregistrés.", "info")
    return redirect(url_for(".settings_page"))


@bp.post("/parametres/logo")
@login_required
def logo_save():
    form = Form()
    remove = request.form.get("action") == "remove"
    data = None
    if not remove:
        upload = request.files.get("logo")
        if upload is None or not upload.filename:
            form.error("logo", "Choisissez une image PNG ou JPEG.")
            return _page(_current_form(form), 400)
        data = upload.stream.read(LOGO_MAX_BYTES + 1)
    try:
        with services().db.transaction() as tx:
            profile.set_logo(tx, space(tx), services().blobs, data)
    except InvalidInput as exc:
        form.error("logo", exc.reason)
        return _page(_current_form(form), exc.status)
    flash("Logo retiré." if remove else "Logo enregistré : il figure sur vos documents.", "info")
    return redirect(url_for(".settings_page"))


def _current_form(errors: Form) -> Form:
    values = asdict(ProfileInput.of(profile.profile_of(db_session(), space())))
    form = Form({k: ("1" if v else "") if k in CHECKBOXES else v for k, v in values.items()})
    form.errors.update(errors.errors)
    return form


@bp.get("/logo")
@login_required
def logo():
    """The company's logo, as checked on upload (PNG or JPEG only)."""
    current = profile.profile_of(db_session(), space())
    if not current.logo_sha256:
        return ("", 404)
    with services().blobs.open(current.logo_sha256) as body:
        data = body.read()
    # Revalidated at each use (304 while unchanged): a new logo shows at once.
    response = send_file(io.BytesIO(data), mimetype=profile.LOGO_TYPES[current.logo_type],
                         etag=current.logo_sha256, max_age=0, conditional=True)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
