"""`liasse backup DESTINATION` and `liasse restore SOURCE` (acl.backup does the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from acl.backup import restore, snapshots
from acl.backup.manifest import SETTINGS_COPY, SNAPSHOTS
from acl.db import Database, make_engine
from acl.errors import Refused
from acl.people.cabinet import adopt_logo_file
from acl.rights import delegation
from acl.rights.audit import record, require
from config.settings import load_settings
from liasse.cli.runtime import Runtime, blob_store, settings_path
from liasse.cli.setup import Undo

STAGES = {"tables": "Tables sauvegardées", "bodies": "Contenus", "check": "Tables vérifiées",
          "verify": "Contenus relus", "rows": "Tables restaurées"}


def register(sub: argparse._SubParsersAction) -> None:
    backup = sub.add_parser(
        "backup", help="sauvegarde la base et les documents dans un dossier",
        description="Écrit dans DESTINATION/snapshots/ une image datée de toute la base (lue "
                    "en une seule transaction, le serveur peut tourner) et copie dans "
                    "DESTINATION/blobs/ les contenus qu'elle nomme ; une sauvegarde suivante "
                    "dans le même dossier ne copie que les nouveaux contenus. Les images "
                    "précédentes sont gardées : supprimez les dossiers de snapshots/ dont "
                    "vous ne voulez plus.",
        epilog="Code de sortie 1 si un contenu manque ou est altéré dans le stockage de "
               "l'installation (la sauvegarde est faite sans lui ; voir « liasse fsck »).")
    backup.add_argument("destination", metavar="DESTINATION",
                        help="dossier de sauvegarde (créé au besoin)")
    backup.set_defaults(handler=backup_command)

    rest = sub.add_parser(
        "restore", help="restaure une sauvegarde dans une installation neuve",
        description="Restaure la base et les documents d'une sauvegarde dans l'installation "
                    "désignée par --data ou --config, dont la base doit être vide (SQLite : "
                    "le fichier est créé ; PostgreSQL : une base créée vide). Tout est "
                    "vérifié avant d'écrire : une sauvegarde incomplète ou altérée est "
                    "refusée et rien n'est écrit dans la base. Une sauvegarde SQLite se "
                    "restaure dans PostgreSQL.")
    rest.add_argument("source", metavar="SOURCE", help="dossier de sauvegarde")
    rest.add_argument("--snapshot", metavar="NOM",
                      help="image à restaurer, nom d'un dossier de SOURCE/snapshots/ "
                           "(défaut : la plus récente)")
    rest.add_argument("--check", action="store_true",
                      help="vérifie seulement la sauvegarde (fichiers, lignes, empreintes de "
                           "tous les contenus), sans rien restaurer")
    rest.set_defaults(handler=restore_command, needs_runtime=False)


def _progress(stage: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        end = "\n" if done == total else ""
        print(f"\r{STAGES.get(stage, stage)} : {done}/{total}", end=end, file=sys.stderr,
              flush=True)


def _size(n: int) -> str:
    for unit in ("octets", "Kio", "Mio", "Gio"):
        if n < 1024 or unit == "Gio":
            return f"{n} {unit}" if unit == "octets" else f"{n:.1f} {unit}".replace(".", ",")
        n /= 1024
    return str(n)


def backup_command(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):  # a refusal is audited, as for fsck
        require(delegation.may_maintain_storage(ctx.principal), action="backup")
        adopt_logo_file(s, rt.blobs)  # a logo stored as a path, from before: copied in
    taken = snapshots.take(rt.db.engine, rt.blobs, Path(args.destination),
                           settings_file=rt.settings.source, progress=_progress)
    m = taken.manifest
    rows = sum(t.rows for t in m.tables)
    with rt.admin() as (s, ctx):
        record(s, ctx, "backup", str(taken.folder),
               detail={"tables": len(m.tables), "rows": rows, "bodies": m.bodies,
                       "copied": taken.copied, "unavailable": len(m.unavailable)})
    print(f"Sauvegarde {m.name} écrite dans {taken.folder} : {len(m.tables)} tables, "
          f"{rows} lignes, {m.bodies} contenus ({_size(m.bodies_bytes)}), dont "
          f"{taken.copied} copiés cette fois ({_size(taken.copied_bytes)}).")
    if m.unavailable:
        print(f"liasse : {len(m.unavailable)} contenu(s) nommé(s) par la base manquent ou sont "
              "altérés dans le stockage de l'installation : la sauvegarde est faite sans eux "
              "(lancez « liasse fsck »).", file=sys.stderr)
        return 1
    return 0


def restore_command(args: argparse.Namespace) -> int:
    source = Path(args.source)
    if args.check:
        checked = restore.check(source, args.snapshot, progress=_progress)
        restore.verify_bodies(source, checked, progress=_progress)
        m = checked.manifest
        print(f"Sauvegarde {m.name} intègre : {len(m.tables)} tables, "
              f"{sum(t.rows for t in m.tables)} lignes, {m.bodies} contenus "
              f"({_size(m.bodies_bytes)}) ; Liasse {m.liasse_version}, schéma {m.revision}.")
        return 0
    path = settings_path(args)
    if not path.is_file():
        raise Refused(
            f"Aucun réglage {path} : écrivez-le d'abord (par exemple une copie de "
            f"{source / SNAPSHOTS / '<NOM>' / SETTINGS_COPY}, la section [database] adaptée "
            "à la nouvelle base), puis relancez la restauration.")
    settings = load_settings(path)
    undo = Undo()
    undo.database(settings)  # a SQLite file made here is removed again on a refusal
    engine = make_engine(settings.database.url, password=settings.database.password,
                         busy_timeout_ms=settings.database.busy_timeout_ms, create=True)
    try:
        result = restore.restore(engine, blob_store(settings), source, args.snapshot,
                                 progress=_progress)
        rt = Runtime(settings, Database(engine))
        m = result.checked.manifest
        with rt.admin() as (s, ctx):
            record(s, ctx, "restore", m.name,
                   detail={"rows": result.rows, "bodies": m.bodies, "revision": m.revision,
                           "from": m.database})
    except BaseException:
        engine.dispose()
        undo.rollback()
        raise
    engine.dispose()
    print(f"Sauvegarde {m.name} restaurée (prise le {m.created_at[:19].replace('T', ' ')} "
          f"UTC, Liasse {m.liasse_version}, base {m.database}) : {result.rows} lignes, "
          f"{m.bodies} contenus dont {result.copied} copiés.")
    if m.unavailable:
        print(f"Attention : {len(m.unavailable)} contenu(s) manquaient déjà à l'installation "
              "sauvegardée ; « liasse fsck » les nomme.")
    print(f"Démarrez le serveur avec : liasse --config {path} serve")
    return 0
