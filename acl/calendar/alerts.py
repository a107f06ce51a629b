"""Alerts on calendar events (seed 000: "sélectionner un évènement du calendrier et y rajouter
une alerte. Les alertes peuvent être déclenchées jusqu'à un mois avant l'évènement.
L'entreprise reçoit alors un mail").

An alert is set for a day from one month before the event to the event's day. It falls due at
`[calendar] alert_hour` that day, Europe/Paris: the moment is computed with the zone's rules
for that date and stored in UTC, so a change of daylight-saving time between setting it and
its day moves nothing. The worker mails every alert due, grouped per recipient (the digest of
one morning), and marks them mailed in the transaction that queues the mails: once, across
restarts. The firm may set an alert for the company's users; the company may turn it off.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.calendar.agenda import calendar_company, find_item, may_advise, may_see
from acl.calendar.models import CalendarAlert
from acl.calendar.rules import Rule, add_months
from acl.db import as_utc, utcnow
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.models import OutboxMessage
from acl.events.stream import record_event
from acl.messaging.mail import one_line
from acl.people.accounts import EMAIL_RE
from acl.people.models import Cabinet, Company, User
from acl.rights.models import Side
from acl.rights.policy import Principal
from acl.rights.principals import load_principal
from config.dates import PARIS, day

log = logging.getLogger("liasse.calendar")


def due_moment(remind_on: date, hour: int) -> datetime:
    """`hour` o'clock in Paris on that day, as a UTC moment (the zone's offset of that day)."""
    return datetime.combine(remind_on, time(hour), tzinfo=PARIS).astimezone(UTC)


def paris_today(now: datetime | None = None) -> date:
    return as_utc(now or utcnow()).astimezone(PARIS).date()


def set_alert(session: Session, principal: Principal, company: Company, key: str,
              remind_on: date, rules: tuple[Rule, ...], *, hour: int,
              for_company: bool = False, now: datetime | None = None) -> CalendarAlert:
    """An alert for the principal (or, set by the firm, for the company's users)."""
    item = find_item(session, principal, company, key, rules)
    if for_company and not may_advise(principal, company):
        raise PermissionDenied("Seul le cabinet peut poser une alerte pour l'entreprise.")
    if remind_on > item.on:
        raise InvalidInput("L'alerte doit précéder l'évènement (ou tomber le jour même).",
                           field="remind_on")
    if remind_on < add_months(item.on, -1):
        raise InvalidInput("Une alerte se pose au plus un mois avant l'évènement.",
                           field="remind_on")
    today = paris_today(now)
    if remind_on < today or (remind_on == today and
                             as_utc(now or utcnow()) >= due_moment(remind_on, hour)):
        raise InvalidInput("Ce moment est déjà passé : choisissez un jour à venir.",
                           field="remind_on")
    alert = CalendarAlert(company_id=company.id, event_key=item.key,
                          event_title=item.title[:300], event_on=item.on, remind_on=remind_on,
                          due_at=due_moment(remind_on, hour),
                          user_id=None if for_company else principal.user_id,
                          set_by_id=principal.user_id)
    session.add(alert)
    session.flush()
    record_event(session, "calendar:alert", company_id=company.id, folder="", node_id=None,
                 path=item.title, actor_id=principal.user_id,
                 detail={"alert": alert.id, "on": remind_on, "for_company": for_company})
    return alert


def alerts_of(session: Session, principal: Principal, company: Company) -> list[CalendarAlert]:
    """The alerts the principal sees on this company: his own, and the firm's for the
    company (to the company's users, and to the firm)."""
    if not may_see(principal, company):
        return []
    return list(session.scalars(select(CalendarAlert).where(
        CalendarAlert.company_id == company.id,
        (CalendarAlert.user_id == principal.user_id) | CalendarAlert.user_id.is_(None))
        .order_by(CalendarAlert.remind_on, CalendarAlert.id)))


def turn_off(session: Session, principal: Principal, company_id: int,
             alert_id: int) -> CalendarAlert:
    """The company turns off an alert the firm set for it; a user removes his own."""
    company = calendar_company(session, principal, company_id)
    alert = session.get(CalendarAlert, alert_id)
    if alert is None or alert.company_id != company.id or \
            alert.user_id not in (None, principal.user_id):
        raise NotFound("Alerte introuvable.")
    if alert.user_id is None and principal.side != Side.COMPANY and \
            alert.set_by_id != principal.user_id:
        raise PermissionDenied("Seule l'entreprise, ou qui l'a posée, peut couper cette "
                               "alerte.")
    if alert.disabled_at is None:
        alert.disabled_at = utcnow()
        alert.disabled_by_id = principal.user_id
        # An event, so that calendar subscriptions (their ETag follows the stream) drop the
        # VALARM at their next fetch.
        record_event(session, "calendar:alert_off", company_id=company.id, folder="",
                     node_id=None, path=alert.event_title, actor_id=principal.user_id,
                     detail={"alert": alert.id})
    return alert


# --- the worker's job ---------------------------------------------------------------------------

def _recipients(session: Session, alert: CalendarAlert, company: Company) -> list[User]:
    if alert.user_id is not None:
        users = [session.get(User, alert.user_id)]
    else:
        users = list(session.scalars(select(User).where(User.company_id == company.id)
                                     .order_by(User.id)))
    return [u for u in users if u is not None and u.active and u.email
            and EMAIL_RE.match(u.email) and may_see(load_principal(session, u), company)]


def mail_due(session: Session, now: datetime, base_url: str = "") -> int:
    """Mail the alerts due by `now`: one mail per recipient, listing all his alerts of the
    moment; each alert is marked mailed in this transaction. Returns mails queued. An alert
    whose event has passed (the server was stopped over it) is marked, not mailed."""
    due = list(session.scalars(select(CalendarAlert).where(
        CalendarAlert.mailed_at.is_(None), CalendarAlert.disabled_at.is_(None),
        CalendarAlert.due_at <= now).order_by(CalendarAlert.due_at, CalendarAlert.id)
        .with_for_update()))
    if not due:
        return 0
    today = paris_today(now)
    per_user: dict[int, list[tuple[CalendarAlert, Company]]] = defaultdict(list)
    users: dict[int, User] = {}
    for alert in due:
        alert.mailed_at = now
        company = session.get(Company, alert.company_id)
        if company is None or alert.event_on < today:
            continue
        for user in _recipients(session, alert, company):
            users[user.id] = user
            per_user[user.id].append((alert, company))
        record_event(session, "calendar:alert_mailed", company_id=company.id, folder="",
                     node_id=None, path=alert.event_title, actor_id=None,
                     detail={"alert": alert.id})
    cabinet = session.get(Cabinet, 1)
    for user_id, lines in per_user.items():
        subject, text, html = compose(cabinet, users[user_id], lines, base_url)
        session.add(OutboxMessage(recipient=users[user_id].email, recipient_id=user_id,
                                  subject=subject, text_body=text, html_body=html))
    return len(per_user)


def compose(cabinet: Cabinet | None, user: User,
            lines: list[tuple[CalendarAlert, Company]], base_url: str) -> tuple[str, str, str]:
    name = one_line(cabinet.name) if cabinet else "Liasse"
    colour = cabinet.colour if cabinet else "#1f4e79"
    if len(lines) == 1:
        alert, _ = lines[0]
        subject = f"[{name}] Rappel : {one_line(alert.event_title)} le {day(alert.event_on)}"
    else:
        subject = f"[{name}] {len(lines)} échéances à venir"
    text = [f"Bonjour {one_line(user.display_name)},", "",
            "Rappel du calendrier fiscal :" if len(lines) == 1 else
            "Rappels du calendrier fiscal de ce matin :", ""]
    html = [f'<div style="font-family:sans-serif"><div style="background:{escape(colour)};'
            f'color:#fff;padding:12px 16px;font-weight:bold">{escape(name)}</div>'
            f"<p>Bonjour {escape(one_line(user.display_name))},</p>"
            "<p>Rappel du calendrier fiscal :</p><ul>"]
    for alert, company in lines:
        link = f"{base_url}/calendrier/{company.id}?vue=liste&du={alert.event_on.isoformat()}"
        text.append(f"  - {day(alert.event_on)} — {one_line(alert.event_title)} "
                    f"({one_line(company.name)})" + (f"\n    {link}" if base_url else ""))
        label = escape(f"{day(alert.event_on)} — {one_line(alert.event_title)} "
                       f"({one_line(company.name)})")
        html.append(f'<li><a href="{escape(link)}">{label}</a></li>' if base_url
                    else f"<li>{label}</li>")
    text += ["", "Vous recevez ce message car une alerte a été posée sur cet évènement. "
             "Vous pouvez la couper dans le calendrier.", "", f"— {name}"]
    html.append("</ul><p style=\"color:#555;font-size:90%\">Vous recevez ce message car une "
                "alerte a été posée sur cet évènement ; vous pouvez la couper dans le "
                "calendrier.</p></div>")
    return one_line(subject)[:250], "\n".join(text) + "\n", "".join(html)
