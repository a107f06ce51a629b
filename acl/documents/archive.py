"""Zip archives of selected documents and folders, keeping the folder structure.

Only what the user may read goes in (the permission function, node by node); Finder,
Windows and Office helper files stay out. The archive is written to a temporary file
(the caller streams it), from the blob store, one block at a time.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from acl.db import as_utc
from acl.documents import browsing, store
from acl.documents.blobs import CHUNK, BlobStore
from acl.documents.models import Node
from acl.documents.operations import may_read
from acl.documents.store import Location
from acl.rights.policy import Principal

PARIS = ZoneInfo("Europe/Paris")  # zip dates are local times


@dataclass(frozen=True)
class ArchiveItem:
    arcname: str  # a folder's ends with "/"
    node: Node

    @property
    def is_document(self) -> bool:
        return self.node.kind == "file"


def select_items(session: Session, principal: Principal,
                 node_ids: Sequence[int]) -> list[ArchiveItem]:
    """The selected nodes and everything readable below them, named from the selection's
    folder (a selected folder `Achats` gives `Achats/`, `Achats/Facture.pdf`...; a company's
    root gives its folders, with no leading "/"). A selected node the user may not read
    raises `NotFound`. The tree is walked with a stack, not recursion: any depth."""
    items: list[ArchiveItem] = []
    for node_id in dict.fromkeys(node_ids):
        pending = [(browsing.open_node(session, principal, node_id), "")]
        while pending:
            location, prefix = pending.pop()
            node = location.node
            if node.is_client_file or store.is_client_file(node.name) or \
                    not may_read(principal, location):
                continue
            if node.kind == "file":
                items.append(ArchiveItem(prefix + node.name, node))
                continue
            name = ""
            if node.kind != "root":  # a company's root is no entry of its own
                name = prefix + node.name + "/"
                items.append(ArchiveItem(name, node))
            members = store.live_children(session, node.id)
            pending.extend((Location(location.company, (*location.nodes, member)), name)
                           for member in reversed(members))
    return items


def write_zip(blobs: BlobStore, items: Sequence[ArchiveItem], target: BinaryIO) -> None:
    """Write the archive into `target` (an open binary file), bodies from the blob store."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED,
                         compresslevel=1) as archive:
        for item in items:
            when = as_utc(item.node.modified_at).astimezone(PARIS)
            info = zipfile.ZipInfo(item.arcname, date_time=when.timetuple()[:6])
            if not item.is_document:
                info.external_attr = ((0o40000 | 0o755) << 16) | 0x10  # a directory
                info.CRC = info.compress_size = info.file_size = 0
                archive.mkdir(info)
                continue
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = item.node.size
            if not item.node.sha256:
                archive.writestr(info, b"")
                continue
            with blobs.open(item.node.sha256) as body, archive.open(info, "w") as out:
                shutil.copyfileobj(body, out, CHUNK)
