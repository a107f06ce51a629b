"""The one operations layer: every change to a company tree and every read of a document's
body, whatever the channel — the drive (its fast path and WsgiDAV's resources), the web app,
the CLI, and next invoicing, messaging and the sync tool. None of them decides a rule.

Each operation takes the principal and resolved locations (`store.Location`) and decides,
with the one permission function `acl.rights.policy.authorize`, which resources to check:

| operation | checked |
|---|---|
| read | READ on the document |
| deposit (new) | WRITE on a new child of the folder |
| deposit (over a document) | WRITE on that document (protection date included) |
| mkdir | WRITE on a new child of the folder |
| move, rename | WRITE on the whole subtree moved, WRITE on a new child of the destination |
| copy | READ on the source, WRITE on a new child of the destination |
| delete | WRITE on the whole subtree |
| restore | READ on the item, WRITE on a new child of its folder |

and the rules that are not rights: someone else's WebDAV lock (`require_unlocked`; the drive
checks the client's lock tokens itself), names every client can hold (`config.names`), a
document stays in its company (no move or copy between companies: its receipts and history belong
to the company that received it), nothing moves into itself, the maximum size of a document
and the company's quota (`acl.documents.limits`: `Limits`, and `Body`, a body received
within them). Changes run in
the caller's transaction; the edge commits.

A refusal is a domain error of `acl.errors`: one French sentence, and the `status` every
edge answers with. What the principal may not read is refused as not found, worded as for
something missing, so that nothing leaks about what exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from acl.documents import locks, store
from acl.documents.blobs import CHUNK, BlobStore, DownloadStream
from acl.documents.hot import HotQueries
from acl.documents.limits import Body, Limits
from acl.documents.models import Node
from acl.documents.store import Location, NodeRow
from acl.errors import (
    Conflict,
    InvalidInput,
    Locked,
    NameTaken,
    NotFound,
    PermissionDenied,
)
from acl.rights.policy import Action, Decision, Principal, Resource, authorize
from config.names import InvalidName, check_segment

NOT_FOUND = "Document ou dossier introuvable."
NOT_IN_TRASH = "Cet élément n'est plus dans la corbeille."
CROSS_COMPANY = ("Un document appartient à son entreprise : il ne peut être ni déplacé ni "
                 "copié vers une autre. Pour le transmettre, téléchargez-le puis déposez-le "
                 "dans l'autre entreprise.")
CHANGED = "Le dossier a changé pendant l'opération ; réessayez."
# Folders below a standard folder, at most: deeper trees are unusable from Windows (260
# characters per path in Explorer) and every level is a join when a path is resolved.
MAX_DEPTH = 32
TOO_DEEP = (f"Trop de niveaux de dossiers : {MAX_DEPTH} au plus sous un dossier standard. "
            "Rangez-le moins profondément.")


def checked_name(name: str, field: str = "name") -> str:
    """The name as stored (NFC), or InvalidInput saying why no client could hold it."""
    try:
        return check_segment(name)
    except InvalidName as exc:
        raise InvalidInput(f"Nom refusé : {exc}.", field=field) from None


def require(decision: Decision) -> None:
    if not decision:
        raise PermissionDenied(decision.reason)


def parent_of(location: Location) -> Location:
    return Location(location.company, location.nodes[:-1])


def child(location: Location, node: Any) -> Location:
    return Location(location.company, (*location.nodes, node))


# --- decisions ----------------------------------------------------------------------------

def resource_of(location: Location, *, for_new_child: bool = False) -> Resource:
    """The permission function's view of a node (or of a new child of it): its company, the
    standard folder holding it, whether it is that folder, the document's date."""
    node, company = location.node, location.company
    return Resource(
        company_id=company.id, company_active=company.is_active,
        protection_date=company.protection_date, folder=location.folder,
        is_standard_folder=not for_new_child and len(location.nodes) == 2,
        document_date=None if for_new_child or node.kind == "root" else node.created_at.date())


def may_read(principal: Principal, location: Location) -> Decision:
    """Whether the principal may see the node (list it, open it, download it); a company
    root, for whoever reaches the company (its standard folders are each checked)."""
    return authorize(principal, Action.READ, resource_of(location))


def require_read(principal: Principal, location: Location | None) -> Location:
    """The location, if it exists and the principal may read it; else NotFound."""
    if location is None or not may_read(principal, location):
        raise NotFound(NOT_FOUND)
    return location


def may_deposit(principal: Principal, folder: Location) -> Decision:
    """Whether the principal may create documents and folders in `folder`."""
    if folder.node.kind == "file":
        return Decision(False, "Un document ne peut rien contenir.")
    return authorize(principal, Action.WRITE, resource_of(folder, for_new_child=True))


def may_change(session: Session, principal: Principal, location: Location) -> Decision:
    """Whether the principal may rename, move or delete the node. Changing a node changes
    every document under it: a folder holding a document older than the protection date is
    as read-only as that document."""
    decision = authorize(principal, Action.WRITE, resource_of(location))
    company = location.company
    if not decision or company.protection_date is None or location.node.kind != "folder":
        return decision
    oldest = store.oldest_document_date(session, location.node)
    if oldest is None:
        return decision
    return authorize(principal, Action.WRITE, Resource(
        company.id, company.is_active, company.protection_date, location.folder,
        document_date=oldest))


def closed_period(session: Session, location: Location) -> date | None:
    """The last day of the closed fiscal period (the day before the company's protection
    date) when the node is, or holds, a document dated before it: read-only for everybody,
    and the pages say so rather than hide the actions."""
    company = location.company
    if company.protection_date is None or len(location.nodes) <= 2:
        return None
    node = location.node
    dated = node.created_at.date() if node.kind == "file" \
        else store.oldest_document_date(session, node)
    if dated is None or dated >= company.protection_date:
        return None
    return company.protection_date - timedelta(days=1)


def may_annotate(principal: Principal, location: Location) -> Decision:
    """Whether the principal may set the node's WebDAV dead properties (Win32 times, Office
    fields): metadata, not content, so the protection date does not forbid it."""
    resource = resource_of(location)
    return authorize(principal, Action.WRITE, Resource(
        resource.company_id, resource.company_active, None, resource.folder))


def check_deposit(principal: Principal, folder: Location, name: str,
                  existing: Node | NodeRow | None) -> str:
    """The checked name of a document to deposit into `folder`, over `existing` (the live
    member of that name, if any)."""
    name = checked_name(name)
    require(may_deposit(principal, folder))
    if existing is not None:
        if existing.kind != "file":
            raise NameTaken(f"Un dossier porte déjà le nom « {name} ».", field="name")
        require(authorize(principal, Action.WRITE, resource_of(child(folder, existing))))
    return name


def check_move(session: Session, principal: Principal, source: Location,
               destination: Location, name: str) -> str:
    """The checked new name of `source` moved (or renamed) into the folder `destination`."""
    name = checked_name(name)
    require(may_change(session, principal, source))
    _require_same_company(source, destination)
    require(may_deposit(principal, destination))
    if source.node.id in {n.id for n in destination.nodes}:
        raise PermissionDenied(f"« {source.node.name} » ne peut pas être déplacé dans "
                               "lui-même.")
    return name


def check_copy(principal: Principal, source: Location, destination: Location,
               name: str) -> str:
    """The checked name of a copy of `source` into the folder `destination`."""
    name = checked_name(name)
    require_read(principal, source)
    _require_same_company(source, destination)
    require(may_deposit(principal, destination))
    if source.node.id in {n.id for n in destination.nodes}:
        raise PermissionDenied(f"« {source.node.name} » ne peut pas être copié dans lui-même.")
    return name


def may_lock(principal: Principal, location: Location) -> Decision:
    """Whether the principal may take a WebDAV lock on the node: a lock stops everyone
    else's writes, so only who may write it takes one; and never on a standard folder or a
    company's root, which a lock with depth infinity would freeze for the whole firm."""
    if location.node.kind == "file":
        return authorize(principal, Action.WRITE, resource_of(location))
    if len(location.nodes) <= 2:
        return Decision(False, "Un dossier standard ne se verrouille pas : verrouillez le "
                               "document ou le sous-dossier concerné.")
    return may_deposit(principal, location)


def require_unlocked(session: Session, principal: Principal, location: Location, *,
                     below: bool = False) -> None:
    """Refuse (423) when someone else's WebDAV lock covers the node (on it, or on a folder
    above with depth infinity) or, with `below`, anything under it. The drive checks the
    lock tokens a client sends (WsgiDAV); every other channel comes here, and a lock its own
    user holds does not stop him."""
    held = [lock for lock in locks.covering(session, locks.root_of(location.path), below=below)
            if lock.principal != principal.login]
    if held:
        lock = held[0]
        raise Locked(f"« {lock.path.rsplit('/', 1)[-1]} » est verrouillé par {lock.principal} "
                     "(ouvert dans son logiciel) : réessayez quand il l'aura fermé, ou "
                     "demandez au cabinet de lever le verrou.")


def _require_same_company(source: Location, destination: Location) -> None:
    if source.company.id != destination.company.id:
        raise PermissionDenied(CROSS_COMPANY)


def _depth(folder: Location) -> int:
    """Folders from a standard folder (excluded) down to `folder` (included)."""
    return max(0, len(folder.nodes) - 2)


def _require_free(session: Session, folder: Location, name: str) -> None:
    if store.live_child(session, folder.node.id, name) is not None:
        where = "ce dossier" if len(folder.nodes) < 2 else f"« {folder.node.name} »"
        raise NameTaken(f"« {name} » existe déjà dans {where}.", field="name")


# --- changes ------------------------------------------------------------------------------

def mkdir(tx: Session, principal: Principal, parent: Location, name: str) -> Location:
    name = checked_name(name)
    require(may_deposit(principal, parent))
    if _depth(parent) + 1 > MAX_DEPTH:
        raise InvalidInput(TOO_DEEP, field="name")
    _require_free(tx, parent, name)
    require_unlocked(tx, principal, parent)
    return child(parent, store.create_folder(tx, parent, name, principal.user_id))


def move(tx: Session, principal: Principal, source: Location, destination: Location,
         name: str | None = None) -> Location:
    """Move `source` into the folder `destination` under `name` (its own by default); a
    rename is a move into its own folder. Moving where it is already does nothing."""
    name = check_move(tx, principal, source, destination,
                      source.node.name if name is None else name)
    if source.nodes[-2].id == destination.node.id and name == source.node.name:
        return source
    if source.node.kind == "folder" and \
            _depth(destination) + store.subtree_height(tx, source.node.id) > MAX_DEPTH:
        raise InvalidInput(TOO_DEEP, field="destination")
    _require_free(tx, destination, name)
    require_unlocked(tx, principal, source, below=True)
    require_unlocked(tx, principal, parent_of(source))
    require_unlocked(tx, principal, destination)
    return child(destination, store.move(tx, source, destination, name, principal.user_id))


def copy(tx: Session, principal: Principal, source: Location, destination: Location,
         name: str) -> Location:
    """Copy one node (not its members: a client copies a tree member by member) into the
    folder `destination`. A document shares its body and becomes a new deposit by the
    principal (receipts and history stay with the original); over a document of that name
    it is a new version of it; over a folder of that name the copy merges into it."""
    name = check_copy(principal, source, destination, name)
    existing = store.live_child(tx, destination.node.id, name)
    require_unlocked(tx, principal, child(destination, existing) if existing is not None
                     else destination)
    if existing is not None and existing.kind == source.node.kind:
        if existing.kind == "file":
            require(authorize(principal, Action.WRITE, resource_of(child(destination, existing))))
            store.store_body(tx, destination, name, source.node.sha256, source.node.size,
                             principal.user_id)
        return child(destination, existing)
    if existing is not None:
        raise NameTaken(f"« {name} » existe déjà dans « {destination.node.name} ».",
                        field="name")
    if source.node.kind == "folder" and _depth(destination) + 1 > MAX_DEPTH:
        raise InvalidInput(TOO_DEEP, field="name")
    return child(destination, store.copy_node(tx, source, destination, name,
                                               principal.user_id))


def delete(tx: Session, principal: Principal, location: Location) -> None:
    """To the trash, with everything below it (restorable for the trash's days)."""
    require(may_change(tx, principal, location))
    require_unlocked(tx, principal, location, below=True)
    require_unlocked(tx, principal, parent_of(location))
    store.trash(tx, location, principal.user_id)


def restore(tx: Session, principal: Principal, node_id: int) -> Location:
    """Bring an item of the trash back to its folder (renamed if the name was taken since)."""
    node = tx.get(Node, node_id)
    if node is None or node.deleted_at is None:
        raise NotFound(NOT_IN_TRASH)
    location = store.location_of(tx, node)
    if not may_read(principal, location):
        raise NotFound(NOT_IN_TRASH)
    parent = parent_of(location)
    require(authorize(principal, Action.WRITE, resource_of(parent, for_new_child=True)))
    require_unlocked(tx, principal, parent)
    return child(parent, store.restore(tx, node, principal.user_id))


# --- reading a body -----------------------------------------------------------------------

def open_body(principal: Principal, location: Location, blobs: BlobStore, *,
              on_close: Callable[[int, bool], None], partial: bool = False
              ) -> DownloadStream:
    """The document's body to send; `on_close(bytes_sent, complete)` records the download
    (the receipt) once the channel is done with it."""
    require_read(principal, location)
    node = location.node
    if node.kind != "file":
        raise NotFound(NOT_FOUND)
    return DownloadStream(blobs.open(node.sha256), node.size, partial=partial,
                          on_close=on_close)


# --- deposits -----------------------------------------------------------------------------

def file_body(hot: HotQueries, principal: Principal, folder: Location, name: str,
              sha256: str, size: int) -> Location:
    """File a stored body as the document `name` of `folder` (checked by `check_deposit`
    before the body was received): a new document, or a new version of the one there now,
    in one transaction on the thread's plain connection (the drive's hot path)."""
    ids = {f"id_{i}": node.id for i, node in enumerate(folder.nodes)}
    for attempt in (1, 2):  # PostgreSQL: a parallel PUT may create the name meanwhile;
        try:                # then this body becomes its new version
            with hot.transaction() as run:
                # The path's nodes were resolved before this transaction (only names and
                # ids are read from them): still live?
                if run(store.count_live(len(ids)), ids)[0][0] != len(ids):
                    raise Conflict(CHANGED)
                node = store.deposit(run, folder, name, sha256, size, principal.user_id)
            return child(folder, node)
        except hot.IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def deposit_bytes(tx: Session, principal: Principal, blobs: BlobStore, limits: Limits,
                  folder: Location, name: str, data: bytes) -> Location:
    """Deposit a body already in memory (a generated PDF, an attachment): the same checks
    and limits as an upload."""
    name = checked_name(name)
    existing = store.live_child(tx, folder.node.id, name)
    check_deposit(principal, folder, name, existing)
    require_unlocked(tx, principal, child(folder, existing) if existing is not None else folder)
    room = limits.room(folder.company, lambda: store.used_bytes(tx, folder.company.id),
                       existing.size if existing is not None else 0)
    limits.check(len(data), room, name)
    body = Body.start(blobs, limits, room=room, name=name)
    body.write(data)
    sha, size = body.commit()
    return child(folder, store.store_body(tx, folder, name, sha, size, principal.user_id))


@dataclass
class Upload:
    """Bodies received for one folder, not yet filed: `deposit` files them; leaving the
    `with` block drops whatever was not filed (nothing half-written)."""

    folder_id: int
    limits: Limits
    files: list[tuple[str, Body]] = field(default_factory=list)

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def discard(self) -> None:
        for _, body in self.files:
            body.discard()  # a no-op once committed

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.files]


def receive(session: Session, principal: Principal, blobs: BlobStore, limits: Limits,
            folder: Location, files: Sequence[tuple[str, BinaryIO]]) -> Upload:
    """Check the names and rights, then receive each body within the maximum size and the
    quota (a browser's upload of several documents). Refused as a whole: nothing is kept."""
    require(may_deposit(principal, folder))
    if not files:
        raise InvalidInput("Choisissez au moins un fichier.", field="files")
    names, replacing = [], 0
    for raw, _ in files:
        name = checked_name(raw.replace("\\", "/").rsplit("/", 1)[-1], field="files")
        existing = store.live_child(session, folder.node.id, name)
        check_deposit(principal, folder, name, existing)
        require_unlocked(session, principal,
                         child(folder, existing) if existing is not None else folder)
        replacing += existing.size if existing is not None else 0
        names.append(name)
    room = limits.room(folder.company, lambda: store.used_bytes(session, folder.company.id),
                       replacing)
    upload = Upload(folder.node.id, limits)
    received = 0
    try:
        for name, (_, stream) in zip(names, files, strict=True):
            body = Body.start(blobs, limits, name=name,
                              room=room.after(received) if room is not None else None)
            upload.files.append((name, body))
            while chunk := stream.read(CHUNK):
                body.write(chunk)
            received += body.size
    except BaseException:
        upload.discard()
        raise
    return upload


def deposit(tx: Session, principal: Principal, folder: Location, upload: Upload
            ) -> list[Node]:
    """File the received bodies: a same-name document is overwritten, its previous body
    kept as a version. Rights and quota are checked again in the transaction."""
    targets = [(name, body, store.live_child(tx, folder.node.id, name))
               for name, body in upload.files]
    for name, _, existing in targets:
        check_deposit(principal, folder, name, existing)
        require_unlocked(tx, principal,
                         child(folder, existing) if existing is not None else folder)
    replacing = sum(e.size for _, _, e in targets if e is not None)
    upload.limits.check(sum(b.size for _, b, _ in targets), upload.limits.room(
        folder.company, lambda: store.used_bytes(tx, folder.company.id), replacing))
    stored = []
    for name, body, _ in targets:
        sha, size = body.commit()  # a twin in the batch becomes a version of the first
        stored.append(store.store_body(tx, folder, name, sha, size, principal.user_id))
    return stored
