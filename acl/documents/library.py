"""A company's documents as one user sees and changes them, outside the drive (the web app).

The same operations as the drive, on `acl.documents.store`, each checked with the one permission
function `acl.rights.policy.authorize` exactly where the drive checks it (davserver.resources):
reading needs READ on the target; creating needs WRITE on a new child of the folder;
renaming, moving and deleting need WRITE on the whole subtree and on a new child of the
destination. Whatever the user may not read answers `NotFound`, worded as for something
missing; a refused write raises `Refused` with the permission function's sentence.

Functions take the session first and never commit: reads use a read session, changes one
write transaction each (all or nothing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.db import Database, utcnow
from acl.documents import store
from acl.documents.blobs import CHUNK, DISK_FULL, BlobStore, BlobWriter, full_disk_refused
from acl.documents.models import Download, Node, NodeVersion
from acl.documents.store import Location
from acl.errors import InvalidInput, NotFound, Refused
from acl.people.models import Company, User
from acl.rights.policy import Action, Decision, Principal, Resource, authorize
from config.names import InvalidName, check_segment, normalize_segment
from config.settings import DriveSettings

NOT_FOUND = "Document ou dossier introuvable."
MIB = 2**20


class TooLarge(Refused):
    """A document over the maximum upload size (HTTP 413)."""


class OverQuota(Refused):
    """A deposit that would exceed the company's quota (HTTP 507)."""


class DiskFull(Refused):
    """The server's disk has no room left for a deposit (HTTP 507)."""

    def __init__(self) -> None:
        super().__init__(f"{DISK_FULL} Rien n'a été déposé.")


def _require(decision: Decision) -> None:
    if not decision:
        raise Refused(decision.reason)


def _checked_name(name: str, field: str = "name") -> str:
    try:
        return check_segment(name)
    except InvalidName as exc:
        raise InvalidInput(f"Nom refusé : {exc}.", field=field) from None


def parent_of(location: Location) -> Location:
    return Location(location.company, location.nodes[:-1])


# --- reading ------------------------------------------------------------------------------

def readable_companies(session: Session, principal: Principal) -> list[Company]:
    """The companies whose tree the user may open, by name (the drive's root listing)."""
    return [c for c in session.scalars(select(Company).order_by(Company.name))
            if authorize(principal, Action.READ, Resource(c.id, c.is_active))]


def open_company(session: Session, principal: Principal, folder_name: str) -> Company:
    company = store.company_by_folder_name(session, normalize_segment(folder_name))
    if company is None or not authorize(principal, Action.READ,
                                        Resource(company.id, company.is_active)):
        raise NotFound("Entreprise introuvable.")
    return company


def open_path(session: Session, principal: Principal, company: Company,
              segments: Sequence[str]) -> Location:
    """The readable location at `segments` below the company's root."""
    location = store.resolve(session, company,
                                 [normalize_segment(s) for s in segments if s])
    if location is None or not authorize(principal, Action.READ, location.resource()):
        raise NotFound(NOT_FOUND)
    return location


def open_node(session: Session, principal: Principal, node_id: int) -> Location:
    """The readable, live location of a node (a trashed ancestor hides it)."""
    location = store.live_location(session, node_id)
    if location is None or not authorize(principal, Action.READ, location.resource()):
        raise NotFound(NOT_FOUND)
    return location


def listing(session: Session, principal: Principal, folder: Location) -> list[Location]:
    """The members of a folder the user may read, folders first, without the helper files
    of Finder, Windows and Office."""
    members = []
    for node in store.live_children(session, folder.node.id):
        if node.is_client_file or store.is_client_file(node.name):
            continue
        location = Location(folder.company, (*folder.nodes, node))
        if authorize(principal, Action.READ, location.resource()):
            members.append(location)
    members.sort(key=lambda loc: (loc.node.kind == "file", loc.node.name.casefold()))
    return members


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_(wanted))).all())


def versions(session: Session, node_id: int) -> list[NodeVersion]:
    """Previous bodies of a document, the latest replaced first."""
    return list(session.scalars(select(NodeVersion).where(NodeVersion.node_id == node_id)
                                .order_by(NodeVersion.replaced_at.desc(),
                                          NodeVersion.id.desc())))


def open_version(session: Session, principal: Principal, node_id: int,
                 version_id: int) -> tuple[Location, NodeVersion]:
    location = open_node(session, principal, node_id)
    version = session.get(NodeVersion, version_id)
    if version is None or version.node_id != location.node.id:
        raise NotFound(NOT_FOUND)
    return location, version


def download_history(session: Session, node_id: int, limit: int = 200) -> list[Download]:
    """The downloads of a document, the latest first (the receipt tag's history)."""
    return list(session.scalars(select(Download).where(Download.node_id == node_id)
                                .order_by(Download.at.desc(), Download.id.desc())
                                .limit(limit)))


def may_deposit(principal: Principal, folder: Location) -> Decision:
    """Whether the user may create documents and folders in `folder`."""
    if folder.node.kind == "file":
        return Decision(False, "Un document ne peut rien contenir.")
    return authorize(principal, Action.WRITE, folder.resource(for_new_child=True))


def may_change(session: Session, principal: Principal, location: Location) -> Decision:
    """Whether the user may rename, move or delete the node (its whole subtree)."""
    return store.authorize_subtree_write(session, principal, location)


def writable_folders(session: Session, principal: Principal,
                     company: Company) -> list[Location]:
    """The company's live folders the user may deposit into, in tree order (the
    destinations of a move)."""
    nodes = session.scalars(select(Node).where(
        Node.company_id == company.id, Node.deleted_at.is_(None),
        Node.kind.in_(("root", "folder"))))
    children: dict[int | None, list[Node]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    found: list[Location] = []

    def walk(path: tuple[Node, ...]) -> None:
        for node in sorted(children.get(path[-1].id, ()), key=lambda n: n.name.casefold()):
            if node.is_client_file:
                continue
            location = Location(company, (*path, node))
            if not authorize(principal, Action.READ, location.resource()):
                continue
            if authorize(principal, Action.WRITE, location.resource(for_new_child=True)):
                found.append(location)
            walk(location.nodes)

    for root in children.get(None, ()):
        walk((root,))
    return found


def trash_entries(session: Session, principal: Principal, company: Company) -> list[Location]:
    """Trashed items of the company the user may read and put back, the latest first."""
    found = []
    for node in store.trashed(session, company.id):
        if node.is_client_file:
            continue
        location = store.location_of(session, node)
        if authorize(principal, Action.READ, location.resource()) and authorize(
                principal, Action.WRITE, parent_of(location).resource(for_new_child=True)):
            found.append(location)
    return found


# --- changing -----------------------------------------------------------------------------

def create_folder(tx: Session, principal: Principal, parent_id: int, name: str) -> Location:
    parent = open_node(tx, principal, parent_id)
    name = _checked_name(name)
    _require(may_deposit(principal, parent))
    if store.live_child(tx, parent.node.id, name) is not None:
        raise InvalidInput(f"« {name} » existe déjà dans ce dossier.", field="name")
    node = store.create_folder(tx, parent, name, principal.user_id)
    return Location(parent.company, (*parent.nodes, node))


def rename(tx: Session, principal: Principal, node_id: int, new_name: str) -> Location:
    location = open_node(tx, principal, node_id)
    name = _checked_name(new_name)
    _require(may_change(tx, principal, location))
    if name == location.node.name:
        return location
    parent = parent_of(location)
    _require(authorize(principal, Action.WRITE, parent.resource(for_new_child=True)))
    if store.live_child(tx, parent.node.id, name) is not None:
        raise InvalidInput(f"« {name} » existe déjà dans ce dossier.", field="name")
    node = store.move(tx, location, parent, name, principal.user_id)
    return Location(parent.company, (*parent.nodes, node))


def move(tx: Session, principal: Principal, node_ids: Sequence[int],
         destination_id: int) -> Location:
    """Move nodes into a folder of the same company; returns the destination."""
    destination = open_node(tx, principal, destination_id)
    if destination.node.kind == "file":
        raise InvalidInput("La destination doit être un dossier.", field="destination")
    _require(may_deposit(principal, destination))
    for node_id in dict.fromkeys(node_ids):
        location = open_node(tx, principal, node_id)
        if location.company.id != destination.company.id:
            raise InvalidInput("Un élément ne peut être déplacé que dans la même entreprise.",
                               field="destination")
        _require(may_change(tx, principal, location))
        if location.node.id in {n.id for n in destination.nodes}:
            raise InvalidInput(f"« {location.node.name} » ne peut pas être déplacé dans "
                               "lui-même.", field="destination")
        if location.nodes[-2].id == destination.node.id:
            continue  # already there
        if store.live_child(tx, destination.node.id, location.node.name) is not None:
            raise InvalidInput(f"« {location.node.name} » existe déjà dans "
                               f"« {destination.node.name} ».", field="destination")
        store.move(tx, location, destination, location.node.name, principal.user_id)
    return destination


def trash(tx: Session, principal: Principal, node_ids: Sequence[int]) -> list[Location]:
    """Move nodes to the trash (restorable); returns where they were."""
    done = []
    for node_id in dict.fromkeys(node_ids):
        location = open_node(tx, principal, node_id)
        _require(may_change(tx, principal, location))
        store.trash(tx, location, principal.user_id)
        done.append(location)
    return done


def restore(tx: Session, principal: Principal, node_id: int) -> Location:
    missing = NotFound("Cet élément n'est plus dans la corbeille.")
    node = tx.get(Node, node_id)
    if node is None or node.deleted_at is None:
        raise missing
    location = store.location_of(tx, node)
    if not authorize(principal, Action.READ, location.resource()):
        raise missing
    parent = parent_of(location)
    _require(authorize(principal, Action.WRITE, parent.resource(for_new_child=True)))
    restored = store.restore(tx, node, principal.user_id)  # (refused below a trashed folder)
    return Location(parent.company, (*parent.nodes, restored))


# --- deposits -------------------------------------------------------------------------------

@dataclass(frozen=True)
class UploadLimits:
    """The drive's limits: the maximum size of one document and the default quota."""

    max_upload_bytes: int | None
    default_quota_bytes: int | None

    @classmethod
    def from_settings(cls, drive: DriveSettings) -> UploadLimits:
        return cls(drive.max_upload_mib * MIB if drive.max_upload_mib else None,
                   drive.quota_mib * MIB if drive.quota_mib else None)

    def quota(self, company: Company) -> int | None:
        return company.quota_bytes if company.quota_bytes is not None \
            else self.default_quota_bytes


def _mib(size: int) -> str:
    return f"{size / MIB:.1f}".replace(".", ",").replace(",0", "") + " Mio"


@dataclass
class Upload:
    """Bodies received for one folder, not yet filed: `deposit` files them; leaving the
    `with` block drops whatever was not filed (nothing half-written)."""

    folder_id: int
    limits: UploadLimits
    files: list[tuple[str, BlobWriter]] = field(default_factory=list)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def discard(self) -> None:
        for _, writer in self.files:
            writer.discard()  # a no-op once committed

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.files]


def _upload_target(session: Session, principal: Principal, folder: Location,
                   name: str) -> Node | None:
    """The document a deposit of `name` overwrites (None: a new one), after the checks."""
    existing = store.live_child(session, folder.node.id, name)
    if existing is None:
        return None
    if existing.kind != "file":
        raise InvalidInput(f"Un dossier porte déjà le nom « {name} ».", field="files")
    _require(authorize(principal, Action.WRITE,
                       Location(folder.company, (*folder.nodes, existing)).resource()))
    return existing


def _check_quota(session: Session, limits: UploadLimits, company: Company,
                 adding: int) -> None:
    quota = limits.quota(company)
    if quota is not None and store.used_bytes(session, company.id) + adding > quota:
        raise OverQuota(f"Espace de l'entreprise épuisé : le quota de {_mib(quota)} serait "
                        "dépassé. Rien n'a été déposé.")


def receive_upload(session: Session, principal: Principal, blobs: BlobStore,
                   limits: UploadLimits, folder_id: int,
                   files: Sequence[tuple[str, BinaryIO]]) -> Upload:
    """Check the names and rights, then receive each body into a temporary blob, within the
    maximum size and the quota. Refused as a whole: nothing is kept."""
    folder = open_node(session, principal, folder_id)
    _require(may_deposit(principal, folder))
    if not files:
        raise InvalidInput("Choisissez au moins un fichier.", field="files")
    names: list[str] = []
    replaced: dict[str, int] = {}
    for raw, _ in files:
        name = _checked_name(raw.replace("\\", "/").rsplit("/", 1)[-1], field="files")
        existing = _upload_target(session, principal, folder, name)
        if existing is not None:
            replaced[name] = existing.size
        names.append(name)
    quota = limits.quota(folder.company)
    room = None if quota is None else \
        quota - store.used_bytes(session, folder.company.id) + sum(replaced.values())
    upload = Upload(folder.node.id, limits)
    received = 0
    try:
        with full_disk_refused(DiskFull):
            for name, (_, stream) in zip(names, files, strict=True):
                writer = blobs.writer()
                upload.files.append((name, writer))
                while chunk := stream.read(CHUNK):
                    writer.write(chunk)
                    if limits.max_upload_bytes is not None and \
                            writer.size > limits.max_upload_bytes:
                        raise TooLarge(f"« {name} » est trop volumineux : "
                                       f"{_mib(limits.max_upload_bytes)} au plus par document. "
                                       "Rien n'a été déposé.")
                    if room is not None and received + writer.size > room:
                        raise OverQuota(f"Espace de l'entreprise épuisé : le quota de "
                                        f"{_mib(quota)} serait dépassé par « {name} ». "
                                        "Rien n'a été déposé.")
                received += writer.size
    except BaseException:
        upload.discard()
        raise
    return upload


def deposit(tx: Session, principal: Principal, upload: Upload) -> list[Node]:
    """File the received bodies: a same-name document is overwritten, its previous body
    kept as a version. Rights and quota are checked again in the transaction."""
    folder = open_node(tx, principal, upload.folder_id)
    _require(may_deposit(principal, folder))
    targets = [(name, writer, _upload_target(tx, principal, folder, name))
               for name, writer in upload.files]
    replaced = {name: existing.size for name, _, existing in targets if existing is not None}
    _check_quota(tx, upload.limits, folder.company,
                 sum(w.size for _, w, _ in targets) - sum(replaced.values()))
    stored = []
    for name, writer, _ in targets:
        with full_disk_refused(DiskFull):  # the transaction is rolled back: nothing is filed
            sha, size = writer.commit()  # a twin in the batch becomes a version of the first
        stored.append(store.store_body(tx, folder, name, sha, size, principal.user_id))
    return stored


# --- downloads ------------------------------------------------------------------------------

def download_recorder(db: Database, user_id: int, client: str, node_ids: Sequence[int], *,
                      archive: bool = False) -> Callable[[int, bool], None]:
    """What a `DownloadStream` calls at close: a document gets the bytes sent, each document
    of an archive its size when the archive was sent whole (else 0, incomplete)."""

    def record(bytes_sent: int, complete: bool) -> None:
        with db.transaction() as tx:
            user = tx.get(User, user_id)
            for node_id in node_ids:
                node = tx.get(Node, node_id)
                if node is None or user is None:
                    continue
                sent = (node.size if complete else 0) if archive else bytes_sent
                store.record_download(tx, node, user, bytes_sent=sent,
                                          complete=complete, client=client)

    return record


def version_download_recorder(db: Database, user_id: int, client: str, node_id: int,
                              version: NodeVersion) -> Callable[[int, bool], None]:
    """A previous version's download goes into the history, but it is no receipt of the
    current document (nor a download of it)."""
    label = f"version n° {version.id} · {client}"

    def record(bytes_sent: int, complete: bool) -> None:
        with db.transaction() as tx:
            if tx.get(Node, node_id) is not None:
                tx.add(Download(node_id=node_id, user_id=user_id, at=utcnow(),
                                bytes_sent=bytes_sent, complete=complete, client=label[:200]))

    return record
