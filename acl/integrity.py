"""Integrity check of the blob store against the database (`liasse fsck`).

Finds documents or versions whose blob is missing, blobs no row points at (orphans: left by
a failed commit or a purged trash), and blobs whose content no longer matches their name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.blobs import CHUNK, BlobStore
from acl.models import Node, NodeVersion


@dataclass
class Report:
    checked: int = 0
    missing: list[str] = field(default_factory=list)  # "sha (the rows using it)"
    orphans: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    temporary: list[str] = field(default_factory=list)  # interrupted uploads

    @property
    def ok(self) -> bool:
        return not (self.missing or self.mismatched)


NAMED_USERS = 5  # rows named per blob; the others are counted


def referenced_hashes(session: Session) -> dict[str, str]:
    """sha256 -> the rows using it, described for a person (a body shared by several
    documents, copies or versions names them all, up to NAMED_USERS)."""
    users: dict[str, list[str]] = {}
    for node_id, name, sha in session.execute(
            select(Node.id, Node.name, Node.sha256).where(Node.sha256.is_not(None))
            .order_by(Node.id)):
        users.setdefault(sha, []).append(f"document n°{node_id} « {name} »")
    for version_id, node_id, sha in session.execute(
            select(NodeVersion.id, NodeVersion.node_id, NodeVersion.sha256)
            .order_by(NodeVersion.id)):
        users.setdefault(sha, []).append(f"version n°{version_id} du document n°{node_id}")
    return {sha: ", ".join(rows[:NAMED_USERS]) + (
        f" et {len(rows) - NAMED_USERS} autre(s)" if len(rows) > NAMED_USERS else "")
        for sha, rows in users.items()}


def _hash_of(path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check(session: Session, blobs: BlobStore, *, verify_content: bool = True,
          progress: Callable[[int, int], None] | None = None) -> Report:
    report = Report()
    refs = referenced_hashes(session)
    stored = blobs.all_hashes()
    for sha, user in sorted(refs.items()):
        if sha not in stored:
            report.missing.append(f"{sha} ({user})")
    report.orphans = sorted(stored - set(refs))
    present = sorted(stored & set(refs))
    for i, sha in enumerate(present, start=1):
        if verify_content and _hash_of(blobs.path(sha)) != sha:
            report.mismatched.append(f"{sha} ({refs[sha]})")
        report.checked += 1
        if progress:
            progress(i, len(present))
    if blobs.tmp.exists():
        report.temporary = sorted(p.name for p in blobs.tmp.iterdir())
    return report
