"""`liasse sync` (and `python -m sync`): one run, or one every `--every`; a lock file so that
two runs on one folder never overlap (with `--every`, SIGTERM or Ctrl+C ends the loop once
the run in progress is complete); a progress bar on a terminal, one line otherwise; exit codes
for a scheduler: 0 all done, 1 done with errors (or the brake), 2 could not run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sync.engine import Run
from sync.report import Report, mail_report
from sync.settings import SyncSettings, SyncSettingsError, build

EXIT_OK, EXIT_ERRORS, EXIT_FAILED = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL", help="adresse de la plateforme "
                        "(https://liasse.cabinet.fr)")
    parser.add_argument("--user", metavar="IDENTIFIANT", help="compte de synchronisation")
    parser.add_argument("--local", metavar="DOSSIER", help="dossier local des clients")
    parser.add_argument("--settings", metavar="FICHIER", dest="sync_settings",
                        help="réglages TOML (section [sync]) ; les options l'emportent")
    parser.add_argument("--password-file", metavar="FICHIER",
                        help="fichier contenant le mot de passe (sinon $LIASSE_SYNC_PASSWORD, "
                             "sinon il est demandé)")
    parser.add_argument("--every", metavar="DURÉE",
                        help="relance à cet intervalle (10m, 1h, 30s) au lieu d'une seule fois")
    parser.add_argument("--force", action="store_true",
                        help="passe le frein : renomme « supp_ » même au-delà de la limite")
    parser.add_argument("--report-dir", metavar="DOSSIER",
                        help="dossier des comptes-rendus et du journal "
                             "(défaut : DOSSIER/.liasse-sync)")
    parser.add_argument("--ca-file", metavar="FICHIER",
                        help="autorité de certification du serveur (certificat auto-signé)")
    parser.add_argument("--quiet", action="store_true", help="aucune sortie (planificateur)")


def settings_from(args: argparse.Namespace) -> SyncSettings:
    return build(config=args.sync_settings, server=args.server, user=args.user,
                 local=args.local, password_file=args.password_file, every=args.every,
                 force=args.force, report_dir=args.report_dir, ca_file=args.ca_file,
                 quiet=args.quiet)


@contextmanager
def locked(work: Path) -> Iterator[bool]:
    """Whether this process holds the folder's lock (released by the system if killed)."""
    work.mkdir(parents=True, exist_ok=True)
    handle = (work / "lock").open("a+")
    try:
        try:
            if os.name == "nt":
                import msvcrt
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield True
    finally:
        handle.close()


def progress_bar(stream) -> Callable[[int, int, str], None]:
    def show(done: int, total: int, path: str) -> None:
        width = 30
        filled = width * done // max(total, 1)
        name = path if len(path) <= 40 else "…" + path[-39:]
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<40}")
        if done == total:
            stream.write("\n")
        stream.flush()

    return show


class StopRequest:
    """Set by a signal handler (a plain flag: an Event's lock is not safe to take there)."""

    def __init__(self) -> None:
        self.asked = False

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, in slices so that a stop is seen within 0.2 s; whether a
        stop was asked."""
        deadline = time.monotonic() + seconds
        while not self.asked and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(0.2, left))
        return self.asked


@contextmanager
def stop_requested() -> Iterator[StopRequest]:
    """With `--every`: SIGTERM (systemd's stop, `kill`) or a first Ctrl+C lets the run in
    progress finish, then the loop ends instead of sleeping; a second one interrupts at
    once. The previous handlers are put back on the way out."""
    stopping = StopRequest()

    def handle(signum, frame) -> None:
        if stopping.asked:
            raise KeyboardInterrupt
        stopping.asked = True
        if signum == signal.SIGINT:
            print("\nliasse sync : arrêt demandé ; la synchronisation en cours se termine "
                  "(Ctrl+C de nouveau pour l'interrompre).", file=sys.stderr, flush=True)

    names = [n for n in ("SIGTERM", "SIGINT", "SIGBREAK") if hasattr(signal, n)]
    previous = {n: signal.signal(getattr(signal, n), handle) for n in names}
    try:
        yield stopping
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


def run_once(settings: SyncSettings) -> Report:
    tty = sys.stderr.isatty() and not settings.quiet
    report = Run(settings, progress=progress_bar(sys.stderr) if tty else None).run()
    if settings.mail is not None:
        problem = mail_report(settings.mail, report)
        if problem:
            report.notes.append(problem)
    try:
        written = report.write(settings.report_dir)
    except OSError as exc:
        written = None
        print(f"liasse sync : compte-rendu impossible à écrire ({exc.strerror}).",
              file=sys.stderr)
    if not settings.quiet:
        outcome = {0: "terminée", 1: "terminée avec erreurs", 2: "échouée"}[report.exit_code]
        counts = {k: sum(len(getattr(c, k)) for c in report.companies.values())
                  for k in ("downloaded", "uploaded", "supp", "conflicts", "errors")}
        print(f"liasse sync : synchronisation {outcome} — {counts['downloaded']} téléchargé(s), "
              f"{counts['uploaded']} envoyé(s), {counts['supp']} renommé(s) supp_, "
              f"{counts['conflicts']} conflit(s), {counts['errors']} erreur(s)."
              + (f" Compte-rendu : {written}" if written else ""))
        if report.fatal:
            print(f"liasse sync : {report.fatal}", file=sys.stderr)
    return report


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except SyncSettingsError as exc:
        print(f"liasse sync : {exc}", file=sys.stderr)
        return EXIT_FAILED
    try:
        with locked(settings.work_dir) as mine:
            if not mine:
                print("liasse sync : une synchronisation de ce dossier est déjà en cours ; "
                      "celle-ci n'est pas lancée.", file=sys.stderr)
                return EXIT_FAILED
            if settings.every_seconds is None:
                return run_once(settings).exit_code
            with stop_requested() as stopping:
                while True:
                    report = run_once(settings)
                    if report.fatal and "connexion refusée" in report.fatal:
                        return report.exit_code  # a wrong password will not get better
                    if stopping.wait(settings.every_seconds):
                        if not settings.quiet:
                            print("liasse sync : arrêt demandé ; la dernière synchronisation "
                                  "est allée à son terme.", file=sys.stderr)
                        return report.exit_code
    except OSError as exc:
        print(f"liasse sync : dossier local inutilisable ({exc.strerror}).", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("liasse sync : interrompu.", file=sys.stderr)
        return 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_FAILED, f"{self.prog} : erreur : {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="liasse-sync", description="Synchronise les arborescences des "
                     "clients de la plateforme Liasse avec un dossier du cabinet.",
                     epilog="Codes de sortie : 0 fait, 1 fait avec erreurs, 2 impossible.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
