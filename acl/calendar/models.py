"""The calendar's tables: a company's fiscal profile (what the rules read), the events the
firm and the company add, the firm's comments on generated deadlines, and alerts.

Generated deadlines are not stored: they are computed from the rules each time, and named by
their key ("rule id:due date") where a comment or an alert points at one.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from acl.db import Base, UTCDateTime, utcnow
from acl.people import models as _people  # noqa: F401  (the tables the keys point at)


class FiscalProfile(Base):
    """What the deadline rules read about a company, beside its VAT regime and fiscal year
    end (kept on the company). No row: the defaults of `acl.calendar.profile`."""

    __tablename__ = "fiscal_profile"
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), primary_key=True)
    vat_periodicity: Mapped[str] = mapped_column(String(20), default="")
    vat_day: Mapped[int] = mapped_column(Integer, default=24)
    income_tax: Mapped[str] = mapped_column(String(5), default="IS")
    employees: Mapped[str] = mapped_column(String(20), default="aucun")
    cfe: Mapped[str] = mapped_column(String(30), default="solde")
    cvae: Mapped[str] = mapped_column(String(30), default="non redevable")
    micro: Mapped[str] = mapped_column(String(20), default="")
    company_cars: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)


class CalendarEvent(Base):
    """An event added by the firm ("cabinet") or by the company ("entreprise"). An event for
    a portfolio or for all the firm's companies is one row per company (`batch` ties them)."""

    __tablename__ = "calendar_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True)
    side: Mapped[str] = mapped_column(String(20))
    on: Mapped[date] = mapped_column(Date, index=True)
    title: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    private: Mapped[bool] = mapped_column(Boolean, default=False)  # company side only
    batch: Mapped[str] = mapped_column(String(32), default="")
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeadlineComment(Base):
    """Advice of the firm on a generated deadline of one company."""

    __tablename__ = "deadline_comment"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True)
    deadline_key: Mapped[str] = mapped_column(String(120), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarAlert(Base):
    """A reminder of one event, mailed once at `due_at` (a morning, Europe/Paris, stored in
    UTC). `user_id` set: for that user; NULL: set by the firm for the company's users, who
    may turn it off (`disabled_at`)."""

    __tablename__ = "calendar_alert"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("company.id", ondelete="CASCADE"), index=True)
    event_key: Mapped[str] = mapped_column(String(120))
    event_title: Mapped[str] = mapped_column(String(300))
    event_on: Mapped[date] = mapped_column(Date)
    remind_on: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), nullable=True, index=True)
    set_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disabled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
