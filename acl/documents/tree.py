"""Company trees in the node table: the standard folders, sub-folders and documents.

The drive, the web app and the feeds read the same rows; bodies are in the blob store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.documents.blobs import BlobStore
from acl.documents.models import Node
from acl.errors import InvalidInput, NameTaken
from acl.people.models import Company
from config.names import InvalidName, check_segment


def create_company_tree(session: Session, company: Company, tree: Sequence[str],
                        subfolders: Mapping[str, Sequence[str]]) -> Node:
    """Give a new company the firm's standard folder tree; return its root node."""
    root = Node(company_id=company.id, parent_id=None, name="", kind="root")
    session.add(root)
    session.flush()
    for name in tree:
        folder = Node(company_id=company.id, parent_id=root.id, name=name, kind="folder",
                      is_standard=True)
        session.add(folder)
        session.flush()
        for child in subfolders.get(name, ()):
            session.add(Node(company_id=company.id, parent_id=folder.id, name=child,
                             kind="folder"))
    session.flush()
    return root


def company_root(session: Session, company_id: int) -> Node:
    return session.scalars(
        select(Node).where(Node.company_id == company_id, Node.parent_id.is_(None))).one()


def standard_folders(session: Session, company_id: int) -> list[str]:
    root = company_root(session, company_id)
    return list(session.scalars(
        select(Node.name).where(Node.parent_id == root.id, Node.is_standard).order_by(Node.id)))


def live_child(session: Session, parent_id: int, name: str) -> Node | None:
    """The member of a folder with that name, trashed ones aside."""
    return session.scalars(select(Node).where(
        Node.parent_id == parent_id, Node.name == name, Node.deleted_at.is_(None))).one_or_none()


def add_document(session: Session, blobs: BlobStore, parent: Node, name: str,
                 body: BinaryIO, *, deposited_by_id: int | None,
                 at: datetime | None = None) -> Node:
    """Store a new document under `parent` (used by the demo and imports)."""
    try:
        name = check_segment(name)
    except InvalidName as exc:
        raise InvalidInput(f"Nom de document refusé : {exc}.", field="name") from None
    if parent.kind == "file":
        raise InvalidInput("Un document ne peut pas contenir d'autre document.")
    if live_child(session, parent.id, name) is not None:
        raise NameTaken(f"« {name} » existe déjà dans ce dossier.", field="name")
    sha, size = blobs.put(body)
    at = at or utcnow()
    node = Node(company_id=parent.company_id, parent_id=parent.id, name=name, kind="file",
                size=size, sha256=sha, created_at=at, modified_at=at,
                deposited_by_id=deposited_by_id)
    session.add(node)
    session.flush()
    return node
