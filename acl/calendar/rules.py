"""Fiscal and social deadlines computed from rules that are data, never typed dates.

The rules live in `config/defaults/fiscal_calendar.toml` (the keys are documented there); a
firm adds or replaces rules with a file of its own (`[calendar] rules_file`). A rule says who
it concerns (conditions on the company's fiscal profile) and how its dates fall each year;
`deadlines(profile, year, rules)` is pure: the same profile and year give the same dates.

A date falling on a Saturday, a Sunday or a French public holiday (the `holidays` package)
moves to the next working day, as the administration does ("CVAE instalment 16 Jun 2025
because 15 Jun was a Sunday", ../shared/reference/RESEARCH.md §5); "the 2nd working day
after 1 May" counts working days the same way.
"""

from __future__ import annotations

import calendar as month_days
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import holidays

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "config" / "defaults" / \
    "fiscal_calendar.toml"
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,79}")
_MONTH_DAY = re.compile(r"(\d\d)-(\d\d)")
SCHEDULES = ("dates", "day", "working_day_after", "after_close", "on")


class RulesError(ValueError):
    """A rules file that cannot be used: one French sentence naming the file and the rule."""


@dataclass(frozen=True, eq=False)  # hashed by identity: the loaded rules are kept (cached)
class Rule:
    id: str
    kind: str
    title: str
    when: Mapping[str, Any] = field(default_factory=dict)
    unless: Mapping[str, Any] = field(default_factory=dict)
    period: str = ""
    dates: tuple[str, ...] = ()
    day: int | str | None = None
    months: tuple[int, ...] = tuple(range(1, 13))
    working_day_after: str = ""
    rank: int = 1
    plus_days: int = 0
    after_close: Mapping[str, Any] = field(default_factory=dict)
    on: date | None = None
    shift: bool = True

    def applies_to(self, profile: Mapping[str, Any]) -> bool:
        return all(_matches(profile.get(k), v) for k, v in self.when.items()) and \
            not (self.unless and all(_matches(profile.get(k), v) for k, v in self.unless.items()))


@dataclass(frozen=True, order=True)
class Deadline:
    """One generated deadline. `key` names it for comments and alerts ("rule id:due")."""

    due: date
    rule_id: str
    kind: str
    title: str

    @property
    def key(self) -> str:
        return f"{self.rule_id}:{self.due.isoformat()}"


def _matches(value: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return value in expected
    return value == expected


# --- working days -----------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _public_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.France(years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _public_holidays(day.year)


def next_working_day(day: date) -> date:
    """`day` itself if it is a working day, else the next one."""
    for _ in range(15):  # never more than a long weekend and a holiday or two
        if is_working_day(day):
            return day
        day += timedelta(days=1)
    raise AssertionError("no working day within 15 days")


def nth_working_day_after(start: date, rank: int) -> date:
    day, found = start, 0
    while found < rank:
        day += timedelta(days=1)
        found += is_working_day(day)
    return day


def add_months(day: date, months: int, day_of_month: int | str = "same") -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = month_days.monthrange(year, month + 1)[1]
    if day_of_month == "last":
        return date(year, month + 1, last)
    wanted = day.day if day_of_month == "same" else int(day_of_month)
    return date(year, month + 1, min(wanted, last))


# --- generation -------------------------------------------------------------------------------

def _period(rule: Rule, due: date) -> str:
    if rule.period == "month-1":
        previous = add_months(due, -1)
        return f"{MONTHS[previous.month - 1]} {previous.year}"
    if rule.period == "quarter-1":
        previous = add_months(due, -3)
        quarter = (previous.month - 1) // 3 + 1
        return f"{'1er' if quarter == 1 else f'{quarter}e'} trimestre {previous.year}"
    if rule.period == "year-1":
        return str(due.year - 1)
    return str(due.year)


def _day_in_month(rule: Rule, profile: Mapping[str, Any], year: int, month: int) -> date:
    last = month_days.monthrange(year, month)[1]
    if rule.day == "last":
        return date(year, month, last)
    wanted = profile.get(rule.day) if isinstance(rule.day, str) else rule.day
    return date(year, month, min(int(wanted), last))


def _raw_dates(rule: Rule, profile: Mapping[str, Any], year: int) -> Iterable[date]:
    if rule.on is not None:
        yield rule.on
    for month_day in rule.dates:
        month, day = (int(p) for p in month_day.split("-"))
        yield date(year, month, day)
    if rule.day is not None:
        for month in rule.months:
            yield _day_in_month(rule, profile, year, month)
    if rule.working_day_after:
        month, day = (int(p) for p in rule.working_day_after.split("-"))
        yield nth_working_day_after(date(year, month, day), rule.rank) + \
            timedelta(days=rule.plus_days)
    if rule.after_close:
        month, day = (int(p) for p in str(profile.get("fiscal_year_end", "12-31")).split("-"))
        for close_year in (year - 2, year - 1, year):
            close = date(close_year, month, min(day, month_days.monthrange(close_year,
                                                                          month)[1]))
            yield add_months(close, int(rule.after_close["months"]),
                             rule.after_close.get("day", "same"))


def deadlines(profile: Mapping[str, Any], year: int, rules: Iterable[Rule]) -> list[Deadline]:
    """Every deadline of `year` for a company of this profile, in date order."""
    found = set()
    for rule in rules:
        if not rule.applies_to(profile):
            continue
        for raw in _raw_dates(rule, profile, year):
            due = next_working_day(raw) if rule.shift else raw
            if due.year == year:
                found.add(Deadline(due, rule.id, rule.kind,
                                   rule.title.format(period=_period(rule, due), year=year)))
    return sorted(found)


def deadlines_between(profile: Mapping[str, Any], first: date, last: date,
                      rules: Iterable[Rule]) -> list[Deadline]:
    rules = tuple(rules)
    return [d for year in range(first.year, last.year + 1)
            for d in deadlines(profile, year, rules) if first <= d.due <= last]


# --- the rules files ---------------------------------------------------------------------------

def _rule(raw: Mapping[str, Any], where: str) -> Rule:
    if not isinstance(raw.get("id"), str) or not _ID.fullmatch(raw["id"]):
        raise RulesError(f"{where} : chaque règle a un « id » fait de minuscules, de "
                         "chiffres et de tirets.")
    where = f"{where}, règle « {raw['id']} »"
    unknown = set(raw) - set(Rule.__dataclass_fields__)
    if unknown:
        raise RulesError(f"{where} : clé inconnue « {sorted(unknown)[0]} ».")
    for key in ("kind", "title"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise RulesError(f"{where} : « {key} » est obligatoire.")
    schedules = [k for k in SCHEDULES if k in raw]
    if len(schedules) != 1:
        raise RulesError(f"{where} : une seule façon de dater parmi "
                         f"{', '.join(SCHEDULES)} (ici : {', '.join(schedules) or 'aucune'}).")
    values = dict(raw)
    try:
        for month_day in values.get("dates", ()):
            if not _MONTH_DAY.fullmatch(month_day):
                raise ValueError(month_day)
            date(2024, *(int(p) for p in month_day.split("-")))
        values["dates"] = tuple(values.get("dates", ()))
        if "months" in values:
            values["months"] = tuple(int(m) for m in values["months"])
            if not values["months"] or any(not 1 <= m <= 12 for m in values["months"]):
                raise ValueError("months")
        if "on" in values:
            values["on"] = values["on"] if isinstance(values["on"], date) else \
                date.fromisoformat(values["on"])
        if "working_day_after" in values:
            date(2024, *(int(p) for p in values["working_day_after"].split("-")))
        if "after_close" in values and not 0 < int(values["after_close"]["months"]) <= 12:
            raise ValueError("after_close")
        day = values.get("day")
        if isinstance(day, int) and not 1 <= day <= 31:
            raise ValueError("day")
        values["title"].format(period="", year="")  # only {period} and {year}
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise RulesError(f"{where} : valeur invalide ({exc}).") from None
    return Rule(**values)


def parse_rules(text: str, where: str) -> list[Rule]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{where} : fichier TOML illisible ({exc}).") from None
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RulesError(f"{where} : les règles s'écrivent [[rule]].")
    rules = [_rule(raw, where) for raw in raw_rules]
    ids = [r.id for r in rules]
    twice = {i for i in ids if ids.count(i) > 1}
    if twice:
        raise RulesError(f"{where} : la règle « {sorted(twice)[0]} » est écrite deux fois.")
    return rules


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> tuple[Rule, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path} : fichier de règles illisible ({exc.strerror}).") from None
    return tuple(parse_rules(text, str(path)))


def load_rules(extra: str | Path | None = None) -> tuple[Rule, ...]:
    """The default rules, then the firm's (`extra`): a rule of the firm with the id of a
    default one replaces it."""
    rules = {r.id: r for r in _load(DEFAULT_RULES, DEFAULT_RULES.stat().st_mtime)}
    if extra:
        path = Path(extra)
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            raise RulesError(f"{path} : fichier de règles illisible ({exc.strerror}).") \
                from None
        rules.update({r.id: r for r in _load(path, mtime)})
    return tuple(rules.values())
