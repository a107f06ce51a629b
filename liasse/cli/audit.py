"""`liasse audit`: read the administrative log, with filters."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from acl.people import companies
from acl.rights import delegation
from acl.rights.audit import detail_text, query_entries, require
from liasse.cli.runtime import Runtime, parse_date, parse_limit, print_table

PARIS = ZoneInfo("Europe/Paris")


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="journal d'audit des actes d'administration",
                           description="Du plus récent au plus ancien ; heures de Paris.")
    audit.add_argument("--actor", metavar="LOGIN", help="actes de ce compte")
    audit.add_argument("--action", help="type d'acte (préfixe : user, company.create...)")
    audit.add_argument("--company", help="actes concernant cette entreprise")
    audit.add_argument("--since", type=parse_date, metavar="DATE", help="à partir de ce jour")
    audit.add_argument("--until", type=parse_date, metavar="DATE", help="jusqu'à ce jour inclus")
    audit.add_argument("--refused", action="store_true", help="seulement les refus")
    audit.add_argument("--limit", type=parse_limit, default=200, metavar="NOMBRE")
    audit.set_defaults(handler=show_audit)


def _start_of(day) -> datetime:
    return datetime.combine(day, time(), PARIS).astimezone(UTC)


def show_audit(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        require(delegation.may_read_audit(ctx.principal), action="audit.read")
        company_id = companies.find_company(s, ctx.principal, args.company).id \
            if args.company else None
        entries = query_entries(
            s, ctx.principal, actor=args.actor, action=args.action, company_id=company_id,
            since=_start_of(args.since) if args.since else None,
            until=_start_of(args.until + timedelta(days=1)) if args.until else None,
            outcome="refused" if args.refused else None, limit=args.limit)
        print_table(["Date", "Acteur", "Adresse", "Acte", "Cible", "Résultat", "Détail"],
                    [[e.at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S"), e.actor_login,
                      e.address, e.action, e.target, "refusé" if e.outcome == "refused" else "ok",
                      detail_text(e.detail)[:100]] for e in entries])
    return 0
