"""Company trees: one node per folder or document (the namespace shared by the drive and the
web app), previous bodies, WebDAV dead properties and the download history of receipts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from acl.db import Base, UTCDateTime, utcnow
from acl.people import models as _people  # noqa: F401  (the tables the keys point at)


class Node(Base):
    """One folder or document of a company tree: the namespace shared by drive and web.

    Each company has one root node (parent NULL); its children are the standard folders
    (`is_standard`), which nobody can rename, move or delete. Document bodies live in the
    content-addressed blob store, named by `sha256`.
    """

    __tablename__ = "node"
    __table_args__ = (
        # One live name per folder; trashed nodes keep their name and parent for restoring.
        Index("uq_node_live_name", "parent_id", "name", unique=True,
              sqlite_where=text("deleted_at IS NULL"),
              postgresql_where=text("deleted_at IS NULL")),
        Index("ix_node_parent_id", "parent_id"),
        CheckConstraint("kind IN ('root', 'folder', 'file')", name="kind"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="CASCADE"), nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    is_standard: Mapped[bool] = mapped_column(Boolean, default=False)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deposited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    # Office/Finder/Windows helper files: stored, but no receipt, event or alert.
    is_client_file: Mapped[bool] = mapped_column(Boolean, default=False)
    # Receipt tag, kept on the row so that a listing needs no second query.
    download_count: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    received_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    # Trash: a deleted node keeps its parent and name; its subtree goes with it.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    deleted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)


class NodeVersion(Base):
    """A previous body of a document, kept when it is overwritten."""

    __tablename__ = "node_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deposited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NodeProperty(Base):
    """A WebDAV dead property (Win32 times, Office metadata...), keyed by node."""

    __tablename__ = "node_property"
    node_id: Mapped[int] = mapped_column(
        ForeignKey("node.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)  # Clark notation
    value: Mapped[str] = mapped_column(Text)  # the property element, serialised


class Download(Base):
    """One download of a document (the receipt tag's history)."""

    __tablename__ = "download"
    id: Mapped[int] = mapped_column(primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("node.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    bytes_sent: Mapped[int] = mapped_column(BigInteger)
    complete: Mapped[bool] = mapped_column(Boolean)
    client: Mapped[str] = mapped_column(String(200), default="")


class DavLock(Base):
    """A WebDAV lock (RFC 4918 class 2), in the database so that every channel honours it
    and every server process sees it: the drive takes and refreshes them, the web app and the
    CLI refuse to change what someone else has locked, the firm lists and breaks them."""

    __tablename__ = "dav_lock"
    token: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The locked URL path below /dav, percent-encoded, no trailing "/" (WsgiDAV's lock root).
    root: Mapped[str] = mapped_column(Text, index=True)
    scope: Mapped[str] = mapped_column(String(10))  # "exclusive" or "shared"
    depth: Mapped[str] = mapped_column(String(10))  # "0" or "infinity"
    owner: Mapped[bytes] = mapped_column(LargeBinary)  # the client's <owner> XML
    principal: Mapped[str] = mapped_column(String(64))  # the login that took it
    timeout: Mapped[float] = mapped_column(Float)  # seconds asked (bounded)
    expire: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
