"""`liasse sync`: the firm's sync tool (the `sync` package), as a sub-command of `liasse`.

It needs no settings of the server nor its database: it is a client of the platform over
HTTP(S), the same as `python -m sync` on a firm's file server.
"""

from __future__ import annotations

import argparse

from sync import cli


def register(sub: argparse._SubParsersAction) -> None:
    command = sub.add_parser(
        "sync", help="synchronise les dossiers des clients avec un dossier du cabinet",
        description="Recopie chaque entreprise que le compte atteint dans DOSSIER/<Entreprise>"
                    "/..., envoie les documents locaux absents en ligne, renomme « supp_ » "
                    "ceux supprimés en ligne.",
        epilog="Codes de sortie : 0 fait, 1 fait avec erreurs, 2 impossible.")
    cli.add_arguments(command)
    command.set_defaults(handler=cli.run, needs_runtime=False)
