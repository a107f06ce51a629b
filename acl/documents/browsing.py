"""What one user sees of the company trees, outside the drive's own listings (the web app,
the CLI): companies, a path or a node opened, a folder's members, versions, the download
history, the destinations of a move, the trash.

Every node is checked with `operations.may_read` (and, for what a user may put somewhere,
`operations.may_deposit`): reading and deciding are the operations layer's, this module only
finds rows. Whatever the user may not read answers `NotFound`, worded as for something
missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.documents import store
from acl.documents.models import Download, Node, NodeVersion
from acl.documents.operations import (
    NOT_FOUND,
    may_deposit,
    may_read,
    parent_of,
    require_read,
)
from acl.documents.store import Location
from acl.errors import NotFound
from acl.people.models import Company, User
from acl.rights.policy import Action, Principal, Resource, authorize
from config.names import normalize_segment


def readable_companies(session: Session, principal: Principal) -> list[Company]:
    """The companies whose tree the user may open, by name (the drive's root listing)."""
    return [c for c in session.scalars(select(Company).order_by(Company.name))
            if authorize(principal, Action.READ, Resource(c.id, c.is_active))]


def readable_tree_versions(session: Session, principal: Principal) -> dict[int, tuple[str, int]]:
    """Company id -> (folder name, tree version) of every company whose tree the user may
    open: the state a sync-collection token records (the version moves with every change of
    the company's nodes, migration 0007), filtered by the one permission function."""
    return {c.id: (c.folder_name, c.tree_version) for c in readable_companies(session, principal)}


def open_company(session: Session, principal: Principal, folder_name: str) -> Company:
    company = store.company_by_folder_name(session, normalize_segment(folder_name))
    if company is None or not authorize(principal, Action.READ,
                                        Resource(company.id, company.is_active)):
        raise NotFound("Entreprise introuvable.")
    return company


def open_path(session: Session, principal: Principal, company: Company,
              segments: Sequence[str]) -> Location:
    """The readable location at `segments` below the company's root."""
    return require_read(principal, store.resolve(
        session, company, [normalize_segment(s) for s in segments if s]))


def open_drive_path(session: Session, principal: Principal, path: str) -> Location:
    """The readable location of a drive path, company folder first
    ("Boulangerie Martin/Achats/facture.pdf"), as the CLI names documents."""
    segments = [s for s in path.replace("\\", "/").split("/") if s]
    if not segments:
        raise NotFound(NOT_FOUND)
    return open_path(session, principal, open_company(session, principal, segments[0]),
                     segments[1:])


def open_node(session: Session, principal: Principal, node_id: int) -> Location:
    """The readable, live location of a node (a trashed ancestor hides it)."""
    return require_read(principal, store.live_location(session, node_id))


def listing(session: Session, principal: Principal, folder: Location) -> list[Location]:
    """The members of a folder the user may read, folders first, without the helper files
    of Finder, Windows and Office."""
    members = []
    for node in store.live_children(session, folder.node.id):
        if node.is_client_file or store.is_client_file(node.name):
            continue
        location = Location(folder.company, (*folder.nodes, node))
        if may_read(principal, location):
            members.append(location)
    members.sort(key=lambda loc: in_folder_order(loc.node))
    return members


def in_folder_order(node: Node) -> tuple:
    """The order of a folder's members everywhere: the firm's standard folders first, in the
    order of its tree (they were created in that order), then folders, then documents, by
    name."""
    return (node.kind == "file", not node.is_standard, node.id if node.is_standard else 0,
            node.name.casefold())


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {user.id: user.shown_name for user in session.scalars(select(User).where(
        User.id.in_(wanted)))}  # "Sophie Secrétaire (compte supprimé)" once removed


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


def writable_folders(session: Session, principal: Principal,
                     company: Company) -> list[Location]:
    """The company's live folders the user may deposit into, in tree order (the
    destinations of a move: a move never leaves its company)."""
    nodes = session.scalars(select(Node).where(
        Node.company_id == company.id, Node.deleted_at.is_(None),
        Node.kind.in_(("root", "folder"))))
    children: dict[int | None, list[Node]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    found: list[Location] = []
    pending = [(root,) for root in children.get(None, ())]
    while pending:  # depth first, members by name, with a stack: any depth
        path = pending.pop()
        if len(path) > 1:
            location = Location(company, path)
            if may_deposit(principal, location):
                found.append(location)
        members = sorted(children.get(path[-1].id, ()), key=in_folder_order)
        pending.extend(below for below in ((*path, node) for node in reversed(members))
                       if not below[-1].is_client_file
                       and may_read(principal, Location(company, below)))
    return found


def trash_entries(session: Session, principal: Principal, company: Company) -> list[Location]:
    """Trashed items of the company the user may read and put back, the latest first."""
    found = []
    for node in store.trashed(session, company.id):
        if node.is_client_file:
            continue
        location = store.location_of(session, node)
        if may_read(principal, location) and may_deposit(principal, parent_of(location)):
            found.append(location)
    return found
