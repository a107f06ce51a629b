"""Bulk import of companies and accounts from the firm's Excel or CSV template, all or
nothing (`acl.people.bulk_import`)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import (
    abort,
    g,
    render_template,
    request,
    send_file,
)

from acl.people import bulk_import, invitations
from acl.rights.audit import admin_transaction, record
from invoicing_web.admin.base import (
    SECTION_REFUSALS,
    _base_url,
    _private,
    _refuse_page,
    bp,
    require_section,
    sections,
)
from invoicing_web.forms import Form
from invoicing_web.security import context, login_required, services

# --- import -------------------------------------------------------------------------------

TEMPLATES = {"modele.xlsx": None, "modele-entreprises.csv": bulk_import.COMPANY_SHEET,
             "modele-utilisateurs.csv": bulk_import.USER_SHEET}
IMPORT_SUFFIXES = (".xlsx", ".csv", ".txt")


@bp.get("/import/<name>")
@login_required
@require_section("import_file")
def import_template(name: str):
    if name not in TEMPLATES:
        abort(404)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        bulk_import.write_template(path, TEMPLATES[name])
        body = path.read_bytes()
    mimetype = "text/csv; charset=utf-8" if name.endswith(".csv") else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True,
                     download_name=name)


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_file():
    p = g.principal
    allowed = sections(p).import_file
    if request.method == "GET":
        if not allowed:
            abort(403, description=SECTION_REFUSALS["import_file"])
        return render_template("admin/import.html", form=Form(), errors=[])
    form = Form()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.error("file", "Choisissez un fichier .xlsx ou .csv.")
        return render_template("admin/import.html", form=form, errors=[]), 400
    check_only = request.form.get("action") == "check"
    source = Path(upload.filename).name[:200]
    suffix = Path(source).suffix.lower()
    ctx = context()
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"import{suffix if suffix in IMPORT_SUFFIXES else '.bin'}"
            # One byte over the limit is enough for `read_file` to refuse the size.
            path.write_bytes(upload.stream.read(bulk_import.MAX_FILE_BYTES + 1))
            rows = bulk_import.read_file(path)
        with admin_transaction(services().db, ctx) as tx:
            result = bulk_import.import_rows(tx, ctx, services().hasher,
                                             services().settings.folders, rows, source=source,
                                             base_url=None if check_only else _base_url())
            if check_only:
                tx.rollback()
    except bulk_import.ImportRefused as exc:
        with services().db.transaction() as tx:
            record(tx, ctx, "import", source, outcome="refused",
                   detail={"erreurs": len(exc.errors)})
        form.error("_", exc.reason)
        if not allowed:
            return _refuse_page(exc.reason + " " + " ".join(exc.errors))
        return render_template("admin/import.html", form=form, errors=exc.errors,
                               source=source), 400
    if check_only:
        return render_template("admin/import.html", form=form, errors=[], source=source,
                               checked=result)
    return _private(render_template("admin/import_done.html", result=result, source=source,
                                    mail_waiting=not services().settings.smtp.host,
                                    validity=invitations.VALIDITY_WORDS))
