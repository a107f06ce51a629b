"""Operations on company trees: resolve, list, deposit, version, trash, restore, move, copy.

The one storage service of the drive and the web app. Functions take the session first and
never commit; each call site runs one operation in one transaction. Bodies are already in the
blob store when a node row points at them, so a failed commit leaves at most an orphan blob
(reported by `liasse fsck`), never a row pointing at a missing body.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from acl.db import as_utc, bind_writer, utcnow
from acl.documents.models import Download, Node, NodeProperty, NodeVersion
from acl.documents.tree import company_root, live_child
from acl.errors import InvalidInput
from acl.events.models import Event
from acl.events.stream import event_values, record_event
from acl.people.models import Company, User
from acl.rights.policy import Action, Decision, Principal, Resource, authorize

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

    def resource(self, *, for_new_child: bool = False) -> Resource:
        """The permission function's view of the target (or of a new child of it)."""
        node = self.node
        is_standard = not for_new_child and len(self.nodes) == 2
        doc_date = None if for_new_child or node.kind == "root" else node.created_at.date()
        folder = self.folder
        return Resource(company_id=self.company.id, company_active=self.company.is_active,
                        protection_date=self.company.protection_date, folder=folder,
                        is_standard_folder=is_standard, document_date=doc_date)


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
        .where(NodeProperty.node_id.in_(members)))]


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
        raise InvalidInput(f"« {name} » existe déjà.")
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
            raise InvalidInput("Un dossier porte déjà ce nom.", field="name")
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
    node = location.node
    old_path = location.path
    node.parent_id = new_parent.node.id
    node.company_id = new_parent.company.id
    node.name = new_name
    node.modified_at = utcnow()
    if new_parent.company.id != location.company.id:
        session.execute(update(Node).where(Node.id.in_(subtree_ids(session, node.id)))
                        .values(company_id=new_parent.company.id))
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


def authorize_subtree_write(session: Session, principal: Principal,
                            location: Location) -> Decision:
    """Writing (deleting, moving, renaming) a node also writes every document under it: a
    folder holding a document older than the protection date is as read-only as it."""
    decision = authorize(principal, Action.WRITE, location.resource())
    protection = location.company.protection_date
    if not decision or protection is None or location.node.kind != "folder":
        return decision
    oldest = oldest_document_date(session, location.node)
    if oldest is None:
        return decision
    return authorize(principal, Action.WRITE, Resource(
        location.company.id, location.company.is_active, protection, location.folder,
        document_date=oldest))


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
        stem, dot, ext = node.name.rpartition(".") if node.kind == "file" else (node.name, "",
                                                                                "")
        stem = stem or ext
        name = f"{stem} (restauré {n}).{ext}" if dot and stem != ext else \
            f"{node.name} (restauré {n})"
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


def purge_before(session: Session, cutoff: datetime) -> int:
    """Forget trashed nodes deleted before `cutoff` (their blobs become orphans for fsck)."""
    # Deleted as rows, not ORM objects: a trashed folder takes its content with it (the
    # database's cascade), including items trashed on their own before it.
    expired = Node.deleted_at < cutoff
    count = session.scalar(select(func.count()).select_from(Node).where(expired))
    session.execute(delete(Node).where(expired),
                    execution_options={"synchronize_session": False})
    return count


@dataclass(frozen=True)
class DownloadRecord:
    """One download to record: who, which document, how many bytes, whole or not, client."""

    node_id: int
    user_id: int
    bytes_sent: int
    complete: bool
    client: str


def record_download(session: Session, node: Node, user: User, *, bytes_sent: int,
                    complete: bool, client: str) -> None:
    record_downloads(session, [DownloadRecord(node.id, user.id, bytes_sent, complete, client)])


def record_downloads(session: Session, records: Sequence[DownloadRecord]) -> None:
    """Downloads, in bulk: a few queries and one insert per table whatever their number (the
    drive hands its downloads over in batches). Each goes to the download history; the first
    complete one by someone on the other side marks the receipt, which is an event (a plain
    download is not: the history holds it, and a GET-heavy day would flood the stream).
    Client files and vanished documents or users leave nothing."""
    nodes = {n.id: n for n in session.execute(select(
        Node.id, Node.parent_id, Node.name, Node.company_id, Node.deposited_by_id,
        Node.received_at).where(Node.id.in_({r.node_id for r in records}),
                                Node.is_client_file.is_(False)))}  # rows: no ORM objects
    sides = dict(session.execute(select(User.id, User.side).where(User.id.in_(
        {r.user_id for r in records} | {n.deposited_by_id for n in nodes.values()
                                        if n.deposited_by_id is not None}))).all())
    now = utcnow()
    connection = session.connection()
    write_time = bind_writer(connection.dialect, Download.__table__.c.at.type)
    stamp = write_time(now) if write_time else now  # once for all rows
    downloads: list[tuple] = []  # in DOWNLOAD_COLUMNS order
    counts: Counter[int] = Counter()
    received: dict[int, tuple[int, str]] = {}  # node id -> (who, their side)
    for record in records:
        node, side = nodes.get(record.node_id), sides.get(record.user_id)
        if node is None or side is None:
            continue
        downloads.append((node.id, record.user_id, stamp, record.bytes_sent, record.complete,
                          record.client[:200]))
        if not record.complete:
            continue
        counts[node.id] += 1
        depositor_side = sides.get(node.deposited_by_id)
        if node.received_at is None and node.id not in received and \
                depositor_side is not None and depositor_side != side:
            received[node.id] = (record.user_id, side)
    table = Node.__table__
    if downloads:
        _insert_downloads(connection, downloads)
    if counts:  # an increment in SQL: concurrent downloads never lose one
        connection.execute(
            update(table).where(table.c.id == bindparam("node")).values(
                download_count=table.c.download_count + bindparam("n")),
            [{"node": node_id, "n": n} for node_id, n in counts.items()])
    if received:
        connection.execute(
            update(table).where(table.c.id == bindparam("node"),
                                table.c.received_at.is_(None))
            .values(received_at=now, received_by_id=bindparam("by")),
            [{"node": node_id, "by": by} for node_id, (by, _) in received.items()])
        places = _places(session, [nodes[i] for i in received])
        session.execute(insert(Event), [event_values(
            "received", company_id=nodes[node_id].company_id, folder=places[node_id][1],
            node_id=node_id, path=places[node_id][0], actor_id=by, detail={"by_side": side})
            for node_id, (by, side) in received.items()])


DOWNLOAD_COLUMNS = ("node_id", "user_id", "at", "bytes_sent", "complete", "client")


@functools.lru_cache(maxsize=8)
def _download_insert(dialect) -> tuple[str, tuple[str, ...] | None]:
    """The download history's insert in the dialect's SQL, and the order of its positional
    parameters (None: named)."""
    compiled = insert(Download.__table__).values(
        {name: bindparam(name) for name in DOWNLOAD_COLUMNS}).compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup) if compiled.positional else None


def _insert_downloads(connection, rows: list[tuple]) -> None:
    """Insert rows of DOWNLOAD_COLUMNS values, already as the database takes them, in one
    executemany of the driver: Core's executemany ran the columns' writers again for each
    row, most of the receipts writer's time (a GET-heavy minute brings thousands)."""
    sql, order = _download_insert(connection.dialect)
    if order is None:
        params: list = [dict(zip(DOWNLOAD_COLUMNS, row, strict=True)) for row in rows]
    elif order == DOWNLOAD_COLUMNS:
        params = rows
    else:
        index = [DOWNLOAD_COLUMNS.index(name) for name in order]
        params = [tuple(row[i] for i in index) for row in rows]
    connection.exec_driver_sql(sql, params)


def _places(session: Session, nodes: Iterable[Any]) -> dict[int, tuple[str, str]]:
    """(path, standard folder) of each node, live or trashed: one query per tree level for
    all of them, not one per ancestor of each."""
    known = {n.id: (n.parent_id, n.name, n.company_id) for n in nodes}
    targets = list(known)
    missing = {p for p, _, _ in known.values() if p is not None and p not in known}
    while missing:
        rows = session.execute(select(Node.id, Node.parent_id, Node.name, Node.company_id)
                               .where(Node.id.in_(missing))).all()
        if not rows:
            break
        known.update((r.id, (r.parent_id, r.name, r.company_id)) for r in rows)
        missing = {p for p, _, _ in known.values() if p is not None and p not in known}
    companies = dict(session.execute(select(Company.id, Company.folder_name).where(
        Company.id.in_({c for _, _, c in known.values()}))).all())
    places = {}
    for node_id in targets:
        names, current = [], node_id
        while current in known and known[current][0] is not None:  # the root has no name
            names.append(known[current][1])
            current = known[current][0]
        names.reverse()
        places[node_id] = ("/".join([companies.get(known[node_id][2], ""), *names]),
                           names[0] if names else "")
    return places
