"""The WsgiDAV provider: URL paths of the drive to company trees, per user.

`/` lists the companies the user may reach, `/<company folder>/<standard folder>/...` below.
Paths are normalised to NFC segment by segment (Finder sends NFD). Resources are cached per
request, since WsgiDAV asks for the same path several times.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from wsgidav.dav_error import HTTP_FORBIDDEN, HTTP_PRECONDITION_FAILED, DAVError
from wsgidav.dav_provider import DAVProvider
from wsgidav.util import get_uri_name, get_uri_parent

from acl.db import Database
from acl.documents import store
from acl.documents.blobs import BlobStore
from acl.documents.hot import HotQueries
from acl.documents.models import Node
from acl.documents.store import DownloadRecord, Location
from acl.documents.tree import company_root
from acl.errors import InvalidInput
from acl.people.models import Company, User
from acl.rights.policy import Action, Resource, authorize
from config.names import normalize_segment
from davserver import propfind
from davserver.receipts import ReceiptRecorder
from davserver.resources import (
    DocumentResource,
    DriveRoot,
    NodeCollection,
    _NodeMixin,
)
from davserver.transfer import UploadWriter, disk_full_refused, expected_length


@dataclass(frozen=True)
class DriveLimits:
    max_upload_bytes: int | None  # None: no limit
    default_quota_bytes: int | None


class LiasseProvider(DAVProvider):
    def __init__(self, db: Database, blobs: BlobStore, limits: DriveLimits, *,
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
        if company is None or root is None or not authorize(
                principal, Action.READ, Resource(company.id, company.is_active)):
            return None
        location = resolve(company, root, segments[1:])
        if location is None:
            return None
        if len(location.nodes) > 1 and not authorize(principal, Action.READ,
                                                     location.resource()):
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

    def companies(self, environ: dict) -> list[Company]:
        session: Session = environ["liasse.session"]
        return list(session.scalars(select(Company).order_by(Company.folder_name)))

    def relocate(self, session: Session, location: Location) -> Location:
        """The same location loaded in another session (a write transaction)."""
        company = session.get(Company, location.company.id)
        ids = [n.id for n in location.nodes]
        loaded = {n.id: n for n in session.scalars(select(Node).where(Node.id.in_(ids)))}
        nodes = tuple(loaded.get(i) for i in ids)
        if company is None or any(n is None or n.deleted_at is not None for n in nodes):
            raise DAVError(409, "Le dossier a changé pendant l'opération ; réessayez.")
        return Location(company, nodes)

    def deposit(self, environ: dict, parent: Location, name: str, sha256: str,
                size: int) -> Location:
        """File a stored body as the document `name` of `parent`: a new document, or a new
        version of the one there now (`acl.documents.store.deposit`, in one transaction on the
        thread's plain connection, `acl.documents.hot`). Returns the document's location."""
        ids = {f"id_{i}": node.id for i, node in enumerate(parent.nodes)}
        for attempt in (1, 2):  # PostgreSQL: a parallel PUT may create the name meanwhile;
            try:                # then this body becomes its new version
                with self.hot.transaction() as run:
                    # The path's nodes were resolved for this request, before this
                    # transaction (only names and ids are read from them): still live?
                    if run(store.count_live(len(ids)), ids)[0][0] != len(ids):
                        raise DAVError(409, "Le dossier a changé pendant l'opération ; "
                                            "réessayez.")
                    node = store.deposit(run, parent, name, sha256, size,
                                             environ["liasse.user"].id)
                return Location(parent.company, (*parent.nodes, node))
            except InvalidInput as refused:  # a folder has that name
                raise DAVError(405, refused.reason) from None
            except self.hot.IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

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

    def quota(self, company: Company) -> int | None:
        return company.quota_bytes if company.quota_bytes is not None \
            else self.limits.default_quota_bytes

    def usage(self, environ: dict, company: Company) -> tuple[int, int]:
        """(used, available) bytes for RFC 4331; available is the disk's when no quota."""
        cache = environ.setdefault("liasse.usage", {})
        if company.id not in cache:
            cache[company.id] = self.usage_of(
                company, store.used_bytes(environ["liasse.session"], company.id))
        return cache[company.id]

    def usage_of(self, company: Company, used: int) -> tuple[int, int]:
        quota = self.quota(company)
        free = shutil.disk_usage(self.blobs.root if self.blobs.root.exists()
                                 else self.blobs.root.parent).free
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

    def quota_left(self, company: Company, replacing: int, used: Callable[[], int]
                   ) -> int | None:
        """Bytes an upload replacing `replacing` bytes may take (None: no quota); `used`
        reads the company's total, only when it has a quota."""
        quota = self.quota(company)
        return None if quota is None else quota - used() + replacing

    def upload_writer(self, environ: dict, company: Company, *, replacing: int) -> UploadWriter:
        left = self.quota_left(company, replacing, lambda: store.used_bytes(
            environ["liasse.session"], company.id))
        with disk_full_refused():  # no file can be made: 507, as for a quota
            blob = self.blobs.writer()
        writer = UploadWriter(blob, max_bytes=self.limits.max_upload_bytes,
                              quota_left=left, expected=expected_length(environ))
        environ["liasse.upload"] = writer
        return writer

    # --- checks before WsgiDAV touches anything -----------------------------------------

    def custom_request_handler(self, environ, start_response, default_handler):
        method = environ["REQUEST_METHOD"]
        if method == "PROPFIND":
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
        """A lock stops everyone else's writes: only who may write the target takes one.
        (LOCK on an unmapped URL creates a document: `create_empty_resource` checks it.)"""
        target = self.get_resource_inst(environ["PATH_INFO"], environ)
        if isinstance(target, DocumentResource):
            target._require(Action.WRITE)
        elif isinstance(target, NodeCollection):
            target._require(Action.WRITE, target.location.resource(for_new_child=True))

    def _check_copy_move(self, environ: dict, method: str) -> None:
        """Both ends before WsgiDAV deletes an overwritten destination (RFC 4918 §9.8/9.9)."""
        source = self.get_resource_inst(environ["PATH_INFO"], environ)
        if source is None or not isinstance(source, _NodeMixin):
            if isinstance(source, DriveRoot):
                raise DAVError(HTTP_FORBIDDEN, "La racine du lecteur ne se copie pas.")
            return  # WsgiDAV answers 404
        if method == "MOVE":
            source._require_write_subtree()
        else:
            source._require(Action.READ)
        mount = environ.get("SCRIPT_NAME", "")
        dest = unquote(urlsplit(environ.get("HTTP_DESTINATION", "")).path)
        if dest.startswith(mount + "/"):
            dest = dest[len(mount):]
        parent = self.get_resource_inst(get_uri_parent(dest), environ)
        if isinstance(parent, NodeCollection):
            parent._require(Action.WRITE, parent.location.resource(for_new_child=True))
            existing = self.get_resource_inst(dest, environ)
            if isinstance(existing, _NodeMixin):
                existing._require_write_subtree()
        elif isinstance(parent, DriveRoot) and get_uri_name(dest):
            raise DAVError(HTTP_FORBIDDEN, "Destination hors des dossiers d'une entreprise.")
