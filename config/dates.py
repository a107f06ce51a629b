"""Dates as people type them: JJ/MM/AAAA, or AAAA-MM-JJ (what a date field sends)."""

from __future__ import annotations

from datetime import date


def parse_day(text: str) -> date:
    """The date in `text`; ValueError when it is not one."""
    text = text.strip()
    if "/" in text:
        day, month, year = (int(p) for p in text.split("/"))
        return date(year, month, day)
    return date.fromisoformat(text)
