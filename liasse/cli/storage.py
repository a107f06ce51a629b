"""`liasse document move|copy`, `liasse lock list|break`, `liasse trash list|restore|purge`,
`liasse fsck` and `liasse storage migrate`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from acl.db import utcnow
from acl.documents import browsing, integrity, locks, migration, operations, store
from acl.documents.blobs import FolderStore
from acl.documents.s3store import S3Store
from acl.errors import NotFound, Refused
from acl.people.cabinet import adopt_logo_file
from acl.people.companies import find_company, visible_companies
from acl.people.models import User
from acl.rights import delegation
from acl.rights.audit import record, require
from liasse.cli.runtime import Runtime, parse_number, print_table

PARIS = ZoneInfo("Europe/Paris")


def register(sub: argparse._SubParsersAction) -> None:
    document = sub.add_parser(
        "document", help="déplace ou copie un document ou un dossier",
        description="Les chemins sont ceux du lecteur réseau, dossier de l'entreprise en "
                    "premier (« Boulangerie Martin/Achats/facture.pdf »). Les droits du compte "
                    "qui agit (--as) s'appliquent, comme sur le lecteur et dans le navigateur ; "
                    "un document ne passe pas d'une entreprise à une autre.")
    dsub = document.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, verb, handler in (("move", "déplace", move_document),
                                ("copy", "copie", copy_document)):
        action = dsub.add_parser(name, help=f"{verb} SOURCE dans le dossier DESTINATION")
        action.add_argument("source", metavar="SOURCE", help="chemin du document ou dossier")
        action.add_argument("destination", metavar="DESTINATION", help="chemin du dossier")
        action.add_argument("--name", metavar="NOM", help="nouveau nom (défaut : le même)")
        action.set_defaults(handler=handler)

    lock = sub.add_parser("lock", help="verrous WebDAV des documents",
                          description="Un logiciel qui ouvre un document sur le lecteur le "
                                      "verrouille ; s'il s'arrête sans le rendre, le verrou "
                                      "dure jusqu'à son expiration ([drive] lock_max_seconds). "
                                      "Le correspondant et les associés peuvent le lever.")
    lsub = lock.add_subparsers(dest="action", required=True, metavar="ACTION")
    lsub.add_parser("list", help="liste les verrous").set_defaults(handler=list_locks)
    lift = lsub.add_parser("break", help="lève un verrou")
    lift.add_argument("target", metavar="CHEMIN",
                      help="chemin verrouillé, tel que « liasse lock list » l'affiche")
    lift.set_defaults(handler=break_lock)

    trash = sub.add_parser("trash", help="corbeille des documents supprimés",
                           description="Les documents supprimés restent dans la corbeille "
                                       "le nombre de jours du réglage [storage] trash_days.")
    tsub = trash.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = tsub.add_parser("list", help="liste la corbeille")
    lst.add_argument("--company", help="seulement cette entreprise (SIREN ou nom)")
    lst.set_defaults(handler=list_trash)
    restore = tsub.add_parser("restore", help="remet un élément de la corbeille à sa place")
    restore.add_argument("ids", nargs="+", type=parse_number, metavar="NUMÉRO",
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

    storage = sub.add_parser("storage", help="stockage des contenus des documents",
                             description="Les contenus sont dans le dossier blobs/ des données "
                                         "ou dans un compartiment S3 ([storage] backend).")
    ssub = storage.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = ssub.add_parser(
        "migrate", help="copie les contenus du dossier local vers le compartiment S3",
        description="Copie chaque contenu du dossier blobs/ vers le compartiment S3 des "
                    "réglages (s3_endpoint, s3_bucket), le relit et vérifie son empreinte. "
                    "Reprend où une exécution interrompue s'est arrêtée. Arrêtez le serveur "
                    "avant, passez backend = \"s3\" après. Le dossier local est laissé tel "
                    "quel.")
    migrate.set_defaults(handler=migrate_storage)


def move_document(rt: Runtime, args: argparse.Namespace) -> int:
    return _transfer(rt, args, operations.move, "Déplacé")


def copy_document(rt: Runtime, args: argparse.Namespace) -> int:
    """One document, or one folder with everything below it."""
    return _transfer(rt, args, _copy_tree, "Copié")


def _copy_tree(tx, principal, source, destination, name):
    copied = operations.copy(tx, principal, source, destination, name)
    pending = [(source, copied)]
    while pending:  # a folder's members, level by level (any depth, no recursion)
        folder, into = pending.pop()
        if folder.node.kind == "file":
            continue
        for member in browsing.listing(tx, principal, folder):
            pending.append((member, operations.copy(tx, principal, member, into,
                                                    member.node.name)))
    return copied


def _transfer(rt: Runtime, args: argparse.Namespace, act, done: str) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
    with rt.db.transaction() as tx:
        source = browsing.open_drive_path(tx, ctx.principal, args.source)
        destination = browsing.open_drive_path(tx, ctx.principal, args.destination)
        result = act(tx, ctx.principal, source, destination, args.name or source.node.name)
        path = result.path
    print(f"{done} : {source.path} → {path}")
    return 0


def list_locks(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        rows = [[info.path, info.principal,
                 "exclusif" if info.scope == "exclusive" else "partagé",
                 "dossier et contenu" if info.depth == "infinity" else "lui seul",
                 datetime.fromtimestamp(info.expire, PARIS).strftime("%d/%m/%Y %H:%M")]
                for info, _ in locks.visible(s, ctx.principal)]
    print_table(["Chemin", "Par", "Portée", "Profondeur", "Expire le"], rows)
    return 0


def break_lock(rt: Runtime, args: argparse.Namespace) -> int:
    """Every lock on that path (a shared lock may have several holders)."""
    target = args.target.strip().strip("/")
    with rt.admin() as (s, ctx):
        found = [info for info, _ in locks.visible(s, ctx.principal) if info.path == target]
        if not found:
            raise NotFound(f"Aucun verrou sur « {target} ».")
        for info in found:
            locks.break_lock(s, ctx, info.token)
    for info in found:
        print(f"Verrou de {info.principal} levé : {info.path}")
    return 0


def list_trash(rt: Runtime, args: argparse.Namespace) -> int:
    """What the web app's trash shows: the items the user may read and put back."""
    with rt.db.session() as s:
        ctx = rt.context(s)
        companies = [find_company(s, ctx.principal, args.company)] if args.company \
            else visible_companies(s, ctx.principal)
        logins = dict(s.execute(select(User.id, User.login)).all())
        rows = [[str(location.node.id), location.path,
                 location.node.deleted_at.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
                 logins.get(location.node.deleted_by_id, "-")]
                for company in companies
                for location in browsing.trash_entries(s, ctx.principal, company)]
        print_table(["Numéro", "Élément", "Supprimé le", "Par"], rows)
    return 0


def restore_trash(rt: Runtime, args: argparse.Namespace) -> int:
    """All the numbers given, or none (in one transaction; each number once)."""
    with rt.db.session() as s:
        ctx = rt.context(s)
    paths = []
    with rt.db.transaction() as s:
        for node_id in dict.fromkeys(args.ids):
            try:
                paths.append(operations.restore(s, ctx.principal, node_id).path)
            except NotFound:
                raise NotFound(f"Aucun élément n°{node_id} dans la corbeille ; rien n'a été "
                               "restauré.") from None
    for path in paths:
        print(f"Restauré : {path}")
    return 0


def purge_trash(rt: Runtime, args: argparse.Namespace) -> int:
    cutoff = utcnow() - timedelta(days=rt.settings.storage.trash_days)
    with rt.admin() as (s, ctx):
        require(delegation.may_maintain_storage(ctx.principal), action="trash.purge")
        count = store.purge_before(s, cutoff)
        record(s, ctx, "trash.purge", detail={"forgotten": count,
                                              "days": rt.settings.storage.trash_days})
    print(f"{count} élément(s) de plus de {rt.settings.storage.trash_days} jours oublié(s) ; "
          "« liasse fsck » signale les contenus devenus orphelins.")
    return 0


def migrate_storage(rt: Runtime, args: argparse.Namespace) -> int:
    storage = rt.settings.storage
    for key in ("s3_endpoint", "s3_bucket"):
        if not getattr(storage, key):
            raise Refused(f"{rt.settings.source}, section [storage], clé « {key} » : à "
                          "renseigner avant « liasse storage migrate ».")
    with rt.admin() as (s, ctx):
        require(delegation.may_maintain_storage(ctx.principal), action="storage.migrate")
    source = FolderStore(rt.settings.data_dir / "blobs")
    target = S3Store.from_settings(storage, where=f"{rt.settings.source}, section [storage]")

    def progress(done: migration.Migration, sha: str) -> None:
        handled = done.copied + done.skipped
        if handled % 100 == 0 or handled == done.total:
            print(f"{handled}/{done.total} contenus ({done.copied} copié(s), "
                  f"{done.skipped} déjà présent(s))", flush=True)

    done = migration.migrate(source, target, progress)
    with rt.admin() as (s, ctx):
        record(s, ctx, "storage.migrate", detail={"copied": done.copied,
                                                  "skipped": done.skipped})
    print(f"Migration terminée : {done.copied} contenu(s) copié(s) et vérifié(s) "
          f"({done.bytes_copied / 2**20:.1f} Mio), {done.skipped} déjà présent(s). "
          "Passez backend = \"s3\" dans les réglages, puis redémarrez le serveur.")
    return 0


def run_fsck(rt: Runtime, args: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty() and (done % 200 == 0 or done == total):
            print(f"\r{done}/{total} contenus vérifiés", end="", file=sys.stderr, flush=True)

    with rt.admin() as (s, ctx):  # a refusal is audited, as for a purge
        require(delegation.may_maintain_storage(ctx.principal), action="fsck")
        adopt_logo_file(s, rt.blobs)  # a logo stored as a path, from before: copied in
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
    harmless = [kind for kind, items in (("orphelins", report.orphans),
                                         ("envois interrompus", report.temporary)) if items]
    print("Intégrité : PROBLÈMES TROUVÉS." if not report.ok else
          f"Intégrité : OK ({' et '.join(harmless)} sans gravité)." if harmless else
          "Aucun problème.")
    return 0 if report.ok else 1
