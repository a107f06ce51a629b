"""WsgiDAV resources over the node table: the drive root, folders and documents.

Every method hands its document operation to the one operations layer
(`acl.documents.operations`), which decides with the permission function before storage is
touched; a refusal comes back as a WebDAV error of its own status (`transfer.dav_error`): a
refused read looks exactly like a missing resource (404), a refused write is a 403 with its
sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wsgidav.dav_error import (
    HTTP_BAD_REQUEST,
    HTTP_FORBIDDEN,
    HTTP_METHOD_NOT_ALLOWED,
    HTTP_NOT_FOUND,
    DAVError,
    PRECONDITION_CODE_ProtectedProperty,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection
from wsgidav.util import get_uri_name, get_uri_parent, parse_if_header_dict

from acl.documents import operations, store
from acl.documents.delivery import body_headers, content_type
from acl.documents.models import Node, NodeProperty
from acl.documents.operations import parent_of, require
from acl.documents.store import Location
from acl.errors import NameTaken, Refused
from acl.rights.policy import Principal
from davserver.gate import NO_DTD
from davserver.transfer import dav_error, refusals_as_dav_errors

if TYPE_CHECKING:
    from davserver.provider import LiasseProvider

LIASSE_NS = "urn:liasse:receipt"
RECEIPT_PROPS = tuple(f"{{{LIASSE_NS}}}{name}" for name in (
    "deposited-by", "deposited-at", "received-by", "received-at", "download-count"))
_NS_DEPTH = "{DAV:}"
QUOTA_PROPS = ("{DAV:}quota-used-bytes", "{DAV:}quota-available-bytes")


class DriveRoot(DAVCollection):
    """`/dav/`: the companies the user may reach."""

    def __init__(self, provider: LiasseProvider, environ: dict) -> None:
        super().__init__("/", environ)
        self.provider: LiasseProvider = provider

    def get_display_name(self) -> str:
        return "Liasse"

    def get_member_list(self):
        return [self.provider.wrap(f"/{location.company.folder_name}", self.environ, location)
                for location in self.provider.company_roots(self.environ)]

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
    """What folders and documents share: the location, dead properties, and the operations
    on the node itself (delete, move, copy)."""

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

    def _principal(self) -> Principal:
        return self.environ["liasse.principal"]

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
            cache[self.node.id] = {name: value for name, value in rows
                                   if store.is_sound_property(value)}
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
        with refusals_as_dav_errors():
            require(operations.may_annotate(self._principal(), self.location))
        if value is not None and any(isinstance(e, etree._Entity) for e in value.iter()):
            raise DAVError(HTTP_BAD_REQUEST, NO_DTD)  # it would break every listing
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
        with refusals_as_dav_errors():  # a refused user learns nothing of the locks
            require(operations.may_change(self._session(), self._principal(), self.location))
        lock_manager = self.provider.lock_manager
        if lock_manager is not None:
            if "wsgidav.conditions.if" not in self.environ:
                parse_if_header_dict(self.environ)
            lock_manager.check_write_permission(  # 423, naming the locked documents
                url=self.get_ref_url(), depth="infinity",
                token_list=self.environ["wsgidav.ifLockTokenList"],
                principal=self.environ["wsgidav.user_name"])
        self.delete()
        return True

    def delete(self):
        """DELETE, and WsgiDAV's own deletes (a destination overwritten by MOVE or COPY)."""
        with refusals_as_dav_errors(), self.provider.db.transaction() as tx:
            operations.delete(tx, self._principal(), self.provider.relocate(tx, self.location))
        self.remove_all_locks(recursive=True)
        self.provider.forget(self.environ)

    def support_recursive_delete(self):
        return True

    def support_recursive_move(self, dest_path):
        return True

    def _destination(self, dest_path: str) -> tuple[Location, str]:
        """The folder a MOVE or COPY goes into, and the name it gets there."""
        parent = self.provider.get_resource_inst(get_uri_parent(dest_path), self.environ)
        if not isinstance(parent, NodeCollection):
            raise DAVError(HTTP_FORBIDDEN, "Destination hors des dossiers d'une entreprise.")
        return parent.location, get_uri_name(dest_path)

    def move_recursive(self, dest_path):
        target, name = self._destination(dest_path)
        with refusals_as_dav_errors():  # checked before the locks go
            operations.check_move(self._session(), self._principal(), self.location, target,
                                  name)
        self.remove_all_locks(recursive=True)
        with refusals_as_dav_errors(), self.provider.db.transaction() as tx:
            operations.move(tx, self._principal(), self.provider.relocate(tx, self.location),
                            self.provider.relocate(tx, target), name)
        self.provider.forget(self.environ)
        return []

    def copy_move_single(self, dest_path, *, is_move):
        if is_move:  # moves always go through move_recursive
            raise DAVError(HTTP_FORBIDDEN)
        target, name = self._destination(dest_path)
        with refusals_as_dav_errors(), self.provider.db.transaction() as tx:
            operations.copy(tx, self._principal(), self.provider.relocate(tx, self.location),
                            self.provider.relocate(tx, target), name)
        self.provider.forget(self.environ)


class NodeCollection(_NodeMixin, DAVCollection):
    """A company's root (its standard folders) or a folder."""

    def get_member_list(self):
        principal = self._principal()
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
            if self.node.kind == "root" and not operations.may_read(principal, location):
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
        try:
            with self.provider.db.transaction() as tx:
                created = operations.mkdir(tx, self._principal(),
                                           self.provider.relocate(tx, self.location), name)
                created_name = created.node.name
        except (NameTaken, IntegrityError):  # a parallel MKCOL created it meanwhile:
            # RFC 4918 §9.3.1, MKCOL on a mapped URL is 405, as WsgiDAV answers it itself
            raise DAVError(HTTP_METHOD_NOT_ALLOWED, f"« {name} » existe déjà.") from None
        except Refused as refusal:
            raise dav_error(refusal) from None
        self.provider.forget(self.environ)
        return self.provider.get_resource_inst(f"{self.path.rstrip('/')}/{created_name}",
                                               self.environ)

    def create_empty_resource(self, name):
        with refusals_as_dav_errors():
            name = operations.check_deposit(self._principal(), self.location, name, None)
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

    def finalize_headers(self, environ, response_headers):
        """A document's body never runs in the app's origin (acl.documents.delivery)."""
        response_headers.extend(body_headers(self.node.name, self.get_content_type()))

    def get_etag(self):
        return self.node.sha256

    def support_etag(self):
        return True

    def support_ranges(self):
        return True

    def get_content(self):
        with refusals_as_dav_errors():
            return operations.open_body(
                self._principal(), self.location, self.provider.blobs,
                on_close=self._record_download, partial=bool(self.environ.get("HTTP_RANGE")))

    def _record_download(self, bytes_sent: int, complete: bool) -> None:
        self.provider.record_download(self.environ, self.node, bytes_sent, complete)

    def begin_write(self, *, content_type=None):
        return self.provider.upload_writer(self.environ, parent_of(self.location),
                                           self.node.name, self.node)

    def end_write(self, *, with_errors):
        stored = self.provider.end_upload(self.environ, parent_of(self.location),
                                          self.node.name, with_errors=with_errors)
        if stored is not None:
            self.location = stored


class PendingDocument(DocumentResource):
    """A document being created by PUT: it exists once its body is stored."""

    def __init__(self, provider: LiasseProvider, path: str, environ: dict,
                 parent: Location, name: str) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self.provider = provider
        self.parent = parent
        self.name_ = name
        self.location = parent  # until its body is stored
        self._stored: Node | None = None

    @property
    def node(self) -> Node:
        if self._stored is None:
            raise DAVError(HTTP_NOT_FOUND)
        return self._stored

    def begin_write(self, *, content_type=None):
        return self.provider.upload_writer(self.environ, self.parent, self.name_, None)

    def end_write(self, *, with_errors):
        stored = self.provider.end_upload(self.environ, self.parent, self.name_,
                                          with_errors=with_errors)
        if stored is not None:
            self.location, self._stored = stored, stored.node
