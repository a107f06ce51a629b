"""Customers and articles: lists, creation, change, archive, and their import from the
template the page hands out (all or nothing, every error with its row number)."""

from __future__ import annotations

import io
from dataclasses import asdict, fields
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, send_file, url_for

from acl import tables
from acl.errors import Refused
from acl.invoicing import amounts, articles, catalog_import, customers
from acl.invoicing.sheet import UNITS
from invoicing_web.forms import Form
from invoicing_web.invoicing.base import bp, space
from invoicing_web.security import db_session, login_required, services

CUSTOMER_FIELDS = tuple(f.name for f in fields(customers.CustomerInput))
ARTICLE_FIELDS = tuple(f.name for f in fields(articles.ArticleInput))
EXEMPTION_CHOICES = [("", "—")] + [(code, text) for code, (text, *_) in
                                   amounts.EXEMPTIONS.items()]
TEMPLATES = {"modele-clients-articles.xlsx": None,
             "modele-clients.csv": catalog_import.CUSTOMER_SHEET,
             "modele-articles.csv": catalog_import.ARTICLE_SHEET}


# -- customers --------------------------------------------------------------------------------

@bp.get("/clients")
@login_required
def customer_list():
    company = space()
    archived = request.args.get("archives") == "1"
    query = request.args.get("q", "")[:100]
    return render_template("invoicing/customers.html", company=company, archived=archived,
                           query=query, shown=customers.listing(db_session(), company,
                                                                query=query,
                                                                archived=archived))


@bp.route("/clients/nouveau", methods=["GET", "POST"])
@bp.route("/clients/<int:customer_id>", methods=["GET", "POST"])
@login_required
def customer_form(customer_id: int | None = None):
    company = space()
    customer = customers.get(db_session(), company, customer_id) if customer_id else None
    if request.method == "GET":
        form = Form(asdict(customers.CustomerInput.of(customer))) if customer else \
            Form(asdict(customers.CustomerInput()))
        return render_template("invoicing/customer.html", company=company, customer=customer,
                               form=form)
    form = Form.from_request(*CUSTOMER_FIELDS)
    data = customers.CustomerInput(**form.values)
    try:
        with services().db.transaction() as tx:
            company = space(tx)
            if customer is None:
                saved = customers.create(tx, company, data)
            else:
                saved = customers.update(tx, company, customers.get(tx, company, customer_id),
                                         data)
            name = saved.name
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return render_template("invoicing/customer.html", company=company, customer=customer,
                               form=form), exc.status
    flash(f"Client « {name} » enregistré.", "info")
    return redirect(url_for(".customer_list"))


@bp.post("/clients/<int:customer_id>/archive")
@login_required
def customer_archive(customer_id: int):
    archived = request.form.get("archived") == "1"
    try:
        with services().db.transaction() as tx:
            company = space(tx)
            customer = customers.set_archived(tx, company, customers.get(tx, company,
                                                                         customer_id), archived)
            name = customer.name
    except Refused as exc:
        flash(exc.reason, "error")
        return redirect(url_for(".customer_list", archives="1"))
    flash(f"Client « {name} » {'archivé' if archived else 'désarchivé'}.", "info")
    return redirect(url_for(".customer_list"))


# -- articles ----------------------------------------------------------------------------------

@bp.get("/articles")
@login_required
def article_list():
    company = space()
    archived = request.args.get("archives") == "1"
    query = request.args.get("q", "")[:100]
    return render_template("invoicing/articles.html", company=company, archived=archived,
                           query=query, shown=articles.listing(db_session(), company,
                                                               query=query, archived=archived))


@bp.route("/articles/nouveau", methods=["GET", "POST"])
@bp.route("/articles/<int:article_id>", methods=["GET", "POST"])
@login_required
def article_form(article_id: int | None = None):
    company = space()
    article = articles.get(db_session(), company, article_id) if article_id else None
    page = {"company": company, "article": article, "units": [(u, u) for u in UNITS],
            "exemptions": EXEMPTION_CHOICES}
    if request.method == "GET":
        form = Form(asdict(articles.ArticleInput.of(article))) if article else \
            Form(asdict(articles.ArticleInput()))
        return render_template("invoicing/article.html", form=form, **page)
    form = Form.from_request(*ARTICLE_FIELDS)
    data = articles.ArticleInput(**form.values)
    try:
        with services().db.transaction() as tx:
            company = space(tx)
            if article is None:
                saved = articles.create(tx, company, data)
            else:
                saved = articles.update(tx, company, articles.get(tx, company, article_id),
                                        data)
            reference = saved.reference
    except Refused as exc:
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return render_template("invoicing/article.html", form=form, **page), exc.status
    flash(f"Article « {reference} » enregistré.", "info")
    return redirect(url_for(".article_list"))


@bp.post("/articles/<int:article_id>/archive")
@login_required
def article_archive(article_id: int):
    archived = request.form.get("archived") == "1"
    with services().db.transaction() as tx:
        company = space(tx)
        article = articles.set_archived(articles.get(tx, company, article_id), archived)
        reference = article.reference
    flash(f"Article « {reference} » {'archivé' if archived else 'désarchivé'}.", "info")
    return redirect(url_for(".article_list"))


# -- import ------------------------------------------------------------------------------------

@bp.get("/import/<name>")
@login_required
def import_template(name: str):
    space()
    if name not in TEMPLATES:
        abort(404)
    suffix = Path(name).suffix
    body = tables.template_bytes(catalog_import.SPEC, suffix, TEMPLATES[name])
    return send_file(io.BytesIO(body), as_attachment=True, download_name=name,
                     mimetype=tables.XLSX_TYPE if suffix == ".xlsx" else tables.CSV_TYPE)


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_file():
    company = space()
    form = Form()
    if request.method == "GET":
        return render_template("invoicing/import.html", company=company, form=form, errors=[],
                               templates=TEMPLATES)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.error("file", "Choisissez un fichier .xlsx ou .csv.")
        return render_template("invoicing/import.html", company=company, form=form,
                               errors=[], templates=TEMPLATES), 400
    data = upload.stream.read(tables.MAX_FILE_BYTES + 1)
    try:
        rows = catalog_import.read(data, Path(upload.filename).suffix.lower())
        with services().db.transaction() as tx:
            result = catalog_import.import_rows(tx, space(tx), rows)
    except tables.ImportRefused as exc:
        form.error("_", exc.reason)
        return render_template("invoicing/import.html", company=company, form=form,
                               errors=exc.errors, templates=TEMPLATES), 400
    flash(f"Import réussi : {len(result.customers)} client(s) et {len(result.articles)} "
          "article(s) créés.", "info")
    return redirect(url_for(".customer_list" if result.customers else ".article_list"))
