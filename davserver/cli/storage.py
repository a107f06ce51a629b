"""`liasse trash list|restore|purge` and `liasse fsck`."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from acl import documents, integrity
from acl.companies import find_company, visible_companies
from acl.db import utcnow
from acl.errors import NotFound, Refused
from acl.models import Node, User
from acl.policy import Action, authorize
from davserver.cli.runtime import Runtime, print_table

PARIS = ZoneInfo("Europe/Paris")


def register(sub: argparse._SubParsersAction) -> None:
    trash = sub.add_parser("trash", help="corbeille des documents supprimés",
                           description="Les documents supprimés restent dans la corbeille "
                                       "le nombre de jours du réglage [storage] trash_days.")
    tsub = trash.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = tsub.add_parser("list", help="liste la corbeille")
    lst.add_argument("--company", help="seulement cette entreprise (SIREN ou nom)")
    lst.set_defaults(handler=list_trash)
    restore = tsub.add_parser("restore", help="remet un élément de la corbeille à sa place")
    restore.add_argument("ids", nargs="+", type=int, metavar="NUMÉRO",
                         help="numéro donné par « liasse trash list »")
    restore.set_defaults(handler=restore_trash)
    purge = tsub.add_parser("purge", help="oublie les éléments plus vieux que trash_days")
    purge.set_defaults(handler=purge_trash)

    fsck = sub.add_parser("fsck", help="vérifie les documents stockés contre la base",
                          description="Signale les contenus manquants, orphelins ou altérés. "
                                      "Code de sortie 1 si un contenu manque ou est altéré.")
    fsck.add_argument("--quick", action="store_true",
                      help="ne relit pas les contenus (pas de contrôle d'empreinte)")
    fsck.set_defaults(handler=run_fsck)


def list_trash(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        companies = [find_company(s, ctx.principal, args.company)] if args.company \
            else visible_companies(s, ctx.principal)
        logins = dict(s.execute(select(User.id, User.login)).all())
        rows = []
        for company in companies:
            for node in documents.trashed(s, company.id):
                location = documents.location_of(s, node)
                if not authorize(ctx.principal, Action.READ, location.resource()):
                    continue
                rows.append([str(node.id), location.path,
                             node.deleted_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
                             logins.get(node.deleted_by_id, "-")])
        print_table(["Numéro", "Élément", "Supprimé le", "Par"], rows)
    return 0


def restore_trash(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
    for node_id in args.ids:
        with rt.db.transaction() as s:
            node = s.get(Node, node_id)
            if node is None or node.deleted_at is None:
                raise NotFound(f"Aucun élément n°{node_id} dans la corbeille.")
            location = documents.location_of(s, node)
            parent = documents.Location(location.company, location.nodes[:-1])
            if not authorize(ctx.principal, Action.READ, location.resource()):
                raise NotFound(f"Aucun élément n°{node_id} dans la corbeille.")
            decision = authorize(ctx.principal, Action.WRITE,
                                 parent.resource(for_new_child=True))
            if not decision:
                raise Refused(decision.reason)
            restored = documents.restore(s, node, ctx.principal.user_id)
            print(f"Restauré : {parent.path}/{restored.name}")
    return 0


def purge_trash(rt: Runtime, args: argparse.Namespace) -> int:
    cutoff = utcnow() - timedelta(days=rt.settings.storage.trash_days)
    with rt.db.transaction() as s:
        count = documents.purge_before(s, cutoff)
    print(f"{count} élément(s) de plus de {rt.settings.storage.trash_days} jours oublié(s) ; "
          "« liasse fsck » signale les contenus devenus orphelins.")
    return 0


def run_fsck(rt: Runtime, args: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 200 == 0 or done == total):
            print(f"\r{done}/{total} contenus vérifiés", end="", file=sys.stderr, flush=True)

    with rt.db.session() as s:
        report = integrity.check(s, rt.blobs, verify_content=not args.quick, progress=progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"{report.checked} contenu(s) vérifié(s).")
    for title, items in (("Contenus manquants", report.missing),
                         ("Contenus altérés (empreinte différente)", report.mismatched),
                         ("Contenus orphelins (aucun document ne les utilise)", report.orphans),
                         ("Envois interrompus (fichiers temporaires)", report.temporary)):
        if items:
            print(f"{title} : {len(items)}")
            for item in items[:50]:
                print(f"  {item}")
            if len(items) > 50:
                print(f"  ... et {len(items) - 50} autre(s)")
    print("Aucun problème." if report.ok and not report.orphans else
          "Intégrité : OK (orphelins sans gravité)." if report.ok else
          "Intégrité : PROBLÈMES TROUVÉS.")
    return 0 if report.ok else 1
