"""A person's fiscal calendar as iCalendar (RFC 5545), with the `icalendar` package.

Every line of the calendar is an all-day VEVENT whose UID is made of the company's id and the
item's key ("rule:date" for a generated deadline, "event:<id>" for an added one): the same
item keeps its UID from one fetch to the next, so a calendar app updates it rather than adding
a copy. The refresh hints are RFC 7986 §5.7 `REFRESH-INTERVAL` and Microsoft's
`X-PUBLISHED-TTL` (MS-OXCICAL 2.1.3.1.1.15); durations with a time part need the `T`
(`PT1H`, not `P1H`). A VTIMEZONE for Europe/Paris is written out in its two yearly rules
(RFC 5545 §3.6.5) rather than as the zone's whole history. An alert the user may see becomes a
VALARM triggered at its moment in UTC (RFC 5545 §3.8.6.3: an absolute trigger is in UTC).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from icalendar import Alarm, Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard
from icalendar.prop import vDuration, vRecur, vUTCOffset

from acl.calendar.subscription import Subscription
from acl.db import as_utc

PRODID = "-//Liasse//Calendrier fiscal//FR"
ZONE = "Europe/Paris"
UID_UNSAFE = re.compile(r"[^A-Za-z0-9:._-]")


def _observance(kind, name: str, start: datetime, month: int, before: int, after: int):
    """One of the zone's two yearly changes: the last Sunday of `month`."""
    part = kind()
    part.add("tzname", name)
    part.add("dtstart", start)
    part.add("rrule", vRecur(freq="YEARLY", bymonth=month, byday="-1SU"))
    part.add("tzoffsetfrom", vUTCOffset(timedelta(hours=before)))
    part.add("tzoffsetto", vUTCOffset(timedelta(hours=after)))
    return part


def paris_zone() -> Timezone:
    zone = Timezone()
    zone.add("tzid", ZONE)
    zone.add("x-lic-location", ZONE)
    zone.add_component(_observance(TimezoneDaylight, "CEST", datetime(1970, 3, 29, 2), 3, 1, 2))
    zone.add_component(_observance(TimezoneStandard, "CET", datetime(1970, 10, 25, 3), 10, 2, 1))
    return zone


def uid_of(company_id: int, key: str) -> str:
    return f"{company_id}-{UID_UNSAFE.sub('_', key)}@liasse"


def render(subscription: Subscription, *, name: str, base_url: str, now: datetime,
           refresh_minutes: int, one_company: bool) -> bytes:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("name", name)
    cal.add("x-wr-timezone", ZONE)
    refresh = vDuration(timedelta(minutes=refresh_minutes))
    cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", refresh)
    cal.add_component(paris_zone())
    stamp = as_utc(now).replace(microsecond=0)
    for item in subscription.items:
        event = Event()
        event.add("uid", uid_of(item.company.id, item.key))
        event.add("dtstamp", stamp)
        event.add("dtstart", item.on)
        event.add("dtend", item.on + timedelta(days=1))
        event.add("summary", item.title if one_company
                  else f"{item.title} — {item.company.name}")
        lines = [f"{item.kind} — {item.company.name}"]
        if item.note:
            lines.append(item.note)
        lines += [f"Conseil du cabinet : {c.text}" for c in item.comments]
        event.add("description", "\n".join(lines))
        event.add("categories", [item.kind])
        event.add("transp", "TRANSPARENT")
        event.add("url", f"{base_url}/calendrier/{item.company.id}?vue=liste"
                         f"&du={item.on.isoformat()}")
        if item.private:
            event.add("class", "PRIVATE")
        for alert in subscription.alerts.get((item.company.id, item.key), ()):
            alarm = Alarm()
            alarm.add("uid", f"alerte-{alert.id}@liasse")
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"Rappel : {item.title}")
            alarm.add("trigger", as_utc(alert.due_at), parameters={"VALUE": "DATE-TIME"})
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
