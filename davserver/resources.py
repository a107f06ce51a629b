"""WsgiDAV resources over the node table: the drive root, folders and documents.

Every access goes through `acl.rights.policy.authorize` before storage is touched; a refused read
looks exactly like a missing resource (404), a refused write is a 403 with the reason.
"""

from __future__ import annotations

import functools
import mimetypes
from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    HTTP_NOT_FOUND,
    DAVError,
    PRECONDITION_CODE_ProtectedProperty,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection
from wsgidav.util import get_uri_name, get_uri_parent, parse_if_header_dict

from acl.documents import store
from acl.documents.blobs import DownloadStream
from acl.documents.models import Node, NodeProperty
from acl.documents.store import Location
from acl.errors import InvalidInput
from acl.people.models import User
from acl.rights.policy import Action, Decision, Principal, Resource, authorize
from config.names import InvalidName, check_segment
from davserver.transfer import UploadWriter

if TYPE_CHECKING:
    from davserver.provider import LiasseProvider

LIASSE_NS = "urn:liasse:receipt"
RECEIPT_PROPS = tuple(f"{{{LIASSE_NS}}}{name}" for name in (
    "deposited-by", "deposited-at", "received-by", "received-at", "download-count"))
_NS_DEPTH = "{DAV:}"
QUOTA_PROPS = ("{DAV:}quota-used-bytes", "{DAV:}quota-available-bytes")


def _deny(decision: Decision) -> DAVError:
    return DAVError(HTTP_FORBIDDEN, decision.reason)


def _ctx(environ: dict) -> tuple[Principal, User]:
    return environ["liasse.principal"], environ["liasse.user"]


def content_type(name: str) -> str:
    return _content_type(name.rpartition(".")[2].lower() if "." in name else "")


@functools.lru_cache(maxsize=1024)
def _content_type(extension: str) -> str:
    return mimetypes.guess_type(f"x.{extension}")[0] or "application/octet-stream"


def check_new_name(name: str) -> str:
    try:
        return check_segment(name)
    except InvalidName as exc:
        raise DAVError(HTTP_BAD_REQUEST, f"Nom refusé : {exc}.") from None


class DriveRoot(DAVCollection):
    """`/dav/`: the companies the user may reach."""

    def __init__(self, provider: LiasseProvider, environ: dict) -> None:
        super().__init__("/", environ)
        self.provider: LiasseProvider = provider

    def get_display_name(self) -> str:
        return "Liasse"

    def get_member_list(self):
        principal, _ = _ctx(self.environ)
        members = []
        for company in self.provider.companies(self.environ):
            if authorize(principal, Action.READ, Resource(company.id, company.is_active)):
                location = store.resolve(self.environ["liasse.session"], company, [])
                members.append(NodeCollection(self.provider, f"/{company.folder_name}",
                                              self.environ, location))
        return members

    def get_member_names(self):
        return [m.name for m in self.get_member_list()]

    def get_member(self, name):
        return self.provider.get_resource_inst(f"/{name}", self.environ)

    def create_empty_resource(self, name):
        raise DAVError(HTTP_FORBIDDEN, "Rien ne peut être déposé à la racine du lecteur.")

    def create_collection(self, name):
        raise DAVError(HTTP_FORBIDDEN, "Les dossiers d'entreprise sont créés par le cabinet.")

    def delete(self):
        raise DAVError(HTTP_FORBIDDEN, "La racine du lecteur ne peut pas être supprimée.")

    def handle_delete(self):
        self.delete()  # refused before WsgiDAV would try its members one by one

    def support_recursive_delete(self):
        return True

    def prevent_locking(self):
        return True


class _NodeMixin:
    """What folders and documents share: the location, rights, dead properties."""

    provider: LiasseProvider
    environ: dict
    location: Location
    path: str

    def __init__(self, provider: LiasseProvider, path: str, environ: dict,
                 location: Location) -> None:
        super().__init__(path, environ)  # DAVCollection or DAVNonCollection
        self.provider = provider
        self.location = location

    @property
    def node(self) -> Node:
        return self.location.node

    def _session(self):
        return self.environ["liasse.session"]

    def _require(self, action: Action, resource: Resource | None = None) -> None:
        principal, _ = _ctx(self.environ)
        decision = authorize(principal, action, resource or self.location.resource())
        if not decision:
            raise _deny(decision)

    def _require_write_subtree(self) -> None:
        """Writing (deleting, moving) a node also writes every document under it."""
        principal, _ = _ctx(self.environ)
        decision = store.authorize_subtree_write(self._session(), principal,
                                                     self.location)
        if not decision:
            raise _deny(decision)

    def get_creation_date(self):
        return self.node.created_at.timestamp()

    def get_last_modified(self):
        return self.node.modified_at.timestamp()

    def get_display_name(self):
        return self.node.name if self.node.kind != "root" else self.location.company.name

    # --- dead properties, in the node_property table -------------------------------------

    def _dead_properties(self) -> dict[str, str]:
        cache = self.environ.setdefault("liasse.dead_props", {})
        if self.node.id not in cache:
            rows = self._session().execute(select(NodeProperty.name, NodeProperty.value).where(
                NodeProperty.node_id == self.node.id))
            cache[self.node.id] = dict(rows.all())
        return cache[self.node.id]

    def get_property_names(self, *, is_allprop):
        names = super().get_property_names(is_allprop=is_allprop)
        if self.node.kind == "file":
            names.extend(RECEIPT_PROPS)
        names.extend(self._dead_properties())
        return names

    def get_property_value(self, name):
        if name in RECEIPT_PROPS:
            if self.node.kind != "file":
                raise DAVError(HTTP_NOT_FOUND)  # receipts belong to documents
            return self._receipt_value(name)
        if name in QUOTA_PROPS and self.node.kind == "file":
            # WsgiDAV answers 200 with an empty value; RFC 4331 quotas are on collections.
            raise DAVError(HTTP_NOT_FOUND)
        if not name.startswith(_NS_DEPTH):
            value = self._dead_properties().get(name)
            if value is None:
                raise DAVError(HTTP_NOT_FOUND)
            return etree.fromstring(value.encode("utf-8"),
                                    parser=etree.XMLParser(resolve_entities=False))
        return super().get_property_value(name)

    def receipt_values(self) -> tuple[str, str, str, str, str]:
        """deposited-by, deposited-at, received-by, received-at, download-count."""
        node = self.node
        users = self.provider.user_logins(self.environ,
                                          (node.deposited_by_id, node.received_by_id))
        return (users.get(node.deposited_by_id, ""), node.created_at.isoformat(),
                users.get(node.received_by_id, ""),
                node.received_at.isoformat() if node.received_at else "",
                str(node.download_count))

    def _receipt_value(self, name: str) -> str:
        return self.receipt_values()[RECEIPT_PROPS.index(name)]

    def set_property_value(self, name, value, *, dry_run=False):
        if name in RECEIPT_PROPS or name.startswith(_NS_DEPTH):
            if name in RECEIPT_PROPS or name in ("{DAV:}lockdiscovery", "{DAV:}supportedlock"):
                raise DAVError(HTTP_FORBIDDEN, err_condition=PRECONDITION_CODE_ProtectedProperty)
            return super().set_property_value(name, value, dry_run=dry_run)
        # Dead properties are metadata (Win32 times, Office fields): writing them needs the
        # write right, but they do not change the document, so the protection date allows it.
        resource = self.location.resource()
        self._require(Action.WRITE, Resource(resource.company_id, resource.company_active,
                                             None, resource.folder))
        if dry_run:
            return None
        with self.provider.db.transaction() as tx:
            row = tx.get(NodeProperty, (self.node.id, name))
            if value is None:
                if row is not None:
                    tx.delete(row)
            elif row is None:
                tx.add(NodeProperty(node_id=self.node.id, name=name,
                                    value=etree.tostring(value, encoding="unicode")))
            else:
                row.value = etree.tostring(value, encoding="unicode")
        self.provider.forget(self.environ)
        return None

    # --- delete, move, copy -------------------------------------------------------------

    def handle_delete(self):
        """DELETE: everything below goes to the trash in one transaction, or nothing does.
        Left to WsgiDAV, a folder with a document locked by someone else below would be
        emptied of every other document, one by one, and then refused itself (RFC 4918
        9.6.1 allows a partial delete; a standard folder, which can never be deleted, would
        have been emptied)."""
        self._require_write_subtree()
        lock_manager = self.provider.lock_manager
        if lock_manager is not None:
            if "wsgidav.conditions.if" not in self.environ:
                parse_if_header_dict(self.environ)
            lock_manager.check_write_permission(  # 423, naming the locked documents
                url=self.get_ref_url(), depth="infinity",
                token_list=self.environ["wsgidav.ifLockTokenList"],
                principal=self.environ["wsgidav.user_name"])
        self._trash()
        return True

    def delete(self):
        """WsgiDAV's own deletes (a destination overwritten by MOVE or COPY)."""
        self._require_write_subtree()
        self._trash()

    def _trash(self) -> None:
        with self.provider.db.transaction() as tx:
            location = self.provider.relocate(tx, self.location)
            store.trash(tx, location, _ctx(self.environ)[1].id)
        self.remove_all_locks(recursive=True)
        self.provider.forget(self.environ)

    def support_recursive_delete(self):
        return True

    def support_recursive_move(self, dest_path):
        return True

    def _destination(self, dest_path: str) -> tuple[Location, str]:
        parent = self.provider.get_resource_inst(get_uri_parent(dest_path), self.environ)
        if not isinstance(parent, NodeCollection):
            raise DAVError(HTTP_FORBIDDEN, "Destination hors des dossiers d'une entreprise.")
        name = check_new_name(get_uri_name(dest_path))
        parent._require(Action.WRITE, parent.location.resource(for_new_child=True))
        return parent.location, name

    def move_recursive(self, dest_path):
        self._require_write_subtree()
        target, name = self._destination(dest_path)
        if self.node.kind == "folder" and target.node.id in store.subtree_ids(
                self._session(), self.node.id):
            raise DAVError(HTTP_FORBIDDEN, "Un dossier ne peut pas être déplacé en lui-même.")
        self.remove_all_locks(recursive=True)
        with self.provider.db.transaction() as tx:
            store.move(tx, self.provider.relocate(tx, self.location),
                           self.provider.relocate(tx, target), name, _ctx(self.environ)[1].id)
        self.provider.forget(self.environ)
        return []

    def copy_move_single(self, dest_path, *, is_move):
        if is_move:  # moves always go through move_recursive
            raise DAVError(HTTP_FORBIDDEN)
        self._require(Action.READ)
        target, name = self._destination(dest_path)
        with self.provider.db.transaction() as tx:
            target_now = self.provider.relocate(tx, target)
            source = self.provider.relocate(tx, self.location)
            existing = store.live_child(tx, target_now.node.id, name)
            if existing is not None and existing.kind == self.node.kind:
                if existing.kind == "file":  # overwrite: the old body becomes a version
                    store.store_body(tx, target_now, name, source.node.sha256,
                                         source.node.size, _ctx(self.environ)[1].id)
                return  # COPY onto an existing folder merges into it
            store.copy_node(tx, source, target_now, name, _ctx(self.environ)[1].id)
        self.provider.forget(self.environ)


class NodeCollection(_NodeMixin, DAVCollection):
    """A company's root (its standard folders) or a folder."""

    def get_member_list(self):
        principal, _ = _ctx(self.environ)
        session = self._session()
        children = store.live_children(session, self.node.id)
        # Dead properties of every member in one query (PROPFIND Depth 1 is never N+1).
        dead = self.environ.setdefault("liasse.dead_props", {})
        for node in children:
            dead.setdefault(node.id, {})
        for node_id, name, value in store.children_properties(session, self.node.id):
            dead[node_id][name] = value
        # ... and the logins their receipts show, in one more (not one per member).
        self.provider.user_logins(self.environ, {i for n in children
                                                 for i in (n.deposited_by_id,
                                                           n.received_by_id)})
        members = []
        base = self.path.rstrip("/")
        for node in children:
            location = Location(self.location.company, (*self.location.nodes, node))
            if self.node.kind == "root" and not authorize(principal, Action.READ,
                                                          location.resource()):
                continue  # a folder without read right is not listed
            members.append(self.provider.wrap(f"{base}/{node.name}", self.environ, location))
        return members

    def get_member_names(self):
        return [m.name for m in self.get_member_list()]

    def get_member(self, name):
        return self.provider.get_resource_inst(f"{self.path.rstrip('/')}/{name}", self.environ)

    def get_etag(self):
        return None

    def get_used_bytes(self):
        return self.provider.usage(self.environ, self.location.company)[0]

    def get_available_bytes(self):
        return self.provider.usage(self.environ, self.location.company)[1]

    def create_collection(self, name):
        name = check_new_name(name)
        self._require(Action.WRITE, self.location.resource(for_new_child=True))
        with self.provider.db.transaction() as tx:
            try:
                store.create_folder(tx, self.provider.relocate(tx, self.location), name,
                                        _ctx(self.environ)[1].id)
            except InvalidInput as exc:
                raise DAVError(405, exc.reason) from None
            except IntegrityError:  # PostgreSQL: created meanwhile by a parallel MKCOL
                raise DAVError(405, f"« {name} » existe déjà.") from None
        self.provider.forget(self.environ)
        return self.provider.get_resource_inst(f"{self.path.rstrip('/')}/{name}", self.environ)

    def create_empty_resource(self, name):
        name = check_new_name(name)
        self._require(Action.WRITE, self.location.resource(for_new_child=True))
        path = f"{self.path.rstrip('/')}/{name}"
        if self.environ.get("REQUEST_METHOD") == "PUT":
            # Nothing is stored before the body has fully arrived (end_write).
            return PendingDocument(self.provider, path, self.environ, self.location, name)
        # LOCK on an unmapped URL creates an empty document (RFC 4918 §9.10.4; davfs2).
        sha, size = self.provider.blobs.put_bytes(b"")
        self.provider.deposit(self.environ, self.location, name, sha, size)
        self.provider.forget(self.environ)
        return self.provider.get_resource_inst(path, self.environ)


class DocumentResource(_NodeMixin, DAVNonCollection):
    def get_content_length(self):
        return self.node.size

    def get_content_type(self):
        return content_type(self.node.name)

    def get_etag(self):
        return self.node.sha256

    def support_etag(self):
        return True

    def support_ranges(self):
        return True

    def get_content(self):
        self._require(Action.READ)
        _, user = _ctx(self.environ)
        stream = self.provider.blobs.open(self.node.sha256)
        return DownloadStream(stream, self.node.size, on_close=self._record_download,
                              partial=bool(self.environ.get("HTTP_RANGE")))

    def _record_download(self, bytes_sent: int, complete: bool) -> None:
        self.provider.record_download(self.environ, self.node, bytes_sent, complete)

    def begin_write(self, *, content_type=None):
        self._require(Action.WRITE)
        return self.provider.upload_writer(self.environ, self.location.company,
                                           replacing=self.node.size)

    def end_write(self, *, with_errors):
        writer: UploadWriter = self.environ.pop("liasse.upload", None)
        if writer is None:
            return
        if with_errors:
            writer.discard()
            return
        sha, size = writer.commit()
        self.location = self.provider.deposit(self.environ, Location(
            self.location.company, self.location.nodes[:-1]), self.node.name, sha, size)
        self.provider.forget(self.environ)


class PendingDocument(DocumentResource):
    """A document being created by PUT: it exists once its body is stored."""

    def __init__(self, provider: LiasseProvider, path: str, environ: dict,
                 parent: Location, name: str) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self.provider = provider
        self.parent = parent
        self.name_ = name
        self.location = parent  # rights of a new child of `parent`
        self._stored: Node | None = None

    @property
    def node(self) -> Node:
        if self._stored is None:
            raise DAVError(HTTP_NOT_FOUND)
        return self._stored

    def begin_write(self, *, content_type=None):
        self._require(Action.WRITE, self.parent.resource(for_new_child=True))
        return self.provider.upload_writer(self.environ, self.parent.company, replacing=0)

    def end_write(self, *, with_errors):
        writer: UploadWriter = self.environ.pop("liasse.upload", None)
        if writer is None:
            return
        if with_errors:
            writer.discard()
            return
        sha, size = writer.commit()
        self.location = self.provider.deposit(self.environ, self.parent, self.name_, sha, size)
        self._stored = self.location.node
        self.provider.forget(self.environ)
