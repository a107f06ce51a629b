"""Who the people are and what they hold: cabinet, companies, users, portfolios, rights.

Tables are singular snake_case. Enumerations are stored as short strings so that the
database stays readable and PostgreSQL needs no enum types.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from acl.db import Base, UTCDateTime, utcnow


class Side(enum.StrEnum):
    CABINET = "cabinet"
    COMPANY = "entreprise"


class Role(enum.StrEnum):
    CORRESPONDANT = "correspondant"
    ASSOCIE = "associé"
    ASSISTANT = "assistant"
    INTERLOCUTEUR = "interlocuteur"
    UTILISATEUR = "utilisateur"

    @property
    def side(self) -> Side:
        if self in (Role.INTERLOCUTEUR, Role.UTILISATEUR):
            return Side.COMPANY
        return Side.CABINET


class Level(enum.IntEnum):
    """Right on one folder of one company."""

    NONE = 0
    READ = 1
    WRITE = 2

    @property
    def label(self) -> str:
        return ("aucun", "lecture", "écriture")[self]

    @classmethod
    def parse(cls, text: str) -> Level:
        aliases = {"aucun": cls.NONE, "none": cls.NONE, "lecture": cls.READ, "read": cls.READ,
                   "écriture": cls.WRITE, "ecriture": cls.WRITE, "write": cls.WRITE}
        try:
            return aliases[text.strip().lower()]
        except KeyError:
            raise ValueError(f"niveau inconnu « {text} » (aucun, lecture, écriture)") from None


class Service(enum.StrEnum):
    """Rights that are not folders."""

    MESSAGING = "messagerie"
    INVOICING = "facturation"


class CompanyStatus(enum.StrEnum):
    ACTIVE = "active"
    DISCONNECTED = "déconnectée"


class VatRegime(enum.StrEnum):
    FRANCHISE = "franchise"
    SIMPLIFIED = "réel simplifié"
    NORMAL = "réel normal"
    NOT_SUBJECT = "non assujetti"


class Cabinet(Base):
    """The one accounting firm of this installation (a single row)."""

    __tablename__ = "cabinet"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    siren: Mapped[str] = mapped_column(String(9), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    colour: Mapped[str] = mapped_column(String(7), default="#1f4e79")
    logo: Mapped[str] = mapped_column(String(500), default="")


portfolio_company = Table(
    "portfolio_company",
    Base.metadata,
    Column("portfolio_id", ForeignKey("portfolio.id", ondelete="CASCADE"), primary_key=True),
    Column("company_id", ForeignKey("company.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)

portfolio_member = Table(
    "portfolio_member",
    Base.metadata,
    Column("portfolio_id", ForeignKey("portfolio.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Company(Base):
    __tablename__ = "company"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The company's folder on the drive: human-readable, unique, never changed by a rename.
    folder_name: Mapped[str] = mapped_column(String(255), unique=True)
    siren: Mapped[str] = mapped_column(String(9), unique=True)
    legal_form: Mapped[str] = mapped_column(String(50), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    vat_regime: Mapped[str] = mapped_column(String(30), default=VatRegime.SIMPLIFIED.value)
    fiscal_year_end: Mapped[str] = mapped_column(String(5), default="12-31")  # MM-DD
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    protection_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(20), default=CompanyStatus.ACTIVE.value)
    # Bumped by database triggers on every change of the company's nodes or their
    # properties (migration 0007): the drive's cached listings are valid while it stays.
    tree_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Size of the live documents, kept by database triggers (migration 0008).
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    quota_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    portfolios: Mapped[list[Portfolio]] = relationship(
        secondary=portfolio_company, back_populates="companies")

    @property
    def is_active(self) -> bool:
        return self.status == CompanyStatus.ACTIVE


class User(Base):
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "(side = 'cabinet' AND company_id IS NULL) OR "
            "(side = 'entreprise' AND company_id IS NOT NULL)",
            name="side_company"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    side: Mapped[str] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="RESTRICT"), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every password change or disablement: caches of verified credentials
    # compare it and drop what they hold.
    credentials_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    # Deposit alerts by mail: "off", "immediate" or "digest" (grouped after a quiet delay).
    alert_mode: Mapped[str] = mapped_column(String(10), default="digest",
                                            server_default="digest")

    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])
    portfolios: Mapped[list[Portfolio]] = relationship(
        secondary=portfolio_member, back_populates="members")

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Portfolio(Base):
    """A named set of companies; cabinet staff reach the companies of their portfolios."""

    __tablename__ = "portfolio"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    companies: Mapped[list[Company]] = relationship(
        secondary=portfolio_company, back_populates="portfolios")
    members: Mapped[list[User]] = relationship(
        secondary=portfolio_member, back_populates="portfolios")


class Habilitation(Base):
    """An explicit right of one user on one folder of one company (absent row = default)."""

    __tablename__ = "habilitation"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), primary_key=True)
    folder: Mapped[str] = mapped_column(String(255), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)


class ServiceGrant(Base):
    """Messaging or invoicing granted to a company user (absent row = default)."""

    __tablename__ = "service_grant"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), primary_key=True)
    service: Mapped[str] = mapped_column(String(20), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)


class AuditEntry(Base):
    """One administrative act, done or refused. Append-only (database triggers enforce it)."""

    __tablename__ = "audit_entry"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True, index=True)
    actor_login: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(50), index=True)
    outcome: Mapped[str] = mapped_column(String(10))  # "ok" or "refused"
    target: Mapped[str] = mapped_column(String(300), default="")
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="SET NULL"), nullable=True, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(100), default="")


class AuthFailure(Base):
    """Recent failed sign-ins for one key ("login:<login>" or "addr:<address>")."""

    __tablename__ = "auth_failure"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


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


class Event(Base):
    """The append-only stream of what happened, read by alerts, dashboards and feeds."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(80), index=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), nullable=True, index=True)
    folder: Mapped[str] = mapped_column(String(255), default="")
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("node.id", ondelete="SET NULL"), nullable=True)
    path: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class AlertMode(enum.StrEnum):
    OFF = "off"
    IMMEDIATE = "immediate"
    DIGEST = "digest"


class PendingAlert(Base):
    """A deposit waiting to be mailed to one recipient (grouped into one digest)."""

    __tablename__ = "pending_alert"
    recipient_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"),
                                          primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """A mail to send; the worker sends it with retries (an SMTP outage fails no upload)."""

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


class WorkerCursor(Base):
    """How far a background job has read the event stream."""

    __tablename__ = "worker_cursor"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)


class Invitation(Base):
    """A sign-up link sent by e-mail: valid a short while, used once (hash stored only)."""

    __tablename__ = "invitation"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Generation(Base):
    """A counter bumped by every administrative act: caches of rights compare it."""

    __tablename__ = "generation"
    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
