"""Tests of messaging and the calendar (issue 19) that count what they write start from the
demo world without its threads, events, comments, alerts and fiscal profiles: `clear(db)`.
What the demo itself holds is tested by tests/integration/test_demo_messaging_calendar.py."""

from __future__ import annotations

from sqlalchemy import delete

from acl.calendar.models import CalendarAlert, CalendarEvent, DeadlineComment, FiscalProfile
from acl.messaging.models import ForwardAddress, MessageThread


def clear(db) -> None:
    with db.transaction() as s:
        for model in (MessageThread, ForwardAddress, CalendarAlert, DeadlineComment,
                      CalendarEvent, FiscalProfile):
            s.execute(delete(model))
