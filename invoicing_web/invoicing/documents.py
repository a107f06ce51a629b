"""Quotes, invoices and credit notes in the browser: the list (filters, totals, export), the
editor (works without JavaScript: the server adds up; the script only adds up as one
types and fills a line from its article), the document's page with what can be done next,
its PDF, its print view."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from acl import tables
from acl.documents.limits import Limits
from acl.errors import Refused
from acl.invoicing import amounts, articles, customers, delivery, documents, exports, pdf
from acl.invoicing.documents import DraftInput, Filters, LineInput
from acl.invoicing.models import DocKind, DocStatus, InvoicingDocument
from acl.invoicing.profile import profile_of, set_reference
from acl.invoicing.sheet import UNITS
from config import dates
from invoicing_web.forms import Form, parse_id
from invoicing_web.invoicing.base import bp, space
from invoicing_web.security import db_session, login_required, services

BLANK_ROWS = 3  # empty rows the editor always offers
MORE_ROWS = 5
_LINE_FIELD = re.compile(r"^lines-(\d{1,3})-([a-z_]+)$")
LINE_FIELDS = ("reference", "designation", "quantity", "unit", "unit_price", "discount",
               "vat_rate", "vat_exemption", "nature", "article_id")
KINDS = {kind.value: kind for kind in DocKind}
STATUS_CHOICES = [(s.value, s.value) for s in DocStatus]
EXEMPTION_CHOICES = [("", "—")] + [(code, text) for code, (text, *_) in
                                   amounts.EXEMPTIONS.items()]
RATE_CHOICES = ["20", "10", "5,5", "2,1", "0"]


def _money(value) -> str:
    return amounts.format_amount(value)


@bp.app_template_filter("euros")
def euros(value) -> str:
    return _money(value) if value is not None else ""


@bp.app_template_filter("rate")
def rate(value) -> str:
    return amounts.format_rate(value)


@bp.app_template_filter("day")
def day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


# -- the list --

def _filters(form: Form) -> Filters:
    start = _parse_day(form, "start")
    end = _parse_day(form, "end")
    kind = form.get("kind") if form.get("kind") in KINDS else ""
    status = form.get("status") if form.get("status") in {s for s, _ in STATUS_CHOICES} else ""
    return Filters(kind=kind, status=status, customer_id=parse_id(form.get("customer") or None),
                   start=start, end=end, query=form.get("q")[:100])


def _parse_day(form: Form, name: str) -> date | None:
    text = form.get(name)
    if not text:
        return None
    try:
        return dates.parse_day(text)
    except ValueError:
        form.error(name, "Date invalide (JJ/MM/AAAA).")
        return None


def _query_form() -> Form:
    return Form({name: request.args.get(name, "").strip()
                 for name in ("kind", "status", "customer", "start", "end", "q")})


@bp.get("/")
@login_required
def index():
    company = space()
    session = db_session()
    form = _query_form()
    filters = _filters(form)
    shown = documents.listing(session, company, filters, limit=500)
    return render_template(
        "invoicing/index.html", company=company, form=form, shown=shown,
        totals=documents.list_totals(session, company, filters),
        names=documents.customers_named(session, shown),
        situation={i: standing.situation for i, standing in
                   documents.standings(session, shown).items()},
        customers=customers.listing(session, company), statuses=STATUS_CHOICES,
        kinds=[(k.value, k.label) for k in DocKind], export_args=request.args.to_dict()), \
        200 if form.ok else 400


@bp.get("/export.<any(xlsx, csv):fmt>")
@login_required
def export(fmt: str):
    company = space()
    form = _query_form()
    filters = _filters(form)
    if not form.ok:
        abort(400, description=next(iter(form.errors.values())))
    body = exports.as_file(db_session(), company, filters, fmt)
    return send_file(io.BytesIO(body), as_attachment=True,
                     download_name=f"factures-{date.today():%Y%m%d}.{fmt}",
                     mimetype=tables.XLSX_TYPE if fmt == "xlsx" else tables.CSV_TYPE)


@bp.post("/nouveau")
@login_required
def new():
    kind = KINDS.get(request.form.get("kind", ""))
    if kind not in (DocKind.QUOTE, DocKind.INVOICE):
        abort(400, description="Type de document inconnu.")
    with services().db.transaction() as tx:
        company = space(tx)
        customer_id = parse_id(request.form.get("customer") or None)
        customer = customers.get(tx, company, customer_id) if customer_id else None
        document = documents.new_draft(tx, company, kind, g.user.id, customer=customer)
        document_id = document.id
    return redirect(url_for(".show", document_id=document_id))


# -- the editor --

def _typed_lines() -> list[LineInput]:
    rows: dict[int, dict[str, str]] = {}
    for key, value in request.form.items():
        found = _LINE_FIELD.match(key)
        if found and found[2] in LINE_FIELDS:
            rows.setdefault(int(found[1]), {})[found[2]] = value
    if len(rows) > documents.MAX_LINES + MORE_ROWS + BLANK_ROWS:
        abort(400, description=f"{documents.MAX_LINES} lignes au plus par document.")
    lines = []
    for index in sorted(rows):
        row = rows[index]
        article_id = parse_id(row.pop("article_id", "") or None)
        lines.append(LineInput(**{name: value for name, value in row.items()},
                               article_id=article_id))
    return [line for line in lines if not line.is_blank]


def _typed_draft(form: Form, company) -> DraftInput:
    name = form.get("customer")
    customer_id = ""
    if name:
        match = customers.by_name(db_session(), company, name)
        if match is None:
            form.error("customer", f"Client inconnu « {name[:60]} » : choisissez-en un de la "
                                   "liste, ou créez-le dans « Clients ».")
        else:
            customer_id = str(match.id)
    return DraftInput(customer_id=customer_id, issue_date=form.get("issue_date"),
                      service_date=form.get("service_date"), due_date=form.get("due_date"),
                      purchase_order=form.get("purchase_order"), notes=form.get("notes"),
                      payment_terms=form.get("payment_terms"), lines=_typed_lines())


EDITOR_FIELDS = ("customer", "issue_date", "service_date", "due_date", "purchase_order",
                 "notes", "payment_terms")


def _editor(document: InvoicingDocument, form: Form, lines: list[LineInput], *,
            extra_rows: int = 0, status: int = 200):
    session = db_session()
    company = space()
    profile = profile_of(session, company)
    preview = amounts.totals(_preview_lines(lines), document.prepaid)
    shown_articles = articles.listing(session, company)
    rows = lines + [LineInput(vat_rate="0" if profile.vat_franchise else "20")
                    for _ in range(BLANK_ROWS + extra_rows)]
    return render_template(
        "invoicing/editor.html", company=company, document=document, form=form, rows=rows,
        preview=preview, customers=customers.listing(session, company),
        articles=shown_articles, article_data=[_article_data(a) for a in shown_articles],
        units=list(UNITS),
        rates=RATE_CHOICES, exemptions=EXEMPTION_CHOICES, franchise=profile.vat_franchise,
        source=session.get(InvoicingDocument, document.source_id)
        if document.source_id else None), status


def _article_data(article) -> dict[str, str]:
    """What the editor's script fills a line with when its reference is chosen."""
    typed = articles.ArticleInput.of(article)
    return {"id": str(article.id), "reference": typed.reference,
            "designation": typed.designation, "unit": typed.unit,
            "unit_price": typed.unit_price, "vat_rate": typed.vat_rate,
            "vat_exemption": typed.vat_exemption, "nature": typed.nature}


def _preview_lines(lines: list[LineInput]) -> list[amounts.Line]:
    """The totals of what is typed, for the page (the numbers that do not parse count 0;
    the save says which they are)."""
    out = []
    for line in lines:
        try:
            rate = amounts.parse_decimal(line.vat_rate or "0", "", places=2)
            out.append(amounts.Line(
                amounts.parse_decimal(line.quantity or "1", "", allow_negative=True),
                amounts.parse_decimal(line.unit_price or "0", ""), rate,
                amounts.parse_decimal(line.discount or "0", "", places=2),
                line.vat_exemption))
        except amounts.AmountError:
            continue
    return out


def _editor_form(document: InvoicingDocument) -> Form:
    typed = DraftInput.of(document)
    customer = db_session().get(customers.Customer, document.customer_id) \
        if document.customer_id else None
    return Form({"customer": customer.name if customer else "", "issue_date": typed.issue_date,
                 "service_date": typed.service_date, "due_date": typed.due_date,
                 "purchase_order": typed.purchase_order, "notes": typed.notes,
                 "payment_terms": typed.payment_terms})


@bp.get("/<int:document_id>")
@login_required
def show(document_id: int):
    company = space()
    session = db_session()
    document = documents.get(session, company, document_id)
    if document.is_draft:
        return _editor(document, _editor_form(document), DraftInput.of(document).lines)
    return _page(document, Form())


@bp.post("/<int:document_id>")
@login_required
def edit(document_id: int):
    """The editor's buttons: save, more rows, save and issue."""
    company = space()
    document = documents.get(db_session(), company, document_id)
    if not document.is_draft:
        abort(409, description=documents.FROZEN[document.kind_enum])
    action = request.form.get("action", "save")
    form = Form.from_request(*EDITOR_FIELDS)
    typed = _typed_draft(form, company)
    if action == "lines":
        return _editor(document, form, typed.lines, extra_rows=MORE_ROWS)
    if not form.ok:
        return _editor(document, form, typed.lines, status=400)
    try:
        with services().db.transaction() as tx:
            company = space(tx)
            documents.save_draft(tx, company, documents.get(tx, company, document_id), typed)
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _editor(document, form, typed.lines, status=exc.status)
    if action != "issue":
        flash("Brouillon enregistré.", "info")
        return redirect(url_for(".show", document_id=document_id))
    try:  # what was typed is saved even when the issue is refused
        with services().db.transaction() as tx:
            company = space(tx)
            number = documents.issue(tx, company, documents.get(tx, company, document_id)).number
    except Refused as exc:
        form.error("_", exc.reason)
        return _editor(documents.get(db_session(), space(), document_id), form, typed.lines,
                       status=exc.status)
    flash(f"{document.kind_enum.label} {number} émis{'e' if _feminine(document) else ''}.",
          "info")
    return redirect(url_for(".show", document_id=document_id))


def _feminine(document: InvoicingDocument) -> bool:
    return document.kind in (DocKind.INVOICE.value, DocKind.DEPOSIT.value)


@bp.post("/<int:document_id>/supprimer")
@login_required
def delete(document_id: int):
    with services().db.transaction() as tx:
        company = space(tx)
        documents.delete_draft(tx, documents.get(tx, company, document_id))
    flash("Brouillon supprimé.", "info")
    return redirect(url_for(".index"))


# -- an issued document --

def _page(document: InvoicingDocument, form: Form, status: int = 200):
    session = db_session()
    company = space()
    related = documents.made_from(session, document)
    source = session.get(InvoicingDocument, document.source_id) if document.source_id else None
    sheet = documents.sheet_of(session, company, document)
    return render_template(
        "invoicing/document.html", company=company, document=document, sheet=sheet,
        form=form, related=related, source=source,
        situation=documents.situation(session, document),
        left=documents.left_to_pay(session, document),
        methods=documents.METHODS, today=date.today()), status


ACTIONS = {"accountant", "email", "payment", "credit", "invoice", "deposit", "accept",
           "refuse", "duplicate", "reference", "sent"}


@bp.post("/<int:document_id>/action")
@login_required
def act(document_id: int):
    action = request.form.get("action", "")
    if action not in ACTIONS:
        abort(400, description="Action inconnue.")
    form = Form.from_request("recipient", "message", "paid_on", "amount", "method", "note",
                             "percent")
    blobs = services().blobs
    target = document_id
    try:
        with services().db.transaction() as tx:
            company = space(tx)
            document = documents.get(tx, company, document_id)
            if action == "accountant":
                filed = delivery.send_to_accountant(
                    tx, g.principal, company, document, blobs,
                    Limits.from_settings(services().settings.drive),
                    services().settings.folders.sales_folder)
                message = (f"Déjà envoyé au comptable le {filed.already_at} : rien n'a été "
                           "déposé une seconde fois.") if filed.again else \
                    f"Envoyé au comptable : « {filed.location.path} »."
            elif action == "email":
                mail = delivery.email_to_customer(tx, company, document, blobs,
                                                  recipient=form.get("recipient"),
                                                  message=form.get("message"),
                                                  user_id=g.user.id)
                message = f"Envoi à {mail.recipient} programmé, PDF joint."
            elif action == "payment":
                payment = documents.record_payment(
                    tx, document, paid_on=form.get("paid_on"), amount=form.get("amount"),
                    method=form.get("method"), note=form.get("note"), user_id=g.user.id)
                message = f"Règlement de {_money(payment.amount)} enregistré."
            elif action == "credit":
                target = documents.credit_note_for(tx, company, document, g.user.id).id
                message = "Avoir créé en brouillon : ajustez-le puis émettez-le."
            elif action == "invoice":
                target = documents.invoice_from_quote(tx, company, document, g.user.id).id
                message = "Facture créée à partir du devis : vérifiez-la puis émettez-la."
            elif action == "deposit":
                target = documents.deposit_on_quote(tx, company, document,
                                                    form.get("percent"), g.user.id).id
                message = "Facture d'acompte créée en brouillon."
            elif action in ("accept", "refuse"):
                documents.answer_quote(document, action == "accept")
                message = "Devis marqué accepté." if action == "accept" else \
                    "Devis marqué refusé."
            elif action == "duplicate":
                target = documents.duplicate(tx, company, document, g.user.id).id
                message = "Copie créée en brouillon."
            elif action == "reference":
                set_reference(tx, company, document)
                message = ("Document de référence : chaque nouveau devis ou facture partira "
                           "de ses lignes, notes et conditions.")
            else:
                documents.mark_sent(document)
                message = "Marqué envoyé."
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        form.values["action"] = action
        document = documents.get(db_session(), space(), document_id)
        if document.is_draft:
            flash(exc.reason, "error")
            return redirect(url_for(".show", document_id=document_id))
        return _page(document, form, exc.status)
    flash(message, "info")
    return redirect(url_for(".show", document_id=target))


# -- PDF and print --

def _sheet(document_id: int):
    company = space()
    session = db_session()
    document = documents.get(session, company, document_id)
    return document, documents.sheet_of(session, company, document,
                                        delivery.look_of(session, company, services().blobs))


@bp.get("/<int:document_id>/pdf")
@login_required
def download(document_id: int):
    """The PDF to keep or send (a Factur-X for an issued invoice or credit note)."""
    document, sheet = _sheet(document_id)
    body = delivery.pdf_of(sheet) if not document.is_draft else pdf.render(sheet)
    return _pdf_answer(body, delivery.file_name(sheet) if not document.is_draft
                       else f"Brouillon {document.kind_enum.label.lower()}.pdf", inline=False)


@bp.get("/<int:document_id>/apercu")
@login_required
def preview(document_id: int):
    """The PDF shown in the browser (a draft too, marked "BROUILLON")."""
    _document, sheet = _sheet(document_id)
    return _pdf_answer(pdf.render(sheet), "apercu.pdf", inline=True)


def _pdf_answer(body: bytes, name: str, *, inline: bool):
    response = send_file(io.BytesIO(body), mimetype="application/pdf",
                         as_attachment=not inline, download_name=name)
    # A PDF of ours, yet it carries what users typed: it runs nothing in the app's origin.
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:document_id>/impression")
@login_required
def print_view(document_id: int):
    document, sheet = _sheet(document_id)
    # The logo's URL names its version: a browser never shows a replaced one from its cache.
    version = hashlib.sha256(sheet.look.logo).hexdigest()[:12] if sheet.look.logo else ""
    return render_template("invoicing/print.html", document=document, sheet=sheet,
                           logo_version=version)
