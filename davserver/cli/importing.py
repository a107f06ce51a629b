"""`liasse import`: companies (with their interlocuteur) and users from .xlsx or .csv."""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

from acl import bulk_import
from acl.audit import admin_transaction, record
from davserver.cli.runtime import Runtime, print_table


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "import", help="importe entreprises et utilisateurs depuis un fichier .xlsx ou .csv",
        description="Tout ou rien : chaque ligne est d'abord vérifiée ; si une seule est en "
                    "erreur, rien n'est créé et toutes les erreurs sont listées avec leur "
                    "numéro de ligne. Les mots de passe initiaux des comptes créés sont "
                    "affichés (ou écrits avec --credentials).")
    cmd.add_argument("file", nargs="?", type=Path, metavar="FICHIER")
    cmd.add_argument("--template", type=Path, metavar="FICHIER",
                     help="écrit un modèle vide (.xlsx avec les deux feuilles, ou .csv)")
    cmd.add_argument("--kind", choices=["entreprises", "utilisateurs"], default="entreprises",
                     help="table du modèle .csv (défaut : entreprises)")
    cmd.add_argument("--dry-run", action="store_true", help="vérifie sans rien créer")
    cmd.add_argument("--credentials", type=Path, metavar="FICHIER.csv",
                     help="écrit identifiants et mots de passe initiaux dans ce fichier "
                          "(droits 600) au lieu de les afficher")
    cmd.set_defaults(handler=run_import)


def run_import(rt: Runtime, args: argparse.Namespace) -> int:
    if args.template:
        sheet = bulk_import.USER_SHEET if args.kind == "utilisateurs" \
            else bulk_import.COMPANY_SHEET
        bulk_import.write_template(args.template, sheet)
        print(f"Modèle écrit dans {args.template}.")
        return 0
    if args.file is None:
        print("liasse import : indiquez un FICHIER à importer, ou --template FICHIER.")
        return 2
    rows = bulk_import.read_file(args.file)
    with rt.db.session() as s:
        ctx = rt.context(s)
    try:
        with admin_transaction(rt.db, ctx) as s:
            result = bulk_import.import_rows(s, ctx, rt.hasher, rt.settings.folders, rows,
                                             source=args.file.name)
            if args.dry_run:
                s.rollback()
    except bulk_import.ImportRefused as exc:
        with rt.db.transaction() as s:
            record(s, ctx, "import", args.file.name, outcome="refused",
                   detail={"erreurs": len(exc.errors)})
        print(exc.reason)
        for error in exc.errors:
            print(f"  {error}")
        return 1
    if args.dry_run:
        print(f"Vérification réussie : {len(result.companies)} entreprise(s) et "
              f"{len(result.users)} utilisateur(s) seraient créés. Rien n'a été créé.")
        return 0
    print(f"Import réussi : {len(result.companies)} entreprise(s), {len(result.users)} "
          "utilisateur(s) créés.")
    if args.credentials:
        fd = os.open(args.credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=";")
            writer.writerow(["identifiant", "mot_de_passe_initial"])
            writer.writerows(result.credentials)
        print(f"Identifiants et mots de passe initiaux écrits dans {args.credentials}.")
    else:
        print_table(["Identifiant", "Mot de passe initial (à changer à la 1re connexion)"],
                    [list(c) for c in result.credentials])
    return 0
