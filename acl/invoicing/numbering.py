"""Numbers of issued documents: unique, chronological and without a gap in each series
(C. com. L441-9, CGI ann. II art. 242 nonies A), given inside the transaction that freezes
the document.

A series is a company's prefix as resolved for the issue date ("F-{année}-" gives
"F-2026-"): a new year starts a new series at 1. The series row is locked for the
transaction (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's write transactions are taken
whole, `acl.db`), so that two people issuing at the same moment get two consecutive numbers,
never the same one, and a failed issue gives its number back (the transaction rolls back).
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from acl.errors import InvalidInput
from acl.invoicing.models import NumberSeries

PLACEHOLDERS = {"{année}": "%Y", "{annee}": "%Y", "{mois}": "%m"}
# BR-FR-01: an invoice number holds letters, digits, "-", "+", "_" (and "/", which a file
# name cannot); placeholders between braces.
_PREFIX = re.compile(r"^[A-Za-z0-9_+\-{}éè]{0,30}$")
DIGITS = 4


def check_prefix(prefix: str, field: str) -> str:
    """A numbering prefix a user may choose: letters, digits, "-", "_", "+" and the
    placeholders {année} and {mois}; no "/" (a number is part of a file name), no space, no
    accent outside the placeholders."""
    prefix = prefix.strip()
    if not _PREFIX.match(prefix):
        raise InvalidInput("Préfixe refusé : lettres sans accent, chiffres, « - », « _ », "
                           "« + » et {année} ou {mois} seulement (30 caractères au plus).",
                           field=field)
    leftover = prefix
    for placeholder in PLACEHOLDERS:
        leftover = leftover.replace(placeholder, "")
    if re.search("[{}éè]", leftover):
        raise InvalidInput("Préfixe refusé : les seules variables sont {année} et {mois}.",
                           field=field)
    return prefix


def resolve(prefix: str, issue_date: date) -> str:
    """The series of a prefix on a date: "F-{année}-" -> "F-2026-"."""
    for placeholder, code in PLACEHOLDERS.items():
        prefix = prefix.replace(placeholder, issue_date.strftime(code))
    return prefix


def next_number(session: Session, company_id: int, prefix: str, issue_date: date) -> str:
    """The next number of the series, on `issue_date`; refused when that date is earlier
    than the series' last issue (the numbers would no longer follow the dates)."""
    series = resolve(prefix, issue_date)
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    session.execute(insert(NumberSeries).values(
        company_id=company_id, prefix=series, last_number=0).on_conflict_do_nothing())
    row = session.scalars(select(NumberSeries).where(
        NumberSeries.company_id == company_id, NumberSeries.prefix == series)
        .with_for_update()).one()
    if row.last_issue_date is not None and issue_date < row.last_issue_date:
        raise InvalidInput(
            f"Date d'émission refusée : la série « {series} » a déjà un document émis le "
            f"{row.last_issue_date:%d/%m/%Y} ; les numéros suivent les dates.",
            field="issue_date")
    row.last_number += 1
    row.last_issue_date = issue_date
    return f"{series}{row.last_number:0{DIGITS}d}"
