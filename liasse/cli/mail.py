"""`liasse outbox list`: the mails waiting, sent or abandoned."""

from __future__ import annotations

import argparse
from zoneinfo import ZoneInfo

from sqlalchemy import select

from acl.events.models import OutboxMessage
from acl.rights import delegation
from acl.rights.audit import require
from liasse.cli.runtime import Runtime, parse_limit, print_table

PARIS = ZoneInfo("Europe/Paris")
STATUS = {"pending": "en attente", "sending": "en cours", "sent": "envoyé",
          "failed": "abandonné"}


def register(sub: argparse._SubParsersAction) -> None:
    outbox = sub.add_parser("outbox", help="file d'envoi des e-mails")
    osub = outbox.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = osub.add_parser("list", help="liste les e-mails (les plus récents d'abord)")
    lst.add_argument("--status", choices=sorted(STATUS), help="seulement cet état")
    lst.add_argument("--limit", type=parse_limit, default=100, metavar="NOMBRE")
    lst.set_defaults(handler=list_outbox)


def _when(value) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y %H:%M:%S") if value else "-"


def list_outbox(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        require(delegation.may_read_outbox(ctx.principal), action="outbox.read")
        stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(args.limit)
        if args.status:
            stmt = stmt.where(OutboxMessage.status == args.status)
        rows = [[str(m.id), _when(m.created_at), m.recipient, m.subject[:60],
                 STATUS.get(m.status, m.status), str(m.attempts),
                 _when(m.sent_at) if m.status == "sent" else _when(m.next_attempt_at),
                 m.last_error[:60]] for m in s.scalars(stmt)]
    print_table(["N°", "Créé le", "Destinataire", "Objet", "État", "Essais",
                 "Envoyé / prochain essai", "Dernière erreur"], rows)
    return 0
