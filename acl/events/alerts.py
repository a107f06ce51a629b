"""Deposit alerts: from "deposited" events to mails in the outbox.

Seed 000: "Une fois le document déposé, un mail automatique d'alerte et de traçabilité est
envoyé au comptable et à l'entreprise." Recipients are the cabinet staff in charge of the
company (the correspondant, who oversees every company, and the members of its portfolios)
and its interlocuteur — never the depositor, never for a
folder the recipient cannot read (the one permission function decides). A burst of deposits
gives one mail per recipient: deposits wait in `pending_alert` until no new one has arrived
for the quiet delay (or the maximum hold has passed).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from acl.db import as_utc
from acl.events.models import AlertMode, Event, OutboxMessage, PendingAlert, WorkerCursor
from acl.events.stream import events_since, last_event_id
from acl.people.accounts import EMAIL_RE
from acl.people.models import Cabinet, Company, User, portfolio_company, portfolio_member
from acl.rights.models import Role
from acl.rights.policy import Action, Principal, Resource, authorize
from acl.rights.principals import load_principal

log = logging.getLogger("liasse.alerts")
PARIS = ZoneInfo("Europe/Paris")
CURSOR = "deposit-alerts"


def recipients_for(session: Session, event: Event,
                   principals: dict[int, Principal] | None = None) -> list[User]:
    """Who is told about a deposit: in charge of the company, able to read the folder."""
    company = session.get(Company, event.company_id)
    if company is None:
        return []
    staff = select(portfolio_member.c.user_id).join(
        portfolio_company, portfolio_company.c.portfolio_id == portfolio_member.c.portfolio_id
    ).where(portfolio_company.c.company_id == company.id)
    candidates = session.scalars(select(User).where(
        User.active, User.id != (event.actor_id or 0),
        User.id.in_(staff) | (User.role == Role.CORRESPONDANT.value)
        | ((User.company_id == company.id) & (User.role == Role.INTERLOCUTEUR.value)))
        .order_by(User.id)).all()
    resource = Resource(company.id, company.is_active, None, event.folder or None)
    principals = {} if principals is None else principals  # loaded once per batch of events
    for user in candidates:
        if user.id not in principals:
            principals[user.id] = load_principal(session, user)
    return [user for user in candidates if authorize(principals[user.id], Action.READ, resource)]


def _deliverable(user: User) -> bool:
    if not user.email:
        log.warning("alert not mailed to %s: no e-mail address", user.login)
        return False
    if not EMAIL_RE.match(user.email):
        log.warning("alert not mailed to %s: invalid e-mail address", user.login)
        return False
    return True


DEPOSIT_BATCH = 500


def consider_alerted(session: Session) -> None:
    """Treat every deposit recorded so far as already alerted: the history an installation
    is created with (the demo's) is no news to anybody."""
    cursor = session.get(WorkerCursor, CURSOR)
    if cursor is None:
        session.add(WorkerCursor(name=CURSOR, last_event_id=last_event_id(session)))
    else:
        cursor.last_event_id = max(cursor.last_event_id, last_event_id(session))


def queue_new_deposits(session: Session, *, base_url: str = "",
                       batch: int = DEPOSIT_BATCH) -> int:
    """Read deposit events past the cursor; queue them per recipient. Returns the number of
    deposits read: `batch` means there may be more."""
    cursor = session.get(WorkerCursor, CURSOR)
    if cursor is None:
        cursor = WorkerCursor(name=CURSOR, last_event_id=0)
        session.add(cursor)
    # Only deposits, read up to the last event now: the downloads and other events between
    # them (most of the stream) are skipped by the query, not loaded one by one.
    upto = last_event_id(session)
    events = [e for e in events_since(session, cursor.last_event_id, limit=batch,
                                      kinds=("deposited",)) if e.id <= upto]
    principals: dict[int, Principal] = {}
    recipients: dict[tuple[int, str, int | None], list[User]] = {}
    queued: list[dict[str, int]] = []  # for digests: inserted at once, not as ORM objects
    for event in events:
        if event.company_id is None:
            continue
        key = (event.company_id, event.folder, event.actor_id)  # the same for a burst
        if key not in recipients:
            recipients[key] = [user for user in recipients_for(session, event, principals)
                               if user.alert_mode != AlertMode.OFF and _deliverable(user)]
        for user in recipients[key]:
            if user.alert_mode == AlertMode.IMMEDIATE:
                session.add(PendingAlert(recipient_id=user.id, event_id=event.id))
                session.flush()
                _mail_pending(session, user, [event], base_url)
            else:
                queued.append({"recipient_id": user.id, "event_id": event.id})
    if queued:  # Core's executemany: the ORM's bulk insert costs more per row
        session.connection().execute(insert(PendingAlert.__table__), queued)
    cursor.last_event_id = events[-1].id if len(events) == batch else \
        max(cursor.last_event_id, upto)
    return len(events)


def flush_digests(session: Session, now: datetime, *, quiet: timedelta,
                  max_hold: timedelta, base_url: str = "") -> int:
    """Mail the recipients whose deposits have gone quiet. Returns mails queued."""
    per_recipient = session.execute(
        select(PendingAlert.recipient_id, func.min(PendingAlert.queued_at),
               func.max(PendingAlert.queued_at)).group_by(PendingAlert.recipient_id)).all()
    mailed = 0
    for recipient_id, first, last in per_recipient:
        first, last = as_utc(first), as_utc(last)
        if now - last < quiet and now - first < max_hold:
            continue
        user = session.get(User, recipient_id)
        events = list(session.scalars(select(Event).join(
            PendingAlert, PendingAlert.event_id == Event.id).where(
            PendingAlert.recipient_id == recipient_id).order_by(Event.id)))
        if user is not None and _mail_pending(session, user, events, base_url):
            mailed += 1
    return mailed


def _mail_pending(session: Session, user: User, events: list[Event], base_url: str) -> bool:
    """One mail for these deposits; their pending rows go in the same transaction. Rights
    are decided again now, not when the deposit was queued: a folder taken away (or an
    account disabled, or alerts turned off) during the quiet delay is not named in it."""
    session.execute(delete(PendingAlert).where(
        PendingAlert.recipient_id == user.id,
        PendingAlert.event_id.in_([e.id for e in events])))
    companies = {c.id: c for c in session.scalars(select(Company).where(
        Company.id.in_({e.company_id for e in events})))}
    if not user.active or user.alert_mode == AlertMode.OFF or not _deliverable(user):
        return False
    principal = load_principal(session, user)
    events = [e for e in events if e.company_id in companies and authorize(
        principal, Action.READ, Resource(e.company_id, companies[e.company_id].is_active,
                                         None, e.folder or None))]
    if not events:
        return False
    cabinet = session.get(Cabinet, 1)
    depositors = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_({e.actor_id for e in events if e.actor_id}))).all())
    # One line per document: a document deposited again (a new version) during the quiet
    # delay is named once, with its latest deposit and how many there were.
    latest: dict[tuple[int, int | str], tuple[Event, int]] = {}
    for event in sorted(events, key=lambda e: e.id):
        key = (event.company_id, event.node_id if event.node_id is not None else event.path)
        latest[key] = (event, latest[key][1] + 1 if key in latest else 1)
    mail = compose_alert(cabinet, user, [
        DepositLine(companies[e.company_id].name, e.path, depositors.get(e.actor_id, "?"),
                    e.at, e.node_id, count) for e, count in latest.values()], base_url)
    session.add(OutboxMessage(recipient=user.email, recipient_id=user.id, subject=mail.subject,
                              text_body=mail.text, html_body=mail.html))
    return True


@dataclass(frozen=True)
class DepositLine:
    company: str
    path: str
    depositor: str
    at: datetime
    node_id: int | None
    deposits: int = 1  # deposits of this document the mail covers (new versions)


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


def _one_line(text: str) -> str:
    """Names become header-safe: no line breaks, no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def compose_alert(cabinet: Cabinet | None, user: User, lines: list[DepositLine],
                  base_url: str = "") -> Mail:
    """The French alert mail: a plain-text part and an HTML part in the cabinet's colours."""
    cabinet_name = _one_line(cabinet.name) if cabinet else "Liasse"
    colour = cabinet.colour if cabinet else "#1f4e79"
    by_company: dict[str, list[DepositLine]] = defaultdict(list)
    for line in lines:
        by_company[line.company].append(line)
    if len(lines) == 1:
        only = lines[0]
        subject = f"[{cabinet_name}] Nouveau document : {_one_line(only.path.rsplit('/', 1)[-1])}"
    else:
        subject = f"[{cabinet_name}] {len(lines)} nouveaux documents déposés"
    subject = _one_line(subject)[:250]
    text = [f"Bonjour {_one_line(user.display_name)},", "",
            "De nouveaux documents ont été déposés sur la plateforme :" if len(lines) > 1
            else "Un nouveau document a été déposé sur la plateforme :", ""]
    html = [f'<div style="font-family:sans-serif"><div style="background:{colour};color:#fff;'
            f'padding:12px 16px;font-weight:bold">{escape(cabinet_name)}</div>'
            f"<p>Bonjour {escape(_one_line(user.display_name))},</p>"
            "<p>Documents déposés sur la plateforme :</p>"]
    for company, items in by_company.items():
        text.append(f"{_one_line(company)} :")
        html.append(f"<h3>{escape(_one_line(company))}</h3><ul>")
        for item in items:
            when = item.at.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")
            where = _one_line(item.path)
            link = f"{base_url}/document/{item.node_id}" if base_url and item.node_id else ""
            versions = f" ({item.deposits} versions)" if item.deposits > 1 else ""
            text.append(f"  - {where} — déposé par {_one_line(item.depositor)} le {when}"
                        + versions + (f"\n    {link}" if link else ""))
            label = escape(where)
            if link:
                label = f'<a href="{escape(link)}">{label}</a>'
            html.append(f"<li>{label} — déposé par {escape(_one_line(item.depositor))} "
                        f"le {when}{versions}</li>")
        text.append("")
        html.append("</ul>")
    profile = f"{base_url}/profil#alertes" if base_url else ""
    text += ["Vous recevez ce message car vous suivez cette entreprise. Vous pouvez choisir "
             "de recevoir ces alertes immédiatement, groupées, ou plus du tout dans votre "
             "profil" + (f" : {profile}" if profile else ".") , "", f"— {cabinet_name}"]
    where = f'<a href="{escape(profile)}">votre profil</a>' if profile else "votre profil"
    html.append("<p style=\"color:#555;font-size:90%\">Vous recevez ce message car vous suivez "
                f"cette entreprise ; vous pouvez changer ce choix dans {where}.</p></div>")
    return Mail(subject, "\n".join(text) + "\n", "".join(html))
