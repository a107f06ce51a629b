"""What a calendar shows: the deadlines generated for a company, the events the firm and the
company added, the firm's comments; per company or across a portfolio.

Seed 000: "Le calendrier fiscal gère 3 types d'évènements : les évènements fiscaux et
sociaux ..., les évènements spécifiques rajoutés par le comptable (commenter les évènements,
en créer, apporter des conseils ...), les évènements personnalisés rajoutés par
l'entreprise". Who sees and who adds what is decided by the one permission function
(`Action.CALENDAR`, `Action.CALENDAR_ADVICE`); a company event marked private stays on the
company's side.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.calendar.models import CalendarEvent, DeadlineComment, FiscalProfile
from acl.calendar.profile import profile_of
from acl.calendar.rules import Deadline, Rule, deadlines
from acl.documents.browsing import readable_companies
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.stream import record_event
from acl.people.models import Company, Portfolio
from acl.rights.models import Role, Side
from acl.rights.policy import Action, Principal, Resource, authorize

FIRM_KIND = "Cabinet"
COMPANY_KIND = "Entreprise"
MAX_TITLE = 200
MAX_NOTE = 5000
NO_EVENT = "Évènement introuvable."


@dataclass
class Item:
    """One line of a calendar."""

    on: date
    kind: str
    title: str
    key: str  # "rule-id:date" for a deadline, "event:<id>" for an added event
    company: Company
    source: str  # "règle", "cabinet" or "entreprise"
    note: str = ""
    private: bool = False
    comments: list[DeadlineComment] = field(default_factory=list)


def may_see(principal: Principal, company: Company) -> bool:
    return bool(authorize(principal, Action.CALENDAR, Resource(company.id, company.is_active)))


def may_advise(principal: Principal, company: Company) -> bool:
    return bool(authorize(principal, Action.CALENDAR_ADVICE,
                          Resource(company.id, company.is_active)))


def calendar_company(session: Session, principal: Principal, company_id: int) -> Company:
    company = session.get(Company, company_id)
    if company is None or not may_see(principal, company):
        raise NotFound("Calendrier introuvable.")
    return company


def visible_companies(session: Session, principal: Principal) -> list[Company]:
    return [c for c in readable_companies(session, principal) if may_see(principal, c)]


@lru_cache(maxsize=4096)
def _deadlines_of(profile: tuple, year: int, rules: tuple[Rule, ...]) -> tuple[Deadline, ...]:
    """Many companies share a profile: a year of deadlines is computed once per profile."""
    return tuple(deadlines(dict(profile), year, rules))


def deadlines_of(profile: dict, first: date, last: date,
                 rules: tuple[Rule, ...]) -> list[Deadline]:
    frozen = tuple(sorted(profile.items()))
    return [d for year in range(first.year, last.year + 1)
            for d in _deadlines_of(frozen, year, rules) if first <= d.due <= last]


def _profiles(session: Session, companies: Sequence[Company]) -> dict[int, dict]:
    rows = {p.company_id: p for p in session.scalars(select(FiscalProfile).where(
        FiscalProfile.company_id.in_([c.id for c in companies])))} if len(companies) < 900 \
        else {p.company_id: p for p in session.scalars(select(FiscalProfile))}
    found = {}
    for company in companies:
        found[company.id] = profile_of(session, company, row=rows.get(company.id))
    return found


def agenda(session: Session, principal: Principal, companies: Sequence[Company], first: date,
           last: date, rules: tuple[Rule, ...], *, kinds: Iterable[str] = ()) -> list[Item]:
    """Everything of these companies between `first` and `last` the principal may see, in
    date order; `kinds`: only these families (TVA, IS, Social, Cabinet, Entreprise...)."""
    companies = [c for c in companies if may_see(principal, c)]
    by_id = {c.id: c for c in companies}
    kinds = set(kinds)
    items: list[Item] = []
    for company_id, profile in _profiles(session, companies).items():
        for deadline in deadlines_of(profile, first, last, rules):
            if not kinds or deadline.kind in kinds:
                items.append(Item(deadline.due, deadline.kind, deadline.title, deadline.key,
                                  by_id[company_id], "règle"))
    ids = list(by_id)
    query = select(CalendarEvent).where(CalendarEvent.on >= first, CalendarEvent.on <= last)
    if len(ids) < 900:
        query = query.where(CalendarEvent.company_id.in_(ids))
    for event in session.scalars(query):
        if event.company_id not in by_id or not _event_visible(principal, event):
            continue
        kind = FIRM_KIND if event.side == Side.CABINET.value else COMPANY_KIND
        if not kinds or kind in kinds:
            items.append(Item(event.on, kind, event.title, f"event:{event.id}",
                              by_id[event.company_id], event.side, event.note, event.private))
    keyed = {(i.company.id, i.key): i for i in items}
    if keyed:
        comments = select(DeadlineComment).order_by(DeadlineComment.id)
        if len(ids) < 900:
            comments = comments.where(DeadlineComment.company_id.in_(ids))
        for comment in session.scalars(comments):
            item = keyed.get((comment.company_id, comment.deadline_key))
            if item is not None:
                item.comments.append(comment)
    return sorted(items, key=lambda i: (i.on, i.company.name, i.title))


def _event_visible(principal: Principal, event: CalendarEvent) -> bool:
    return not (event.private and principal.side != Side.COMPANY)


def find_item(session: Session, principal: Principal, company: Company, key: str,
              rules: tuple[Rule, ...]) -> Item:
    """The deadline or event of this company named by `key`, else NotFound (an event of
    another company, or a private one of the other side, does not exist here)."""
    if key.startswith("event:"):
        raw = key.removeprefix("event:")
        event = session.get(CalendarEvent, int(raw)) if raw.isdigit() and len(raw) < 12 \
            else None
        if event is None or event.company_id != company.id or \
                not _event_visible(principal, event) or not may_see(principal, company):
            raise NotFound(NO_EVENT)
        return Item(event.on, FIRM_KIND if event.side == Side.CABINET.value else COMPANY_KIND,
                    event.title, key, company, event.side, event.note, event.private)
    rule_id, _, day = key.rpartition(":")
    try:
        due = date.fromisoformat(day)
    except ValueError:
        raise NotFound(NO_EVENT) from None
    for item in agenda(session, principal, [company], due, due, rules):
        if item.key == key:
            return item
    raise NotFound(NO_EVENT)


# --- adding -------------------------------------------------------------------------------------

def _text(value: str, limit: int, field_name: str, label: str, *, required: bool) -> str:
    value = value.replace("\r\n", "\n").replace("\x00", "").strip()
    if field_name == "title":
        value = " ".join(value.split())
    if required and not value:
        raise InvalidInput(f"{label} est obligatoire.", field=field_name)
    if len(value) > limit:
        raise InvalidInput(f"{label} : {limit} caractères au plus.", field=field_name)
    return value


def scope_companies(session: Session, principal: Principal, company: Company,
                    scope: str) -> list[Company]:
    """Where a firm event goes: "company" (this one), "portfolio:<id>" (the companies of one
    of the principal's portfolios) or "all" (every company he reaches)."""
    if scope in ("", "company"):
        return [company]
    if principal.side != Side.CABINET:
        raise PermissionDenied("Seul le cabinet ajoute un évènement à plusieurs entreprises.")
    if scope == "all":
        targets = visible_companies(session, principal)
    elif scope.startswith("portfolio:") and scope[10:].isdigit() and len(scope) < 22:
        portfolio = session.get(Portfolio, int(scope[10:]))
        if portfolio is None or (principal.role != Role.CORRESPONDANT
                                 and portfolio.id not in principal.portfolio_ids):
            raise NotFound("Portefeuille introuvable.")
        targets = [c for c in portfolio.companies if may_see(principal, c)]
    else:
        raise InvalidInput("Choisissez à qui s'adresse l'évènement.", field="scope")
    return [c for c in targets if may_advise(principal, c)]


def add_event(session: Session, principal: Principal, company: Company, *, title: str,
              on: date, note: str = "", private: bool = False,
              scope: str = "company") -> list[CalendarEvent]:
    """A firm event (for one company, a portfolio or all), or a company's own event."""
    if not may_see(principal, company):
        raise NotFound("Calendrier introuvable.")
    title = _text(title, MAX_TITLE, "title", "L'intitulé", required=True)
    note = _text(note, MAX_NOTE, "note", "La note", required=False)
    if private and principal.side != Side.COMPANY:
        raise InvalidInput("Seule l'entreprise peut garder un évènement pour elle.",
                           field="private")
    if principal.side == Side.CABINET and not may_advise(principal, company):
        raise PermissionDenied("Seul le cabinet peut ajouter cet évènement.")
    targets = scope_companies(session, principal, company, scope)
    batch = secrets.token_hex(8) if len(targets) > 1 else ""
    added = []
    for target in targets:
        event = CalendarEvent(company_id=target.id, side=principal.side.value, on=on,
                              title=title, note=note, private=private, batch=batch,
                              author_id=principal.user_id)
        session.add(event)
        added.append(event)
    session.flush()
    for event in added:
        record_event(session, "calendar:event" + (":private" if private else ""),
                     company_id=event.company_id, folder="", node_id=None, path=title,
                     actor_id=principal.user_id, detail={"event": event.id, "on": on})
    return added


def comment(session: Session, principal: Principal, company: Company, key: str, text: str,
            rules: tuple[Rule, ...]) -> DeadlineComment:
    """The firm's advice on a deadline or an event of the company."""
    item = find_item(session, principal, company, key, rules)
    if not may_advise(principal, company):
        raise PermissionDenied(authorize(principal, Action.CALENDAR_ADVICE,
                                         Resource(company.id, company.is_active)).reason)
    text = _text(text, MAX_NOTE, "text", "Le commentaire", required=True)
    row = DeadlineComment(company_id=company.id, deadline_key=item.key, text=text,
                          author_id=principal.user_id)
    session.add(row)
    session.flush()
    record_event(session, "calendar:comment", company_id=company.id, folder="", node_id=None,
                 path=item.title, actor_id=principal.user_id,
                 detail={"key": item.key, "comment": row.id})
    return row


def kinds_of(rules: Iterable[Rule]) -> list[str]:
    """The families a calendar can be filtered by."""
    return sorted({r.kind for r in rules}) + [FIRM_KIND, COMPANY_KIND]


def by_day(items: Iterable[Item]) -> dict[date, list[Item]]:
    days: dict[date, list[Item]] = defaultdict(list)
    for item in items:
        days[item.on].append(item)
    return days
