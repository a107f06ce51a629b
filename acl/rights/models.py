"""The vocabulary of rights (sides, roles, levels, services) and the tables that hold them:
explicit habilitations and service grants, the audit log, sign-in failures, and the
generation counter that caches of rights compare.

Tables are singular snake_case. Enumerations are stored as short strings (or small
integers) so that the database stays readable and PostgreSQL needs no enum types.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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


class InvoicingConsent(Base):
    """Whether a company lets the firm read its invoicing (customers, documents, payments,
    expenses, reports), read-only (seeds 001 and 004: the client consents). Set by its
    interlocuteur only; every change is audited. No row: not consented."""

    __tablename__ = "invoicing_consent"
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)


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


class WebSession(Base):
    """A signed-in browser: its cookie holds a random key whose hash is the row's id, so
    that signing out ends the session on the server, whatever copy of the cookie remains."""

    __tablename__ = "web_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the key
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Generation(Base):
    """A counter bumped by every administrative act: caches of rights compare it."""

    __tablename__ = "generation"
    name: Mapped[str] = mapped_column(String(30), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class FeedToken(Base):
    """A secret a user gives a feed reader or a calendar app (`/feeds/<secret>/...`): read-only,
    named, revocable and rotatable. Only the secret's SHA-256 is stored (a 192-bit random
    secret needs no slow hash); `credentials_version` is the account's when it was issued: a
    password change or a disablement bumps the account's, and the token stops at once."""

    __tablename__ = "feed_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    name: Mapped[str] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    credentials_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_from: Mapped[str] = mapped_column(String(100), default="")
    # The demo's tokens only: kept in clear so that the "Flux et agenda" page shows their
    # URLs from the first start. Never set outside `liasse demo`.
    demo_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
