"""Expenses in the browser: the list of a period, a form with the VAT per rate (its
document attached from Achats or deposited into it), the import from the template, and the
e-invoices received in Achats to confirm as expenses or dismiss. The company's users who
invoice only; the firm reads expenses in the reports."""

from __future__ import annotations

import io
import re
from dataclasses import asdict
from pathlib import Path

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for

from acl import tables
from acl.documents.limits import Limits
from acl.errors import Refused
from acl.invoicing import expense_import, expenses, received
from acl.invoicing.expenses import ExpenseInput, VatInput
from acl.invoicing.models import ReceivedState
from config import dates
from invoicing_web.forms import Form, parse_id
from invoicing_web.invoicing.base import bp, space
from invoicing_web.security import db_session, login_required, services

FIELDS = ("supplier", "supplier_vat", "number", "issue_date", "due_date", "category", "paid_on")
VAT_ROWS = 3
_VAT_FIELD = re.compile(r"^vat-(\d)-(rate|taxable|vat)$")
TEMPLATES = ("modele-depenses.xlsx", "modele-depenses.csv")


def _typed() -> tuple[Form, ExpenseInput]:
    form = Form.from_request(*FIELDS)
    rows: dict[int, dict[str, str]] = {}
    for name, value in request.form.items():
        match = _VAT_FIELD.match(name)
        if match:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = value.strip()
    lines = [VatInput(r.get("rate", "20"), r.get("taxable", ""), r.get("vat", ""))
             for _, r in sorted(rows.items())]
    return form, ExpenseInput(**form.values, lines=lines)


def _rows(data: ExpenseInput) -> list[VatInput]:
    return list(data.lines) + [VatInput()] * max(0, VAT_ROWS - len(data.lines))


def _page(form: Form, data: ExpenseInput, status: int = 200, expense=None, offer=None):
    session = db_session()
    company = space()
    start, end = _period(form)
    return render_template(
        "invoicing/expenses.html", company=company, form=form, rows=_rows(data),
        shown=expenses.listing(session, company, start, end), expense=expense, offer=offer,
        categories=expenses.CATEGORIES,
        documents=expenses.purchase_documents(session, g.principal, company),
        pending=received.pending(session, company), templates=TEMPLATES), status


def _period(form: Form):
    found = []
    for name in ("start", "end"):
        text = request.args.get(name, "").strip()
        form.values[name] = text
        try:
            found.append(dates.parse_day(text) if text else None)
        except ValueError:
            form.error(name, "Date invalide (JJ/MM/AAAA).")
            found.append(None)
    return found


@bp.get("/depenses")
@login_required
def expense_list():
    form = Form()
    return _page(form, ExpenseInput(category="autres"), 200)


def _save(expense_id: int | None):
    form, data = _typed()
    upload = request.files.get("document")
    node_id = parse_id(request.form.get("node_id") or None)
    try:
        with services().db.transaction() as tx:
            company = space(tx)
            if expense_id is None:
                expense = expenses.create(tx, company, data, user_id=g.principal.user_id)
            else:
                expense = expenses.update(tx, expenses.get(tx, company, expense_id), data)
            if upload is not None and upload.filename:
                limits = Limits.from_settings(services().settings.drive)
                body = upload.stream.read((limits.max_upload_bytes or 2**31) + 1)
                expenses.deposit(tx, g.principal, services().blobs, limits, company, expense,
                                 Path(upload.filename).name, body)
            elif node_id is not None:
                expenses.attach(tx, g.principal, expense, node_id)
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _page(form, data, exc.status)
    flash(f"Dépense de {data.supplier.strip()} enregistrée.", "info")
    return redirect(url_for(".expense_list"))


@bp.post("/depenses")
@login_required
def expense_create():
    return _save(None)


@bp.get("/depenses/<int:expense_id>")
@login_required
def expense_show(expense_id: int):
    session = db_session()
    expense = expenses.get(session, space(), expense_id)
    data = expenses.input_of(expense)
    form = Form({k: v for k, v in asdict(data).items() if k != "lines"})
    return _page(form, data, expense=expense)


@bp.post("/depenses/<int:expense_id>")
@login_required
def expense_update(expense_id: int):
    return _save(expense_id)


@bp.post("/depenses/recues/<int:received_id>")
@login_required
def received_answer(received_id: int):
    action = request.form.get("action")
    if action == "dismiss":
        with services().db.transaction() as tx:
            received.dismiss(received.get(tx, space(tx), received_id))
        flash("Facture reçue écartée.", "info")
        return redirect(url_for(".expense_list"))
    form, data = _typed()
    try:
        with services().db.transaction() as tx:
            company = space(tx)
            found = received.get(tx, company, received_id)
            if found.state != ReceivedState.PROPOSED.value:
                abort(409)
            received.confirm(tx, company, found, data, g.principal.user_id)
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _page(form, data, exc.status, offer=received_id)
    flash(f"Dépense de {data.supplier.strip()} enregistrée depuis la facture reçue.", "info")
    return redirect(url_for(".expense_list"))


@bp.get("/depenses/<any('modele-depenses.xlsx', 'modele-depenses.csv'):name>")
@login_required
def expense_template(name: str):
    space()
    suffix = Path(name).suffix
    body = tables.template_bytes(expense_import.SPEC, suffix, expense_import.SHEET)
    return send_file(io.BytesIO(body), as_attachment=True, download_name=name,
                     mimetype=tables.XLSX_TYPE if suffix == ".xlsx" else tables.CSV_TYPE)


@bp.post("/depenses/import")
@login_required
def expense_import_file():
    upload = request.files.get("file")
    form = Form()
    if upload is None or not upload.filename:
        form.error("file", "Choisissez un fichier .xlsx ou .csv.")
        return _page(form, ExpenseInput(), 400)
    data = upload.stream.read(tables.MAX_FILE_BYTES + 1)
    try:
        rows = expense_import.read(data, Path(upload.filename).suffix.lower())
        with services().db.transaction() as tx:
            created = expense_import.import_rows(tx, space(tx), rows, g.principal.user_id)
    except tables.ImportRefused as exc:
        form.error("file", exc.reason + " " + " ".join(exc.errors[:20]))
        return _page(form, ExpenseInput(), 400)
    except Refused as exc:
        form.error("file", exc.reason)
        return _page(form, ExpenseInput(), exc.status)
    flash(f"Import réussi : {created} dépense(s) créée(s).", "info")
    return redirect(url_for(".expense_list"))


@bp.app_template_global()
def proposal(found) -> ExpenseInput:
    return received.proposal_of(found)
