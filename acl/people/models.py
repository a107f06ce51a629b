"""Who the people are: the cabinet, its client companies, the accounts of both sides, the
portfolios that tie cabinet staff to companies, and sign-up invitations.
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
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from acl.db import Base, UTCDateTime, utcnow
from acl.rights.models import Role


class CompanyStatus(enum.StrEnum):
    ACTIVE = "active"
    DISCONNECTED = "déconnectée"
    # "Résiliée" (seed 003), the counterpart of creating it: closed for good and kept, its
    # accounts disabled, read by the firm (acl.people.administration.close_company).
    CLOSED = "résiliée"


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
    # The logo's sha256 in the blob store ("" none; a path: from before, see cabinet.py).
    logo: Mapped[str] = mapped_column(String(500), default="", info={"blob": "logo du cabinet"})


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

    @property
    def removed(self) -> bool:
        """A removed account (acl.people.administration.remove_user): kept for the history
        that names it, its login freed (no valid login holds "~"), never signed in again."""
        return REMOVED_MARK in self.login

    @property
    def shown_name(self) -> str:
        return f"{self.display_name} (compte supprimé)" if self.removed else self.display_name


REMOVED_MARK = "~"


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


class PendingChange(Base):
    """A change of one's own e-mail address or password waiting for the code mailed to
    confirm it (seed 002): valid a short while, a few tries, used once; the code's hash only.
    `new_value` is the new address, or the new password's hash."""

    __tablename__ = "pending_change"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "email" or "password"
    new_value: Mapped[str] = mapped_column(String(255))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
