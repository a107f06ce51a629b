"""Documents: browse the drive's tree, deposit, download (one or a zip), organise, trash.

Thin views: they find what the user names with `acl.documents.browsing`, change it through
the one operations layer `acl.documents.operations` (rights, names, limits: the same rules
as the drive's) and answer its refusals with their status; whatever the user may not see
answers 404.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wsgi import FileWrapper

from acl.documents import archive, browsing, operations, receipts
from acl.documents.blobs import CHUNK, DownloadStream
from acl.documents.delivery import body_headers, content_type
from acl.documents.limits import Limits
from acl.documents.store import Location
from acl.errors import InvalidInput, NotFound, Refused
from acl.invoicing import access, expenses
from acl.rights.models import Side
from config import clients
from invoicing_web.forms import Form, parse_id
from invoicing_web.security import db_session, login_required, services

bp = Blueprint("documents", __name__)


# --- helpers --------------------------------------------------------------------------------

@bp.app_template_global("document_url")
def document_url(location: Location) -> str:
    names = [n.name for n in location.nodes[1:]]
    if any("/" in name for name in names):  # only a direct database write makes one
        return url_for("documents.by_id", node_id=location.node.id)
    return url_for("documents.browse", company=location.company.folder_name,
                   subpath="/".join(names))


@bp.app_template_filter("client")
def client_name(user_agent: str | None) -> str:
    """The software of a download, as a person names it (the raw User-Agent is kept)."""
    return clients.describe(user_agent)


@bp.app_template_filter("filesize")
def filesize(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} octet{'s' if size > 1 else ''}"
    for unit in ("Ko", "Mo", "Go", "To"):
        size /= 1024
        if size < 1024 or unit == "To":
            return f"{size:.1f}".replace(".", ",").removesuffix(",0") + f" {unit}"
    return ""


def _wants_json() -> bool:
    accept = request.accept_mimetypes
    return accept.best == "application/json"


def _selected_ids() -> list[int]:
    return [i for i in map(parse_id, request.form.getlist("item")) if i is not None]


def _limits() -> Limits:
    return Limits.from_settings(services().settings.drive)


def _attachment(stream: DownloadStream | None, size: int, filename: str,
                mimetype: str) -> Response:
    """The body streamed block by block (None: HEAD, headers only), downloaded, never run in
    the app's origin (acl.documents.delivery); the stream's close, at the end of the
    response, records the download."""
    response = Response(FileWrapper(stream, CHUNK) if stream is not None else b"",
                        mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    for name, value in body_headers(filename, mimetype, inline=False):
        response.headers[name] = value
    response.headers["Cache-Control"] = "private, no-store"
    return response


@contextmanager
def _writing() -> Iterator[Session]:
    """One change, one transaction; a name taken meanwhile by another client (the unique
    live name per folder) is reported like any name already taken."""
    try:
        with services().db.transaction() as tx:
            yield tx
    except IntegrityError:
        raise InvalidInput("Un élément du même nom vient d'être créé par ailleurs : rechargez "
                           "la page et recommencez.") from None


def _client() -> str:
    return request.headers.get("User-Agent", "")


def _crumbs(location: Location) -> list[tuple[str, Location]]:
    return [(location.company.name if i == 0 else node.name,
             Location(location.company, location.nodes[:i + 1]))
            for i, node in enumerate(location.nodes)]


def _page(location: Location, *, forms: dict[str, Form] | None = None, status: int = 200,
          selected: set[int] | frozenset[int] = frozenset()):
    """The page of a folder (its listing) or of a document (its receipt), with the forms
    that failed shown with their errors."""
    session = db_session()
    principal = g.principal
    all_forms: defaultdict[str, Form] = defaultdict(Form, forms or {})
    can_change = len(location.nodes) > 2 and bool(operations.may_change(session, principal,
                                                                         location))
    common = {"location": location, "company": location.company,
              "crumbs": _crumbs(location), "forms": all_forms, "can_change": can_change,
              "closed_period": operations.closed_period(session, location)}
    if location.node.kind == "file":
        node = location.node
        history = browsing.download_history(session, node.id)
        old = browsing.versions(session, node.id)
        names = browsing.user_names(session, [node.deposited_by_id, node.received_by_id,
                                             *(d.user_id for d in history),
                                             *(v.deposited_by_id for v in old)])
        destinations = [d for d in browsing.writable_folders(session, principal,
                                                            location.company)
                        if d.node.id != location.nodes[-2].id] if can_change else []
        # The expense this document comes with (Achats), for who reads the invoicing.
        expense = expenses.expense_of_node(session, node.id) \
            if access.may_read(principal, location.company) else None
        return render_template("documents/document.html", **common, node=node,
                               history=history, versions=old, names=names,
                               destinations=destinations, expense=expense,
                               expense_link=access.may_invoice(principal, location.company)), \
            status
    members = browsing.listing(session, principal, location)
    names = browsing.user_names(session, [i for m in members for i in (
        m.node.deposited_by_id, m.node.received_by_id)])
    can_deposit = bool(operations.may_deposit(principal, location))
    destinations = []
    if can_deposit or can_change:
        destinations = browsing.writable_folders(session, principal, location.company)
    limits = _limits()
    return render_template(
        "documents/folder.html", **common, members=members, names=names,
        can_deposit=can_deposit, selected=selected,
        # the selection moves elsewhere; this folder moves anywhere but into itself
        selection_destinations=[d for d in destinations if d.node.id != location.node.id],
        folder_destinations=[d for d in destinations if len(location.nodes) > 2
                             and location.node.id not in {n.id for n in d.nodes}
                             and d.node.id != location.nodes[-2].id],
        max_upload=limits.max_upload_bytes, quota=limits.quota(location.company)), status


def _refused(location: Location, form_name: str, field: str, exc: Refused, *,
             values: dict[str, str] | None = None, selected: set[int] | None = None):
    form = Form(values or {})
    form.error(field, exc.reason)
    return _page(location, forms={form_name: form}, status=exc.status,
                 selected=selected or set())


# --- pages ----------------------------------------------------------------------------------

@bp.get("/documents")
@login_required
def index():
    if g.principal.side == Side.COMPANY:
        return redirect(url_for("documents.browse", company=g.user.company.folder_name))
    return render_template("documents/index.html",
                           companies=browsing.readable_companies(db_session(), g.principal))


@bp.get("/documents/<company>/", defaults={"subpath": ""})
@bp.get("/documents/<company>/<path:subpath>")
@login_required
def browse(company: str, subpath: str):
    session = db_session()
    found = browsing.open_company(session, g.principal, company)
    return _page(browsing.open_path(session, g.principal, found, subpath.split("/")))


@bp.get("/document/<int:node_id>")
@login_required
def by_id(node_id: int):
    """The link of alert mails: wherever the document is now."""
    location = browsing.open_node(db_session(), g.principal, node_id)
    target = document_url(location)
    if target == request.path:  # a name holding "/" has no path URL: shown here
        return _page(location)
    return redirect(target)


@bp.get("/corbeille/<company>")
@login_required
def trash(company: str, errors: dict[int, str] | None = None, status: int = 200):
    session = db_session()
    found = browsing.open_company(session, g.principal, company)
    entries = browsing.trash_entries(session, g.principal, found)
    names = browsing.user_names(session, [e.node.deleted_by_id for e in entries])
    return render_template("documents/trash.html", company=found, entries=entries,
                           names=names, errors=errors or {}), status


@bp.get("/monter-le-lecteur")
@login_required
def mount():
    drive_url = request.host_url.rstrip("/") + "/dav/"
    secure = drive_url.startswith("https:")
    files_url = ("davs" if secure else "dav") + drive_url[drive_url.index(":"):]
    davmounts = [(c, f"{drive_url}{quote(c.folder_name)}/?davmount")
                 for c in browsing.readable_companies(db_session(), g.principal)]
    return render_template("documents/mount.html", drive_url=drive_url, secure=secure,
                           files_url=files_url, davmounts=davmounts)


# --- downloads ------------------------------------------------------------------------------

@bp.get("/telecharger/<int:node_id>")
@login_required
def download(node_id: int):
    location = browsing.open_node(db_session(), g.principal, node_id)
    node = location.node
    if node.kind != "file":
        abort(404)
    mimetype = content_type(node.name)
    if request.method == "HEAD":
        return _attachment(None, node.size, node.name, mimetype)
    svc = services()
    stream = operations.open_body(g.principal, location, svc.blobs,
                                  on_close=receipts.download_recorder(svc.db, g.user.id,
                                                                      _client(), [node.id]))
    return _attachment(stream, node.size, node.name, mimetype)


@bp.get("/telecharger/<int:node_id>/version/<int:version_id>")
@login_required
def download_version(node_id: int, version_id: int):
    location, version = browsing.open_version(db_session(), g.principal, node_id, version_id)
    name = location.node.name
    mimetype = content_type(name)
    svc = services()
    if request.method == "HEAD":
        return _attachment(None, version.size, name, mimetype)
    stream = DownloadStream(svc.blobs.open(version.sha256), version.size, partial=False,
                            on_close=receipts.version_download_recorder(
                                svc.db, g.user.id, _client(), location.node.id, version))
    return _attachment(stream, version.size, name, mimetype)


@bp.post("/dossier/<int:node_id>/zip")
@login_required
def zip_selection(node_id: int):
    session = db_session()
    folder = browsing.open_node(session, g.principal, node_id)
    ids = _selected_ids()
    if not ids:
        return _refused(folder, "selection", "selection",
                        InvalidInput("Cochez au moins un document ou un dossier."))
    items = archive.select_items(session, g.principal, ids)
    svc = services()
    body = svc.blobs.scratch_file()
    try:
        archive.write_zip(svc.blobs, items, body)
        size = body.tell()
        body.seek(0)
    except BaseException:
        body.close()
        raise
    documents_ids = [item.node.id for item in items if item.is_document]
    stream = DownloadStream(body, size, partial=False, on_close=receipts.download_recorder(
        svc.db, g.user.id, f"zip · {_client()}", documents_ids, archive=True))
    name = folder.node.name if len(folder.nodes) > 1 else folder.company.name
    return _attachment(stream, size, f"{name}.zip", "application/zip")


# --- changes --------------------------------------------------------------------------------

@bp.post("/dossier/<int:node_id>/deposer")
@login_required
def upload(node_id: int):
    """Deposit several documents (the form without JavaScript, or documents.js)."""
    svc = services()
    session = db_session()
    folder = browsing.open_node(session, g.principal, node_id)
    files = [(f.filename or "", f.stream) for f in request.files.getlist("files")
             if f.filename]
    try:
        with operations.receive(session, g.principal, svc.blobs, _limits(), folder,
                                files) as received:
            with _writing() as tx:
                operations.deposit(tx, g.principal, browsing.open_node(tx, g.principal, node_id),
                                   received)
    except Refused as exc:
        if _wants_json():
            return jsonify(error=exc.reason), exc.status
        return _refused(folder, "upload", "files", exc)
    count = len(received.names)
    message = (f"{count} documents déposés : " if count > 1 else "Document déposé : ") + \
        ", ".join(received.names) + "."
    target = document_url(folder)
    if _wants_json():
        flash(message)
        return jsonify(message=message, redirect=target)
    flash(message)
    return redirect(target, 303)


@bp.post("/dossier/<int:node_id>/creer")
@login_required
def create_folder(node_id: int):
    parent = browsing.open_node(db_session(), g.principal, node_id)
    form = Form.from_request("name")
    try:
        with _writing() as tx:
            created = operations.mkdir(tx, g.principal,
                                       browsing.open_node(tx, g.principal, node_id),
                                       form.get("name"))
            name = created.node.name
    except Refused as exc:
        return _refused(parent, "mkdir", "name", exc, values=form.values)
    flash(f"Dossier « {name} » créé.")
    return redirect(document_url(parent), 303)


@bp.post("/element/<int:node_id>/renommer")
@login_required
def rename(node_id: int):
    location = browsing.open_node(db_session(), g.principal, node_id)
    form = Form.from_request("name")
    try:
        with _writing() as tx:
            source = browsing.open_node(tx, g.principal, node_id)
            renamed = operations.move(tx, g.principal, source, operations.parent_of(source),
                                      form.get("name"))
            target = document_url(renamed)
    except Refused as exc:
        return _refused(location, "rename", "name", exc, values=form.values)
    flash(f"« {location.node.name} » renommé en « {renamed.node.name} ».")
    return redirect(target, 303)


def _destination(tx: Session, form: Form) -> Location:
    """The folder chosen in the form; one the user cannot see is not found."""
    destination_id = parse_id(form.get("destination"))
    if destination_id is None:
        raise InvalidInput("Choisissez le dossier de destination.")
    try:
        return browsing.open_node(tx, g.principal, destination_id)
    except NotFound:
        raise NotFound("Ce dossier de destination n'existe pas ou plus.") from None


@bp.post("/element/<int:node_id>/deplacer")
@login_required
def move(node_id: int):
    location = browsing.open_node(db_session(), g.principal, node_id)
    form = Form.from_request("destination")
    try:
        with _writing() as tx:
            moved = operations.move(tx, g.principal, browsing.open_node(tx, g.principal, node_id),
                                    _destination(tx, form))
            target, where = document_url(moved), moved.path
    except Refused as exc:
        return _refused(location, "move", "destination", exc, values=form.values)
    flash(f"« {location.node.name} » déplacé dans « {where.rsplit('/', 1)[0]} ».")
    return redirect(target, 303)


@bp.post("/dossier/<int:node_id>/deplacer")
@login_required
def move_selection(node_id: int):
    """Move the checked items into one folder, all or none (one transaction)."""
    folder = browsing.open_node(db_session(), g.principal, node_id)
    form = Form.from_request("destination")
    ids = _selected_ids()
    try:
        if not ids:
            raise InvalidInput("Cochez au moins un document ou un dossier.")
        with _writing() as tx:
            destination = _destination(tx, form)
            for item in dict.fromkeys(ids):
                operations.move(tx, g.principal, browsing.open_node(tx, g.principal, item),
                                destination)
            where = destination.path
    except Refused as exc:
        return _refused(folder, "selection", "destination", exc, values=form.values,
                        selected=set(ids))
    flash(f"{len(ids)} élément{'s' if len(ids) > 1 else ''} déplacé{'s' if len(ids) > 1 else ''}"
          f" dans « {where} ».")
    return redirect(document_url(folder), 303)


@bp.post("/element/<int:node_id>/supprimer")
@login_required
def delete(node_id: int):
    location = browsing.open_node(db_session(), g.principal, node_id)
    try:
        with _writing() as tx:
            operations.delete(tx, g.principal, browsing.open_node(tx, g.principal, node_id))
    except Refused as exc:
        return _refused(location, "delete", "_", exc)
    flash(f"« {location.node.name} » a été mis à la corbeille.")
    return redirect(document_url(operations.parent_of(location)), 303)


@bp.post("/dossier/<int:node_id>/supprimer")
@login_required
def delete_selection(node_id: int):
    """Trash the checked items, all or none (one transaction)."""
    folder = browsing.open_node(db_session(), g.principal, node_id)
    ids = _selected_ids()
    try:
        if not ids:
            raise InvalidInput("Cochez au moins un document ou un dossier.")
        with _writing() as tx:
            names = []
            for item in dict.fromkeys(ids):  # a member of a folder trashed before: not found
                location = browsing.open_node(tx, g.principal, item)
                operations.delete(tx, g.principal, location)
                names.append(location.node.name)
    except Refused as exc:
        return _refused(folder, "selection", "selection", exc, selected=set(ids))
    flash(f"Mis à la corbeille : {', '.join(names)}.")
    return redirect(document_url(folder), 303)


@bp.post("/corbeille/<company>/restaurer/<int:node_id>")
@login_required
def restore(company: str, node_id: int):
    found = browsing.open_company(db_session(), g.principal, company)
    try:
        with _writing() as tx:
            restored = operations.restore(tx, g.principal, node_id)
            if restored.company.id != found.id:
                raise NotFound(operations.NOT_IN_TRASH)
            where = restored.path
    except NotFound:
        raise
    except Refused as exc:
        return trash(company, errors={node_id: exc.reason}, status=exc.status)
    flash(f"Restauré : {where.split('/', 1)[-1]}.")
    return redirect(url_for("documents.trash", company=found.folder_name), 303)
