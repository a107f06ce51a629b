"""Calendar and messaging at volume (issue 19): a portfolio of 500 companies.

Measures, on a fresh SQLite database in a temporary folder (schema by the migrations):
- a year of deadlines for all 500 companies (five fiscal profiles spread over them);
- "this week across my portfolio" (`acl.calendar.agenda.agenda` over the 500 companies, as
  the /calendrier page calls it) for the correspondant;
- a thread of 5,000 messages: the thread list with unread counts, the whole thread, the
  unread count over every company (what the page header asks on every page).

Usage: .venv/bin/python bench/calendar_messaging_bench.py [--companies N] [--messages N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert

from acl.calendar import agenda
from acl.calendar.models import FiscalProfile
from acl.calendar.rules import load_rules
from acl.db import Database, make_engine, upgrade_schema, utcnow
from acl.messaging import threads
from acl.messaging.models import Message, MessageThread
from acl.people.models import Company, User
from acl.rights.models import Role
from acl.rights.policy import Principal

PROFILES = [
    dict(vat_periodicity="", vat_day=19, income_tax="IS", employees="aucun", cfe="solde",
         cvae="non redevable", micro="", company_cars=False),
    dict(vat_periodicity="mensuelle", vat_day=21, income_tax="IS", employees="moins de 50",
         cfe="acompte et solde", cvae="redevable avec acomptes", micro="", company_cars=True),
    dict(vat_periodicity="trimestrielle", vat_day=24, income_tax="IR",
         employees="moins de 50", cfe="solde", cvae="non redevable", micro="",
         company_cars=False),
    dict(vat_periodicity="mensuelle", vat_day=15, income_tax="IS", employees="50 et plus",
         cfe="acompte et solde", cvae="redevable", micro="", company_cars=True),
    dict(vat_periodicity="", vat_day=24, income_tax="IR", employees="aucun", cfe="exonérée",
         cvae="non redevable", micro="trimestrielle", company_cars=False),
]
REGIMES = ["réel simplifié", "réel normal", "réel normal", "réel normal", "franchise"]


def timed(label: str, function, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"| {label} | {best * 1000:.1f} ms | {statistics.median(times) * 1000:.1f} ms | "
          f"{result} |")
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Database(make_engine(f"sqlite:///{Path(folder) / 'bench.db'}"))
        upgrade_schema(db.engine)
        with db.transaction() as s:
            s.execute(insert(Company), [
                {"name": f"Entreprise {i:03d}", "folder_name": f"Entreprise {i:03d}",
                 "siren": f"{i:09d}", "vat_regime": REGIMES[i % 5], "fiscal_year_end": "12-31",
                 "created_at": utcnow()} for i in range(1, args.companies + 1)])
            ids = [c.id for c in s.query(Company)]
            s.execute(insert(FiscalProfile), [
                {"company_id": cid, "updated_at": utcnow(), **PROFILES[cid % 5]}
                for cid in ids])
            s.add(User(login="expert", display_name="Expert", side="cabinet",
                       role=Role.CORRESPONDANT.value))
            s.flush()
            expert_id = s.query(User).one().id
            thread = MessageThread(company_id=ids[0], subject="Long fil")
            s.add(thread)
            s.flush()
            s.execute(insert(Message), [
                {"thread_id": thread.id, "company_id": ids[0], "author_id": None,
                 "author_side": "entreprise", "body": f"Message {n} " + "texte " * 40,
                 "created_at": utcnow()} for n in range(args.messages)])
            thread_id = thread.id
        expert = Principal(user_id=expert_id, login="expert", role=Role.CORRESPONDANT)
        rules = load_rules()
        print(f"{args.companies} companies, a thread of {args.messages} messages "
              "(SQLite, best and median of 5)\n")
        print("| measure | best | median | result |\n|---|---|---|---|")
        with db.session() as s:
            companies = list(s.query(Company))

            def year():
                agenda._deadlines_of.cache_clear()
                return f"{len(agenda.agenda(s, expert, companies, date(2026, 1, 1), date(2026, 12, 31), rules))} items"  # noqa: E501

            timed("a year of deadlines, all companies (cache cleared)", year)
            monday = date(2026, 5, 11)
            timed("this week across the portfolio", lambda: f"{len(agenda.agenda(s, expert, companies, monday, monday + timedelta(days=6), rules))} items")  # noqa: E501
            company = companies[0]
            timed("thread list with unread counts", lambda: f"{len(threads.thread_lines(s, expert, company))} thread")  # noqa: E501
            one = s.get(MessageThread, thread_id)
            timed("the whole thread of messages", lambda: f"{len(threads.messages_of(s, expert, one))} messages")  # noqa: E501
            timed("unread count, every company (page header)", lambda: f"{sum(threads.unread_counts(s, expert, companies).values())} unread")  # noqa: E501
        db.dispose()


if __name__ == "__main__":
    main()
