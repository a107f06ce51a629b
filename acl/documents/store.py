"""Company trees as rows: resolve, list, deposit, version, trash, restore, move, copy.

The storage under the operations layer (`acl.documents.operations`, which decides what may
happen: rights, names, limits). Functions take the session first and never commit; each
call site runs one operation in one transaction. Bodies are already in the
blob store when a node row points at them, so a failed commit leaves at most an orphan blob
(reported by `liasse fsck`), never a row pointing at a missing body.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session, aliased

from acl.db import as_utc, utcnow
from acl.documents.models import Node, NodeProperty, NodeVersion
from acl.documents.tree import company_root, live_child
from acl.errors import InvalidInput, NameTaken
from acl.events.models import Event
from acl.events.stream import event_values, record_event
from acl.people.models import Company
from config.names import MAX_SEGMENT_BYTES

# Finder, Windows and Office helper files: accepted so those clients keep working, but they
# raise no receipt, no event and no alert (sabre.io Finder page; ../shared/DESIGN.md).
CLIENT_FILE_PATTERNS = ("._*", ".DS_Store", "Thumbs.db", "desktop.ini", "~$*", ".~lock.*#",
                        ".Spotlight-V100", ".Trashes", ".fseventsd", ".TemporaryItems",
                        ".metadata_never_index*", ".localized")


_CLIENT_FILE = re.compile("|".join(fnmatch.translate(p.lower()) for p in CLIENT_FILE_PATTERNS))


def is_client_file(name: str) -> bool:
    return _CLIENT_FILE.match(name.lower()) is not None


@dataclass(frozen=True)
class Location:
    """A resolved path: the company and the live nodes from its root to the target."""

    company: Company
    nodes: tuple[Node, ...]  # nodes[0] is the company root

    @property
    def node(self) -> Node:
        return self.nodes[-1]

    @property
    def folder(self) -> str | None:
        """The standard folder that holds the target (None for the company root)."""
        return self.nodes[1].name if len(self.nodes) > 1 else None

    @property
    def path(self) -> str:
        return "/".join([self.company.folder_name, *(n.name for n in self.nodes[1:])])


# A reference to an entity XML does not define: a dead property stored with one (through a
# DTD in a request, before the drive refused them in every encoding) would make every
# listing of its folder malformed XML. Such a value is left out of what is read.
_UNDEFINED_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)")


def is_sound_property(value: str) -> bool:
    """Whether a stored dead property can go into an XML answer as it is."""
    return "&" not in value or _UNDEFINED_ENTITY.search(value) is None


def company_by_folder_name(session: Session, name: str) -> Company | None:
    return session.scalars(select(Company).where(Company.folder_name == name)).one_or_none()


def resolve(session: Session, company: Company, segments: list[str], *,
            root: Node | None = None) -> Location | None:
    """The live nodes along `segments` below the company's root, or None: one query, a join
    per segment (a drive request resolves its path several times)."""
    root = root if root is not None else company_root(session, company.id)
    if not segments:
        return Location(company, (root,))
    params = {"root_id": root.id, **{f"name_{i}": name for i, name in enumerate(segments)}}
    row = session.execute(_path_query(len(segments)), params).first()
    if row is None or any(node.kind == "file" for node in row[:-1]):
        return None
    return Location(company, (root, *row))


@functools.cache
def path_steps(depth: int) -> tuple[list[Any], list[Any]]:
    """The node aliases along a path of `depth` names below a root (parameters `root_id`,
    `name_0`...) and the conditions joining them: live, each the named child of the one
    before. Built once per depth: building aliases costs more than running the query."""
    steps = [aliased(Node, name=f"step_{i}") for i in range(depth)]
    conditions = []
    parent_id = bindparam("root_id")
    for i, step in enumerate(steps):
        conditions += [step.parent_id == parent_id, step.name == bindparam(f"name_{i}"),
                       step.deleted_at.is_(None)]
        parent_id = step.id
    return steps, conditions


@functools.cache
def _path_query(depth: int):
    steps, conditions = path_steps(depth)
    return select(*steps).where(*conditions)


def live_children(session: Session, parent_id: int) -> list[Node]:
    """All live members of a folder in one indexed query (PROPFIND Depth 1)."""
    return list(session.scalars(select(Node).where(
        Node.parent_id == parent_id, Node.deleted_at.is_(None)).order_by(Node.name)))


LISTING_COLUMNS = (Node.id, Node.name, Node.kind, Node.size, Node.sha256, Node.created_at,
                   Node.modified_at, Node.deposited_by_id, Node.received_by_id,
                   Node.received_at, Node.download_count)


def children_properties(session: Session, parent_id: int) -> list[tuple[int, str, str]]:
    """(node id, name, value) of the dead properties of a folder's live members."""
    members = select(Node.id).where(Node.parent_id == parent_id, Node.deleted_at.is_(None))
    return [tuple(row) for row in session.execute(
        select(NodeProperty.node_id, NodeProperty.name, NodeProperty.value)
        .where(NodeProperty.node_id.in_(members))) if is_sound_property(row[2])]


def used_bytes(session: Session, company_id: int) -> int:
    """Size of the company's live documents (kept by database triggers: migration 0008)."""
    return session.scalar(select(Company.used_bytes).where(Company.id == company_id)) or 0


def subtree_ids(session: Session, node_id: int) -> list[int]:
    """The node and every live descendant (recursive CTE, one query)."""
    tree = select(Node.id).where(Node.id == node_id).cte("tree", recursive=True)
    child = aliased(Node)
    tree = tree.union_all(select(child.id).where(child.parent_id == tree.c.id,
                                                 child.deleted_at.is_(None)))
    return list(session.scalars(select(tree.c.id)))


def subtree_height(session: Session, node_id: int) -> int:
    """Levels of folders in a folder's subtree, itself included (1: no sub-folder)."""
    tree = select(Node.id, literal(1).label("level")).where(Node.id == node_id) \
        .cte("tree", recursive=True)
    child = aliased(Node)
    tree = tree.union_all(select(child.id, tree.c.level + 1).where(
        child.parent_id == tree.c.id, child.deleted_at.is_(None), child.kind == "folder"))
    return session.scalar(select(func.max(tree.c.level))) or 1


def oldest_document_date(session: Session, node: Node) -> date | None:
    """The earliest deposit date in a subtree (protection date checks on folders)."""
    if node.kind == "file":
        return node.created_at.date()
    ids = subtree_ids(session, node.id)
    oldest = session.scalar(select(func.min(Node.created_at)).where(
        Node.id.in_(ids), Node.kind == "file"))
    return as_utc(oldest).date() if oldest is not None else None


def _event(session: Session, kind: str, location_path: str, node: Node, actor_id: int | None,
           folder: str | None, **detail: Any) -> None:
    if node.is_client_file:
        return
    record_event(session, kind, company_id=node.company_id, folder=folder or "",
                 node_id=node.id, path=location_path, actor_id=actor_id, detail=detail)


def create_folder(session: Session, parent: Location, name: str, actor_id: int | None) -> Node:
    if parent.node.kind == "file":
        raise InvalidInput("Un document ne peut pas contenir de dossier.")
    if live_child(session, parent.node.id, name) is not None:
        raise NameTaken(f"« {name} » existe déjà.", field="name")
    now = utcnow()
    node = Node(company_id=parent.company.id, parent_id=parent.node.id, name=name,
                kind="folder", created_at=now, modified_at=now, deposited_by_id=actor_id,
                is_client_file=is_client_file(name))
    session.add(node)
    session.flush()
    _event(session, "folder_created", f"{parent.path}/{name}", node, actor_id, parent.folder
           or name)
    return node


# A deposit is these statements, written once: the ORM callers run them on their session's
# connection (`store_body`), the drive's hot path compiled once on a plain DBAPI connection
# (`acl.documents.hot.HotQueries.transaction`), where the ORM's unit of work cost 2 ms of a 2.6 ms
# deposit (measured in bench/).
Run = Callable[[Any, dict[str, Any]], list]  # (statement, parameters) -> rows (or [])

_CURRENT = select(Node.id, Node.kind, Node.size, Node.sha256, Node.created_at,
                  Node.modified_at, Node.deposited_by_id, Node.is_client_file).where(
    Node.parent_id == bindparam("parent_id"), Node.name == bindparam("name"),
    Node.deleted_at.is_(None))
_NEW_DOCUMENT = insert(Node).values(
    company_id=bindparam("company_id"), parent_id=bindparam("parent_id"),
    name=bindparam("name"), kind="file", is_standard=False, size=bindparam("size"),
    sha256=bindparam("sha256"), created_at=bindparam("now"), modified_at=bindparam("now"),
    deposited_by_id=bindparam("actor_id"), is_client_file=bindparam("client"),
    download_count=0).returning(Node.id)
_KEEP_VERSION = insert(NodeVersion).values(
    node_id=bindparam("node_id"), sha256=bindparam("old_sha256"), size=bindparam("old_size"),
    modified_at=bindparam("old_modified_at"), deposited_by_id=bindparam("old_actor_id"),
    replaced_at=bindparam("now"))
_NEW_BODY = update(Node).where(Node.id == bindparam("node_id")).values(
    sha256=bindparam("new_sha256"), size=bindparam("new_size"),
    modified_at=bindparam("now"), created_at=bindparam("new_created_at"),
    deposited_by_id=bindparam("actor_id"), received_at=None, received_by_id=None)
_NEW_EVENT = insert(Event).values({name: bindparam(name) for name in (
    "at", "kind", "company_id", "folder", "node_id", "path", "actor_id", "detail")})


@functools.cache
def count_live(count: int):
    """How many of `count` nodes (parameters `id_0`...) are live."""
    return select(func.count(Node.id)).where(
        Node.id.in_([bindparam(f"id_{i}") for i in range(count)]), Node.deleted_at.is_(None))


class NodeRow(NamedTuple):
    """The columns of a node that a resolved path needs (duck-types `Node` for `Location`)."""

    id: int
    name: str
    kind: str
    size: int
    sha256: str | None
    created_at: datetime
    modified_at: datetime
    is_client_file: bool


def deposit(run: Run, parent: Location, name: str, sha256: str, size: int,
            actor_id: int | None) -> NodeRow:
    """Point the document `name` of `parent` at a stored blob: a new document, or a new
    body of the one there now, whose previous body becomes a version. Runs in the caller's
    transaction; raises InvalidInput if a folder has that name."""
    now = utcnow()
    current = run(_CURRENT, {"parent_id": parent.node.id, "name": name})
    detail: dict[str, Any] = {"size": size}
    if current:
        node_id, kind, old_size, old_sha256, created_at, modified_at, old_actor, client = \
            current[0]
        if kind != "file":
            raise NameTaken("Un dossier porte déjà ce nom.", field="name")
        if old_sha256 and old_size > 0:
            run(_KEEP_VERSION, {"node_id": node_id, "old_sha256": old_sha256,
                                "old_size": old_size, "old_modified_at": modified_at,
                                "old_actor_id": old_actor, "now": now})
        replaced_empty = old_size == 0  # Explorer: PUT 0 bytes, LOCK, then PUT the body
        if replaced_empty:
            created_at = now
        run(_NEW_BODY, {"node_id": node_id, "new_sha256": sha256, "new_size": size,
                        "now": now, "new_created_at": created_at, "actor_id": actor_id})
        detail["replaced"] = not replaced_empty
    else:
        client = is_client_file(name)
        created_at = now
        node_id = run(_NEW_DOCUMENT, {
            "company_id": parent.company.id, "parent_id": parent.node.id, "name": name,
            "size": size, "sha256": sha256, "now": now, "actor_id": actor_id,
            "client": client})[0][0]
    if size > 0 and not client:
        run(_NEW_EVENT, event_values(
            "deposited", company_id=parent.company.id, folder=parent.folder or "",
            node_id=node_id, path=f"{parent.path}/{name}", actor_id=actor_id, detail=detail))
    return NodeRow(node_id, name, "file", size, sha256, created_at, now, client)


def store_body(session: Session, parent: Location, name: str, sha256: str, size: int,
               actor_id: int | None) -> Node:
    """`deposit` in an ORM session; returns the document node."""
    session.flush()
    connection = session.connection()

    def run(statement, parameters: dict[str, Any]) -> list:
        result = connection.execute(statement, parameters)
        return result.all() if result.returns_rows else []

    row = deposit(run, parent, name, sha256, size, actor_id)
    return session.get(Node, row.id, populate_existing=True)


def trash(session: Session, location: Location, actor_id: int | None) -> None:
    node = location.node
    node.deleted_at = utcnow()
    node.deleted_by_id = actor_id
    session.flush()
    _event(session, "deleted", location.path, node, actor_id, location.folder)


def move(session: Session, location: Location, new_parent: Location, new_name: str,
         actor_id: int | None) -> Node:
    """Move (or rename) a node within its company: a document never changes company (its
    receipts and history belong to the company that received it; acl.documents.operations
    refuses the others)."""
    if new_parent.company.id != location.company.id:
        raise ValueError("a node moves within its company only")
    node = location.node
    old_path = location.path
    node.parent_id = new_parent.node.id
    node.name = new_name
    node.modified_at = utcnow()
    session.flush()
    _event(session, "moved", f"{new_parent.path}/{new_name}", node, actor_id,
           new_parent.folder, source=old_path)
    return node


def copy_node(session: Session, location: Location, new_parent: Location, new_name: str,
              actor_id: int | None) -> Node:
    """Copy one node (not its members): a document shares its blob; dead props follow."""
    src = location.node
    now = utcnow()
    node = Node(company_id=new_parent.company.id, parent_id=new_parent.node.id, name=new_name,
                kind=src.kind, size=src.size, sha256=src.sha256, created_at=now,
                modified_at=now, deposited_by_id=actor_id,
                is_client_file=is_client_file(new_name))
    session.add(node)
    session.flush()
    for prop in session.scalars(select(NodeProperty).where(NodeProperty.node_id == src.id)):
        session.add(NodeProperty(node_id=node.id, name=prop.name, value=prop.value))
    if node.kind == "file" and node.size > 0:
        _event(session, "deposited", f"{new_parent.path}/{new_name}", node, actor_id,
               new_parent.folder, size=node.size, copied_from=location.path)
    return node


def trashed(session: Session, company_id: int) -> list[Node]:
    """Trashed nodes of a company, newest first (their subtrees go with them)."""
    return list(session.scalars(select(Node).where(
        Node.company_id == company_id, Node.deleted_at.is_not(None))
        .order_by(Node.deleted_at.desc())))


def location_of(session: Session, node: Node) -> Location:
    """The location of any node, live or trashed (walks up its parents)."""
    nodes = [node]
    while nodes[-1].parent_id is not None:
        nodes.append(session.get(Node, nodes[-1].parent_id))
    return Location(session.get(Company, node.company_id), tuple(reversed(nodes)))


def live_location(session: Session, node_id: int) -> Location | None:
    """The location of a node that is live with every ancestor, or None."""
    node = session.get(Node, node_id)
    if node is None:
        return None
    location = location_of(session, node)
    if any(n.deleted_at is not None for n in location.nodes):
        return None
    return location


def restore(session: Session, node: Node, actor_id: int | None) -> Node:
    """Bring a trashed node back to its folder, renamed if the name was taken since. Its
    folder and every folder above must be live (else it would be back but out of reach)."""
    parent = session.get(Node, node.parent_id)
    if parent is None or any(n.deleted_at is not None
                             for n in location_of(session, parent).nodes):
        raise InvalidInput("Le dossier d'origine est lui-même à la corbeille : restaurez-le "
                           "d'abord.")
    name, n = node.name, 1
    while live_child(session, parent.id, name) is not None:
        name = restored_name(node.name, n, is_file=node.kind == "file")
        n += 1
    node.name = name
    node.deleted_at = None
    node.deleted_by_id = None
    session.flush()
    location = location_of(session, node)
    record_event(session, "restored", company_id=node.company_id,
                 folder=location.folder or "", node_id=node.id, path=location.path,
                 actor_id=actor_id, detail={})
    return node


def restored_name(name: str, n: int, *, is_file: bool) -> str:
    """`name` with " (restauré n)" before its extension, its stem shortened so that the
    whole stays within a name's 255 bytes (config.names) and every client can hold it."""
    stem, dot, ext = name.rpartition(".") if is_file else (name, "", "")
    if not dot or not stem:  # no extension, or a name such as ".profile"
        stem, dot, ext = name, "", ""
    suffix = f" (restauré {n})" + (f".{ext}" if dot else "")
    room = MAX_SEGMENT_BYTES - len(suffix.encode("utf-8"))
    if room <= 0:  # an extension of ~240 bytes: drop it rather than the mark
        suffix, room = f" (restauré {n})", MAX_SEGMENT_BYTES - len(f" (restauré {n})".encode())
    kept = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(". ")
    return kept + suffix


def purge_before(session: Session, cutoff: datetime) -> int:
    """Forget trashed nodes deleted before `cutoff` (their blobs become orphans for fsck)."""
    # Deleted as rows, not ORM objects: a trashed folder takes its content with it (the
    # database's cascade), including items trashed on their own before it.
    expired = Node.deleted_at < cutoff
    count = session.scalar(select(func.count()).select_from(Node).where(expired))
    session.execute(delete(Node).where(expired),
                    execution_options={"synchronize_session": False})
    return count
