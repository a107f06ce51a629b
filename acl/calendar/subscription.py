"""What a calendar subscription (ICS, issue 20) holds for one person: the deadlines, firm
and company events of the companies whose calendar they see, over a window around today, and
the alerts that are theirs (their own, and those the firm set for the company's users, unless
turned off). Who sees what is decided as on the calendar pages (`agenda`, `alerts_of`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.calendar.agenda import Item, agenda, calendar_company, visible_companies
from acl.calendar.models import CalendarAlert
from acl.calendar.rules import Rule
from acl.rights.policy import Principal

PAST_DAYS = 92  # a quarter back: what was just due stays in the app
FUTURE_DAYS = 400  # a year ahead, and a little more


@dataclass
class Subscription:
    items: list[Item]
    alerts: dict[tuple[int, str], list[CalendarAlert]]  # (company id, item key) -> alerts


def subscription(session: Session, principal: Principal, company_id: int | None,
                 rules: tuple[Rule, ...], today: date) -> Subscription:
    """All the principal's companies, or one (NotFound if not seen: `calendar_company`)."""
    companies = [calendar_company(session, principal, company_id)] if company_id is not None \
        else visible_companies(session, principal)
    first, last = today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)
    items = agenda(session, principal, companies, first, last, rules)
    alerts: dict[tuple[int, str], list[CalendarAlert]] = defaultdict(list)
    ids = [c.id for c in companies]
    if ids:
        query = select(CalendarAlert).where(
            CalendarAlert.disabled_at.is_(None), CalendarAlert.event_on >= first,
            (CalendarAlert.user_id == principal.user_id) | CalendarAlert.user_id.is_(None))
        if len(ids) < 900:
            query = query.where(CalendarAlert.company_id.in_(ids))
        wanted = set(ids)
        for alert in session.scalars(query.order_by(CalendarAlert.id)):
            if alert.company_id in wanted:
                alerts[(alert.company_id, alert.event_key)].append(alert)
    return Subscription(items, dict(alerts))
