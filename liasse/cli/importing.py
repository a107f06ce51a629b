"""`liasse import`: companies (with their interlocuteur) and users from .xlsx or .csv."""

from __future__ import annotations

import argparse
import csv
import os
import stat
import sys
from contextlib import nullcontext
from pathlib import Path

from acl.errors import Refused, describe_os_error
from acl.people import bulk_import
from acl.rights.audit import admin_transaction, record
from liasse.cli.runtime import Runtime, print_table


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser(
        "import", help="importe entreprises et utilisateurs depuis un fichier .xlsx ou .csv",
        description="Tout ou rien : chaque ligne est d'abord vérifiée ; si une seule est en "
                    "erreur, rien n'est créé et toutes les erreurs sont listées avec leur "
                    "numéro de ligne. Avec [server] public_url, les comptes créés avec une "
                    "adresse e-mail reçoivent l'invitation du cabinet (un lien pour choisir "
                    "leur mot de passe) ; les mots de passe initiaux des autres sont "
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


class CredentialsFile:
    """The --credentials file, opened (or created, mode 600) before the import so that a path
    that cannot be written is refused while nothing is created yet; written after the commit.
    A file this command created is removed again if nothing was written to it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = False
        try:
            try:
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                self.created = True
            except FileExistsError:  # left as it is until the import succeeds
                self.fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # a FIFO: ENXIO
                self.created = False
        except OSError as exc:
            raise Refused(f"Impossible d'écrire les identifiants dans {path} : "
                          f"{describe_os_error(exc)} ; rien n'a été importé.") \
                from None
        try:
            if not stat.S_ISREG(os.fstat(self.fd).st_mode):
                raise Refused(f"Impossible d'écrire les identifiants dans {path} : ce n'est "
                              "pas un fichier ordinaire ; rien n'a été importé.")
            os.fchmod(self.fd, 0o600)
        except OSError as exc:
            self.__exit__()
            raise Refused(f"Impossible de protéger {path} (droits 600) : "
                          f"{describe_os_error(exc)} ; rien n'a été importé.") \
                from None
        except Refused:
            self.__exit__()
            raise

    def __enter__(self) -> CredentialsFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        os.close(self.fd)
        if self.created and not self.written:
            self.path.unlink(missing_ok=True)

    def write(self, credentials: list[tuple[str, str]]) -> None:
        os.ftruncate(self.fd, 0)
        with os.fdopen(os.dup(self.fd), "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=";")
            writer.writerow(["identifiant", "mot_de_passe_initial"])
            writer.writerows(credentials)
        self.written = True


def _write_template(path: Path, kind: str | None) -> int:
    """An empty import file, never over an existing one, in one of the two formats."""
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise Refused(f"Modèle : indiquez un fichier .xlsx ou .csv (pas « {path.name} »).")
    if path.exists() or path.is_symlink():
        raise Refused(f"{path} existe déjà : choisissez un autre nom ou supprimez-le.")
    sheet = bulk_import.USER_SHEET if kind == "utilisateurs" else bulk_import.COMPANY_SHEET
    try:
        bulk_import.write_template(path, sheet)
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise Refused(f"Impossible d'écrire {path} : {describe_os_error(exc)}.") from None
    print(f"Modèle écrit dans {path}.")
    return 0


def run_import(rt: Runtime, args: argparse.Namespace) -> int:
    if args.template:
        return _write_template(args.template, args.kind)
    if args.file is None:
        print("liasse import : indiquez un FICHIER à importer, ou --template FICHIER.",
              file=sys.stderr)
        return 2
    with rt.db.session() as s:
        ctx = rt.context(s)
    try:
        rows = bulk_import.read_file(args.file)
        with CredentialsFile(args.credentials) if args.credentials and not args.dry_run \
                else nullcontext() as credentials:
            with admin_transaction(rt.db, ctx) as s:
                # With the server's public address, accounts with an e-mail address get the
                # welcome mail (a link to choose a password) instead of a password here.
                public = rt.settings.server.public_url.rstrip("/")
                result = bulk_import.import_rows(s, ctx, rt.hasher, rt.settings.folders, rows,
                                                 source=args.file.name,
                                                 base_url=None if args.dry_run else public)
                if args.dry_run:
                    s.rollback()
            if args.dry_run:
                print(f"Vérification réussie : {len(result.companies)} entreprise(s) et "
                      f"{len(result.users)} utilisateur(s) seraient créés. Rien n'a été créé.")
                return 0
            print(f"Import réussi : {len(result.companies)} entreprise(s), "
                  f"{len(result.users)} utilisateur(s) créés.")
            if result.invited:
                where = "mise(s) dans la file d'envoi (aucun [smtp] host : elles attendent)" \
                    if not rt.settings.smtp.host else "envoyée(s)"
                print(f"Invitation(s) {where} : "
                      + ", ".join(f"{login} <{email}>" for login, email in result.invited)
                      + ".")
            if not result.credentials:
                return 0
            if credentials is None:
                _print_credentials(result.credentials)
                return 0
            return _hand_over(result.credentials, credentials)
    except bulk_import.ImportRefused as exc:
        with rt.db.transaction() as s:
            record(s, ctx, "import", args.file.name, outcome="refused",
                   detail={"erreurs": len(exc.errors)})
        print(f"liasse : {exc.reason}", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1


def _print_credentials(credentials: list[tuple[str, str]]) -> None:
    print_table(["Identifiant", "Mot de passe initial (à changer à la 1re connexion)"],
                [list(c) for c in credentials])


def _hand_over(credentials: list[tuple[str, str]], out: CredentialsFile) -> int:
    """Write the initial passwords into the file opened before the import; should that still
    fail (a full disk), print them: the accounts exist and nobody else knows them."""
    try:
        out.write(credentials)
    except OSError as exc:
        _print_credentials(credentials)
        print(f"liasse : écriture impossible dans {out.path} "
              f"({describe_os_error(exc)}) : les mots de passe initiaux sont "
              "affichés ci-dessus.", file=sys.stderr)
        return 1
    print(f"Identifiants et mots de passe initiaux écrits dans {out.path}.")
    return 0
