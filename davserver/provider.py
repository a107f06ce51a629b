"""The WsgiDAV provider: URL paths of the drive to company trees, per user.

`/` lists the companies the user may reach, `/<company folder>/<standard folder>/...` below.
Paths are normalised to NFC segment by segment (Finder sends NFD). Resources are cached per
request, since WsgiDAV asks for the same path several times. What may be done is decided by
the operations layer (`acl.documents.operations`); the provider resolves paths, receives
bodies for it, and checks both ends of a MOVE or COPY before WsgiDAV touches anything.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from wsgidav.dav_error import (
    HTTP_FORBIDDEN,
    HTTP_METHOD_NOT_ALLOWED,
    HTTP_PRECONDITION_FAILED,
    DAVError,
)
from wsgidav.dav_provider import DAVCollection, DAVProvider
from wsgidav.util import get_uri_name, get_uri_parent

from acl.db import Database
from acl.documents import operations, store
from acl.documents.blobs import BlobStore
from acl.documents.hot import HotQueries
from acl.documents.limits import Body, Limits
from acl.documents.models import Node
from acl.documents.operations import CHANGED, may_read, require
from acl.documents.receipts import DownloadRecord
from acl.documents.store import Location
from acl.documents.tree import company_root
from acl.errors import Conflict, NameTaken, Refused
from acl.people.models import Company, User
from config.names import normalize_segment
from davserver import propfind
from davserver.gate import FINITE_DEPTH, expected_length
from davserver.receipts import ReceiptRecorder
from davserver.resources import (
    DocumentResource,
    DriveRoot,
    NodeCollection,
    _NodeMixin,
)
from davserver.transfer import UploadWriter, dav_error, refusals_as_dav_errors

UNTOLD_ROOM = 2**50  # the free space shown for a storage that does not tell its own (1 PiB)


class LiasseProvider(DAVProvider):
    def __init__(self, db: Database, blobs: BlobStore, limits: Limits, *,
                 listings: propfind.ListingCache | None = None) -> None:
        super().__init__()
        self.db = db
        self.blobs = blobs
        self.limits = limits
        self.listings = listings
        self.hot = HotQueries(db.engine)
        self._logins: tuple[int | None, dict[int, str]] = (None, {})
        self.receipts = ReceiptRecorder(db)
        self._companies: dict[str, tuple[int, Company | None, Node | None]] = {}
        self._companies_lock = threading.Lock()

    def is_readonly(self) -> bool:
        return False

    # --- resolution -------------------------------------------------------------------

    def get_resource_inst(self, path: str | None, environ: dict):
        if path is None:  # WsgiDAV asks for the parent of the drive's root: there is none
            return None
        segments = [normalize_segment(s) for s in path.split("/") if s]
        key = "/" + "/".join(segments)
        cache = environ.setdefault("liasse.resources", {})
        if key not in cache:
            cache[key] = self._resolve(key, segments, environ)
        return cache[key]

    def _resolve(self, path: str, segments: list[str], environ: dict):
        if not segments:
            return DriveRoot(self, environ)
        session: Session = environ["liasse.session"]
        location = self.locate(environ, segments, lambda company, root, names: (
            store.resolve(session, company, names, root=root)))
        return None if location is None else self.wrap(path, environ, location)

    def locate(self, environ: dict, segments: list[str],
               resolve: Callable[[Company, Node, list[str]], Location | None], *,
               cached_only: bool = False) -> Location | None:
        """The location of `segments` (company folder name first) if the user may read it,
        else None: another company's path, a folder without read right and a missing path
        all answer alike. `resolve` finds the nodes below the company's root; with
        `cached_only`, a company not in the cache answers None too."""
        principal = environ["liasse.principal"]
        company, root = self._company(environ, segments[0], cached_only=cached_only)
        if company is None or root is None or \
                not may_read(principal, Location(company, (root,))):
            return None
        location = resolve(company, root, segments[1:])
        if location is None or not may_read(principal, location):
            return None
        return location

    def _company(self, environ: dict, folder_name: str, *, cached_only: bool = False
                 ) -> tuple[Company | None, Node | None]:
        """A company and its root node by drive folder name. Both change only through an
        administrative act, which bumps the rights generation: cached until then."""
        generation = environ.get("liasse.generation")
        with self._companies_lock:
            cached = self._companies.get(folder_name)
        if cached is not None and generation is not None and cached[0] == generation:
            return cached[1], cached[2]
        if cached_only:
            return None, None
        session: Session = environ["liasse.session"]
        company = store.company_by_folder_name(session, folder_name)
        root = company_root(session, company.id) if company is not None else None
        for row in (company, root):
            if row is not None:  # shared between requests: never expired with a session
                session.expunge(row)
        if generation is not None:
            with self._companies_lock:
                if len(self._companies) > 10000:
                    self._companies.clear()
                self._companies[folder_name] = (generation, company, root)
        return company, root

    def wrap(self, path: str, environ: dict, location: Location):
        if location.node.kind == "file":
            return DocumentResource(self, path, environ, location)
        return NodeCollection(self, path, environ, location)

    def record_download(self, environ: dict, node, bytes_sent: int, complete: bool) -> None:
        """Hand a download of `node` to the receipts recorder (client files leave none)."""
        if node.is_client_file:
            return  # Finder, Explorer and Office helper files leave no receipt
        self.receipts.record(DownloadRecord(
            node.id, environ["liasse.user"].id, bytes_sent, complete,
            environ.get("HTTP_USER_AGENT", "")[:200]))

    def company_roots(self, environ: dict) -> list[Location]:
        """The roots of the companies the user may read, by folder name: two queries."""
        session: Session = environ["liasse.session"]
        companies = session.scalars(select(Company).order_by(Company.folder_name)).all()
        roots = {n.company_id: n for n in session.scalars(select(Node).where(
            Node.parent_id.is_(None), Node.company_id.in_([c.id for c in companies])))}
        principal = environ["liasse.principal"]
        found = (Location(c, (roots[c.id],)) for c in companies if c.id in roots)
        return [location for location in found if may_read(principal, location)]

    def relocate(self, session: Session, location: Location) -> Location:
        """The same location loaded in another session (a write transaction)."""
        company = session.get(Company, location.company.id)
        ids = [n.id for n in location.nodes]
        loaded = {n.id: n for n in session.scalars(select(Node).where(Node.id.in_(ids)))}
        nodes = tuple(loaded.get(i) for i in ids)
        if company is None or any(n is None or n.deleted_at is not None for n in nodes):
            raise Conflict(CHANGED)
        return Location(company, nodes)

    def deposit(self, environ: dict, parent: Location, name: str, sha256: str,
                size: int) -> Location:
        """File a stored body as the document `name` of `parent` (the operations layer's
        `file_body`, on the thread's plain connection). Returns the document's location."""
        try:
            return operations.file_body(self.hot, environ["liasse.principal"], parent, name,
                                        sha256, size)
        except NameTaken as refusal:  # a folder took the name meanwhile: as WsgiDAV answers
            raise DAVError(HTTP_METHOD_NOT_ALLOWED, refusal.reason) from None  # a PUT on one
        except Refused as refusal:
            raise dav_error(refusal) from None

    def forget(self, environ: dict) -> None:
        """After a write: drop what this request cached, so later lookups see the change."""
        environ.pop("liasse.resources", None)
        environ.pop("liasse.dead_props", None)
        environ.pop("liasse.usage", None)
        # End the request session's read transaction: on SQLite (WAL) it still reads the
        # snapshot taken before the write.
        environ["liasse.session"].rollback()

    def user_logins(self, environ: dict, ids) -> dict[int, str]:
        """Logins of these users (receipts show who deposited and received), fetched once
        per request for the ids not seen yet."""
        logins = environ.setdefault("liasse.user_logins", {})
        missing = {i for i in ids if i is not None and i not in logins}
        if missing:
            session: Session = environ["liasse.session"]
            logins.update(session.execute(select(User.id, User.login).where(
                User.id.in_(missing))).all())
        return logins

    # --- quota and uploads ------------------------------------------------------------

    def usage(self, environ: dict, company: Company) -> tuple[int, int]:
        """(used, available) bytes for RFC 4331; available is the disk's when no quota."""
        cache = environ.setdefault("liasse.usage", {})
        if company.id not in cache:
            cache[company.id] = self.usage_of(
                company, store.used_bytes(environ["liasse.session"], company.id))
        return cache[company.id]

    def usage_of(self, company: Company, used: int) -> tuple[int, int]:
        quota = self.limits.quota(company)
        free = self.blobs.free_bytes()
        if free is None:  # a bucket, whose room is not told: RFC 4331 §3 recommends "some
            free = UNTOLD_ROOM  # appropriate value" over leaving the property out
        available = max(0, quota - used) if quota is not None else free
        return used, min(available, free)

    def logins(self, connection, generation: int | None) -> dict[int, str]:
        """Every user's login (receipts show them), loaded once per rights generation: a
        login changes only through an administrative act, which bumps it."""
        cached_generation, logins = self._logins
        if generation is None or cached_generation != generation:
            logins = self.hot.logins(connection)
            if generation is not None:
                self._logins = (generation, logins)
        return logins

    def upload_writer(self, environ: dict, folder: Location, name: str,
                      existing: Node | None) -> UploadWriter:
        """The file WsgiDAV writes a PUT of `name` into `folder` into (over `existing`),
        once the operations layer allows the deposit, within the size and the quota."""
        company = folder.company
        with refusals_as_dav_errors():
            operations.check_deposit(environ["liasse.principal"], folder, name, existing)
            room = self.limits.room(
                company, lambda: store.used_bytes(environ["liasse.session"], company.id),
                existing.size if existing is not None else 0)
            body = Body.start(self.blobs, self.limits, room=room, name=name,
                              expected=expected_length(environ))
        writer = UploadWriter(body)
        environ["liasse.upload"] = writer
        return writer

    def end_upload(self, environ: dict, folder: Location, name: str, *,
                   with_errors: bool) -> Location | None:
        """File the body WsgiDAV wrote (None: there was none, or it failed)."""
        writer: UploadWriter | None = environ.pop("liasse.upload", None)
        if writer is None:
            return None
        if with_errors:
            writer.discard()
            return None
        sha, size = writer.commit()
        stored = self.deposit(environ, folder, name, sha, size)
        self.forget(environ)
        return stored

    # --- checks before WsgiDAV touches anything -----------------------------------------

    def custom_request_handler(self, environ, start_response, default_handler):
        method = environ["REQUEST_METHOD"]
        if method == "PROPFIND":
            if environ.pop("liasse.depth_missing", False):
                # RFC 4918 §9.1: no Depth is infinity, which on a document (or on nothing)
                # is Depth 0; on a folder it stays refused (propfind-finite-depth).
                # webdav4 (fsspec) sends a PROPFIND without Depth before each upload.
                if isinstance(self.get_resource_inst(environ["PATH_INFO"], environ),
                              DAVCollection):
                    start_response("403 Forbidden", [
                        ("Content-Type", "application/xml; charset=utf-8"),
                        ("Content-Length", str(len(FINITE_DEPTH)))])
                    return [FINITE_DEPTH]
                environ["HTTP_DEPTH"] = "0"
            if self.receipts.wait():  # a client reads its own downloads back in the listing
                self.forget(environ)
            answer = propfind.handle(self, environ, start_response)
            if answer is not None:
                return answer
        if method in ("PUT", "MKCOL", "LOCK") and "HTTP_IF_MATCH" in environ:
            self._check_if_match_on_missing(environ)
        if method in ("MOVE", "COPY"):
            self._check_copy_move(environ, method)
        elif method == "LOCK":
            self._check_lock(environ)
        return default_handler(environ, start_response)

    def _check_if_match_on_missing(self, environ: dict) -> None:
        """RFC 9110 13.1.1: If-Match is false when there is no current representation.
        WsgiDAV skips the conditions of a missing target, so a client updating a document
        someone deleted meanwhile would create it again unknowingly. (Where the request
        would fail anyway, a missing folder above it, it fails as it would: RFC 9110 13.2.1.)"""
        path = environ["PATH_INFO"]
        if self.get_resource_inst(path, environ) is None and isinstance(
                self.get_resource_inst(get_uri_parent(path), environ), NodeCollection):
            raise DAVError(HTTP_PRECONDITION_FAILED,
                           "Le document n'existe plus : il a été supprimé ou déplacé.")

    def _check_lock(self, environ: dict) -> None:
        """Who may lock what is the operations layer's (`may_lock`). (LOCK on an unmapped
        URL creates a document: `create_empty_resource` checks it.)"""
        target = self.get_resource_inst(environ["PATH_INFO"], environ)
        principal = environ["liasse.principal"]
        if isinstance(target, _NodeMixin):
            with refusals_as_dav_errors():
                require(operations.may_lock(principal, target.location))

    def _check_copy_move(self, environ: dict, method: str) -> None:
        """Both ends, by the operations layer's rules, before WsgiDAV deletes an overwritten
        destination (RFC 4918 §9.8/9.9)."""
        source = self.get_resource_inst(environ["PATH_INFO"], environ)
        if source is None or not isinstance(source, _NodeMixin):
            if isinstance(source, DriveRoot):
                raise DAVError(HTTP_FORBIDDEN, "La racine du lecteur ne se copie pas.")
            return  # WsgiDAV answers 404
        principal, session = environ["liasse.principal"], environ["liasse.session"]
        if method == "MOVE":  # the source first, wherever it goes
            with refusals_as_dav_errors():
                require(operations.may_change(session, principal, source.location))
        mount = environ.get("SCRIPT_NAME", "")
        dest = unquote(urlsplit(environ.get("HTTP_DESTINATION", "")).path)
        if dest.startswith(mount + "/"):
            dest = dest[len(mount):]
        parent = self.get_resource_inst(get_uri_parent(dest), environ)
        if isinstance(parent, DriveRoot) and get_uri_name(dest):
            raise DAVError(HTTP_FORBIDDEN, "Destination hors des dossiers d'une entreprise.")
        if not isinstance(parent, NodeCollection):
            return  # WsgiDAV answers 409: the destination's folder does not exist
        with refusals_as_dav_errors():
            if method == "MOVE":
                operations.check_move(session, principal, source.location, parent.location,
                                      get_uri_name(dest))
            else:
                operations.check_copy(principal, source.location, parent.location,
                                      get_uri_name(dest))
            existing = self.get_resource_inst(dest, environ)
            if isinstance(existing, _NodeMixin):  # an overwrite deletes it first
                require(operations.may_change(session, principal, existing.location))
