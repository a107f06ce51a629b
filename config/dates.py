"""Dates as people type them: JJ/MM/AAAA, or AAAA-MM-JJ (what a date field sends)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

FIRST_YEAR, LAST_YEAR = 1900, 2999  # what a document's or an act's date can be


def parse_day(text: str) -> date:
    """The date in `text`; ValueError when it is not one, or its year is outside
    FIRST_YEAR..LAST_YEAR (0001-01-01 or a year of 20 digits is a typing slip)."""
    text = text.strip()
    try:
        if "/" in text:
            day, month, year = (int(p) for p in text.split("/"))
            parsed = date(year, month, day)
        else:
            parsed = date.fromisoformat(text)
    except OverflowError:
        raise ValueError(f"not a date: {text!r}") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise ValueError(f"year out of range: {text!r}")
    return parsed


PARIS = ZoneInfo("Europe/Paris")  # stored in UTC, shown in Paris time


def day(value: date | None) -> str:
    """A date as French users read it: 31/12/2026 ("" for none)."""
    return value.strftime("%d/%m/%Y") if value else ""


def paris_day(value: datetime | None) -> str:
    """The day in Paris of a stored (UTC) moment ("" for none)."""
    return value.astimezone(PARIS).strftime("%d/%m/%Y") if value else ""


def paris_clock(value: datetime) -> str:
    """The time of day in Paris of a stored (UTC) moment: 14:32."""
    return value.astimezone(PARIS).strftime("%H:%M")


def today_in_paris() -> date:
    """Today, as the firm's calendar says (Europe/Paris)."""
    return datetime.now(PARIS).date()
