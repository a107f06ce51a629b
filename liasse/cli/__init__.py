"""The `liasse` command: parse, run one sub-command, translate domain errors to exit codes.

Exit codes: 0 done, 1 refused (rights, invalid data, settings, unreachable database),
2 usage error (with the usage printed). Never a traceback: unexpected errors are logged to
`<data>/liasse-errors.log` and summed up in one sentence.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from acl.errors import Refused, StorageUnavailable, describe_database_error
from config.settings import SettingsError
from liasse.cli import (
    audit,
    backup,
    companies,
    i18n,
    importing,
    mail,
    portfolios,
    setup,
    storage,
    sync,
    users,
)
from liasse.cli.runtime import Runtime, settings_path

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one sentence, then the usage, exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog} : erreur : {message}\n")


def build_parser() -> argparse.ArgumentParser:
    i18n.install()
    parser = Parser(
        prog="liasse",
        description="Liasse : plateforme documentaire du cabinet comptable et de ses clients.",
        epilog="Codes de sortie : 0 fait, 1 refusé, 2 erreur d'utilisation.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--data", metavar="DOSSIER",
                       help="dossier de données (réglages liasse.toml, base, documents) ; "
                            "défaut : $LIASSE_DATA ou ./liasse-data")
    where.add_argument("--config", metavar="FICHIER", help="fichier de réglages TOML")
    parser.add_argument("--as", dest="as_login", metavar="LOGIN",
                        help="agit au nom de ce compte (défaut : le correspondant) ; les "
                             "règles de délégation de ce compte s'appliquent")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE",
                                parser_class=Parser)
    for module in (setup, companies, users, portfolios, importing, storage, backup, mail,
                   audit, sync):
        module.register(sub)
    _french_placeholders(parser)
    return parser


# What the usage lines show for a value with no placeholder of its own (argparse shows the
# option's English name): options in capitals, positional arguments in lower case.
PLACEHOLDERS = {
    "action": "acte", "address": "adresse", "colour": "couleur", "company": "entreprise",
    "contact_email": "email", "contact_name": "nom", "contact_phone": "téléphone",
    "database_url": "url", "date": "date", "email": "email", "folder": "dossier",
    "host": "hôte", "legal_form": "forme", "level": "niveau", "login": "identifiant",
    "logo": "fichier", "name": "nom", "password": "mot_de_passe", "port": "port",
    "portfolio": "portefeuille", "role": "rôle", "siren": "siren", "vat_regime": "régime",
    "year_end": "mm-jj",
}


def _french_placeholders(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _french_placeholders(child)
        elif action.metavar is None and action.choices is None and action.nargs != 0 \
                and action.dest in PLACEHOLDERS:
            text = PLACEHOLDERS[action.dest]
            action.metavar = text.upper() if action.option_strings else text


def _log_unexpected(args: argparse.Namespace) -> Path:
    try:
        folder = settings_path(args).parent
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "liasse-errors.log"
        with log.open("a", encoding="utf-8") as out:
            out.write(f"--- {datetime.now(UTC).isoformat()} liasse {args.command}\n")
            out.write(traceback.format_exc())
        return log
    except OSError:
        return Path("(journal impossible à écrire)")


def _unreadable(argv: list[str]) -> str | None:
    """The first argument that is not UTF-8 text (Python hands such bytes over as lone
    surrogates, which no text column, file name or password can hold), shown readably."""
    for arg in argv:
        if any("\udc80" <= c <= "\udcff" for c in arg):
            return arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return None


def _quiet_stdout() -> None:
    """After a closed pipe, send what is left of stdout nowhere: Python would otherwise
    print a second BrokenPipeError while flushing at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (captured in tests)
        pass


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    unreadable = _unreadable(argv)
    if unreadable is not None:
        parser.error(f"argument illisible « {unreadable} » : les arguments doivent être du "
                     "texte UTF-8")
    args = parser.parse_args(argv)
    try:
        if getattr(args, "needs_runtime", True):
            rt = Runtime.open(args)
            try:
                code = args.handler(rt, args)
            finally:
                rt.close()
        else:
            code = args.handler(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except Refused as exc:
        print(f"liasse : {exc.reason}", file=sys.stderr)
        return EXIT_REFUSED
    except SettingsError as exc:
        print(f"liasse : {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except StorageUnavailable as exc:  # logged where it was met (acl.documents.s3store)
        print(f"liasse : {exc.reason.replace('réessayez dans un instant', 'relancez la commande')}",
              file=sys.stderr)
        return EXIT_REFUSED
    except IntegrityError:  # PostgreSQL: a concurrent command took the same login / SIREN
        print("liasse : conflit avec une opération simultanée (un identifiant, un SIREN ou un "
              "nom vient d'être pris) ; rien n'a été enregistré, relancez la commande.",
              file=sys.stderr)
        return EXIT_REFUSED
    except OperationalError as exc:
        print(f"liasse : base de données inaccessible : {describe_database_error(exc.orig)}.",
              file=sys.stderr)
        return EXIT_REFUSED
    except DatabaseError as exc:  # not a database, or a damaged one
        print(f"liasse : la base de données est illisible : fichier endommagé ou qui n'est pas "
              f"une base Liasse ({exc.orig}).", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("liasse : interrompu.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `liasse audit | head`: the reader has what it wanted
        _quiet_stdout()
        return 0
    except Exception:
        log = _log_unexpected(args)
        print(f"liasse : erreur inattendue ; le détail est consigné dans {log}.",
              file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
