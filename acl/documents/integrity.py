"""Integrity of the blob store against the database.

`check` (`liasse fsck`) finds documents or versions whose blob is missing, blobs no row
points at (orphans: left by a failed commit or a purged trash), and blobs whose content no
longer matches their name. `recover_recent` (every server start) repairs what a power cut can
leave: the bodies of the last moments, made durable in batches (acl.documents.blobs, "Durability").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from acl.db import Base
from acl.documents.blobs import DURABLE_WITHIN, BlobStore
from acl.documents.models import Node, NodeVersion
from acl.documents.store import location_of
from acl.events.stream import record_event


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
    # The other blobs a row names (a company's logo, a mail's attachment): every wing marks
    # such a column with info={"blob": "what it is"}.
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if "blob" in column.info:
                key = next(iter(table.primary_key.columns))
                for row_id, sha in session.execute(
                        select(key, column).where(column.is_not(None), column != "")
                        .order_by(key)):
                    users.setdefault(sha, []).append(f"{column.info['blob']} n°{row_id}")
    return {sha: ", ".join(rows[:NAMED_USERS]) + (
        f" et {len(rows) - NAMED_USERS} autre(s)" if len(rows) > NAMED_USERS else "")
        for sha, rows in users.items()}


def recover_recent(session: Session, blobs: BlobStore, *,
                   window: float = DURABLE_WITHIN) -> list[str]:
    """Check the bodies deposited in the last `window` seconds before the latest deposit the
    database holds, and repair the rows whose body is missing or damaged (a power cut struck
    before their batch was synced): a document gets its newest sound previous version back,
    or the empty body; a version is dropped (and named, unless its document is). Each
    repaired document gets a "repaired" event (for the feeds); returns one sentence per
    repaired document.

    Whatever the moment of the cut, a body at risk was deposited less than `window` seconds
    before it, and every row the database kept is older than it: checking from the latest
    row's time minus `window` covers them all, and costs nothing after a clean stop but
    reading the last moments' bodies."""
    latest = max((t for t in (
        session.scalar(select(func.max(Node.modified_at)).where(Node.sha256.is_not(None))),
        session.scalar(select(func.max(NodeVersion.modified_at)))) if t is not None),
        default=None)
    if latest is None:
        return []
    since = latest - timedelta(seconds=window)
    verdicts: dict[str, bool] = {}

    def sound(sha256: str, size: int) -> bool:
        if sha256 not in verdicts:
            verdicts[sha256] = blobs.sound(sha256, size)
        return verdicts[sha256]

    lost_versions: dict[int, int] = {}  # node id -> versions dropped
    for version in session.scalars(select(NodeVersion).where(NodeVersion.modified_at >= since)):
        if not sound(version.sha256, version.size):
            lost_versions[version.node_id] = lost_versions.get(version.node_id, 0) + 1
            session.delete(version)
    session.flush()
    repaired = []
    for node in session.scalars(select(Node).where(
            Node.modified_at >= since, Node.sha256.is_not(None)).order_by(Node.id)):
        if sound(node.sha256, node.size):
            continue
        lost_versions.pop(node.id, None)  # named below with its document
        location = location_of(session, node)
        path, lost = location.path, node.sha256
        for version in session.scalars(select(NodeVersion).where(
                NodeVersion.node_id == node.id).order_by(NodeVersion.id.desc())):
            if sound(version.sha256, version.size):
                node.sha256, node.size = version.sha256, version.size
                node.modified_at, node.deposited_by_id = version.modified_at, \
                    version.deposited_by_id
                session.delete(version)
                repaired.append(f"« {path} » : son dernier dépôt n'avait pas atteint le "
                                "disque ; la version précédente est rétablie.")
                break
        else:
            node.sha256, node.size = blobs.put_bytes(b"")
            repaired.append(f"« {path} » : son contenu n'avait pas atteint le disque ; le "
                            "document est vide, à déposer de nouveau.")
        record_event(session, "repaired", company_id=node.company_id,
                     folder=location.folder or "", node_id=node.id, path=path, actor_id=None,
                     detail={"lost_sha256": lost, "sha256": node.sha256, "size": node.size})
        session.flush()
    for node_id, count in sorted(lost_versions.items()):
        what = "une version antérieure n'avait pas atteint le disque ; elle est retirée" \
            if count == 1 else f"{count} versions antérieures n'avaient pas atteint le " \
            "disque ; elles sont retirées"
        path = location_of(session, session.get(Node, node_id)).path
        repaired.append(f"« {path} » : {what} de son historique.")
    return repaired


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
        if verify_content and blobs.hash_of(sha) != sha:
            report.mismatched.append(f"{sha} ({refs[sha]})")
        report.checked += 1
        if progress:
            progress(i, len(present))
    report.temporary = blobs.temporary_names()
    return report
