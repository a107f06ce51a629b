"""`liasse init`, `liasse serve`, `liasse demo`, `liasse cert`."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import secrets
import shutil
import signal
import sys
import unicodedata
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from acl.db import Database, make_engine, upgrade_schema
from acl.documents.blobs import flush_blobs
from acl.documents.integrity import recover_recent
from acl.errors import Refused, describe_database_error, describe_os_error
from acl.people.accounts import check_display_name, check_email, check_login
from acl.people.cabinet import adopt_logo_file, clean_cabinet_fields, get_cabinet
from acl.people.install import install, is_installed
from acl.rights.passwords import check_password
from config.numbers import PORTS
from config.settings import (
    DEFAULT_TREE,
    MAX_WORKERS,
    SETTINGS_FILENAME,
    Settings,
    SettingsError,
    check_database_url,
    load_settings,
    parse_settings,
)
from liasse import demo, prefork
from liasse.certs import check_host, check_hosts, make_self_signed
from liasse.cli.runtime import (
    DEFAULT_DATA_DIR,
    Runtime,
    open_database,
    read_password,
    settings_path,
)
from liasse.server import (
    WORKER_HEADER_VARIABLE,
    Endpoint,
    LiasseServer,
    build_application,
    with_worker_header,
)
from liasse.worker import Worker

DEMO_DATA_DIR = "liasse-demo"
DEMO_PASSWORD_FILE = "demo-password.txt"


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="crée le dossier de données, les réglages, la base et "
                                       "le compte du correspondant")
    init.add_argument("--cabinet", required=True, metavar="NOM", help="nom du cabinet")
    init.add_argument("--cabinet-siren", default="", metavar="SIREN")
    init.add_argument("--login", default="expert", help="identifiant du correspondant")
    init.add_argument("--name", default="Correspondant", help="nom affiché du correspondant")
    init.add_argument("--email")
    init.add_argument("--password-stdin", action="store_true",
                      help="lit le mot de passe du correspondant sur l'entrée standard "
                           "(sinon un mot de passe initial est généré)")
    init.add_argument("--folders", metavar="A,B,...",
                      help="arborescence standard des entreprises, séparée par des virgules "
                           f"(défaut : {', '.join(DEFAULT_TREE)})")
    init.add_argument("--database-url", help="base PostgreSQL (défaut : SQLite dans le "
                                             "dossier de données)")
    init.set_defaults(handler=init_command, needs_runtime=False)
    _data_option(init)

    serve = sub.add_parser("serve", help="démarre le serveur (web, lecteur réseau, flux)")
    serve.add_argument("--host", help="adresse d'écoute (défaut : réglage [server] host)")
    serve.add_argument("--port", type=int, help="port (0 : un port libre)")
    serve.add_argument("--workers", type=int, metavar="NOMBRE",
                       help=f"processus serveurs, de 1 à {MAX_WORKERS} (défaut : réglage "
                            "[server] workers, sinon autant que de cœurs)")
    serve.set_defaults(handler=serve_command, needs_runtime=False)
    _data_option(serve)

    demo = sub.add_parser("demo", help="démarre une plateforme de démonstration",
                          description="Crée le dossier de démonstration s'il n'existe pas, "
                                      "puis le sert (HTTP sur 127.0.0.1 par défaut).")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080, help="port (0 : un port libre)")
    demo.add_argument("--password", help="mot de passe de tous les comptes de démonstration "
                                         "(sinon un mot de passe est généré et affiché)")
    demo.add_argument("--tls", action="store_true",
                      help="HTTPS avec un certificat auto-signé généré")
    demo.add_argument("--smtp", metavar="HÔTE:PORT", type=_smtp_address,
                      help="envoie les alertes de dépôt à ce serveur SMTP (sans TLS ni "
                           "authentification, pour un serveur de test local)")
    demo.set_defaults(handler=demo_command, needs_runtime=False)
    _data_option(demo, default_text=f"./{DEMO_DATA_DIR}")

    cert = sub.add_parser("cert", help="crée un certificat auto-signé pour un essai en réseau "
                                       "local")
    cert.add_argument("hosts", nargs="+", metavar="HÔTE",
                      help="noms et adresses IP par lesquels le serveur sera joint")
    cert.add_argument("--out", default=None, metavar="DOSSIER",
                      help="dossier où écrire liasse.crt et liasse.key (défaut : "
                           "<données>/tls)")
    cert.set_defaults(handler=cert_command, needs_runtime=False)
    _data_option(cert)


def _smtp_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"adresse SMTP invalide « {text} » (HÔTE:PORT)")
    return host, int(port)


def _data_option(parser: argparse.ArgumentParser, default_text: str = "./liasse-data") -> None:
    # Also accepted after the command (`liasse demo --data DIR`); SUPPRESS keeps a global
    # `liasse --data DIR demo` from being overwritten by this option's absence.
    parser.add_argument("--data", default=argparse.SUPPRESS, metavar="DOSSIER",
                        help=f"dossier de données (défaut : {default_text})")


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                 "\f": "\\f", "\r": "\\r"}


def _toml_string(value: str) -> str:
    """`value` as a TOML basic string: quote, backslash and control characters escaped
    (toml.io/en/v1.0.0#string), so that no value can end the string or add a line."""
    out = []
    for char in value:
        if char in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[char])
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04X}")
        elif "\ud800" <= char <= "\udfff":  # not text: TOML (UTF-8) cannot hold it
            raise Refused(f"Valeur illisible pour les réglages : {value!a} n'est pas du texte.")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _settings_text(*, folders: list[str], database_url: str, host: str, port: int,
                   plain_http: bool) -> str:
    tree = ", ".join(_toml_string(f) for f in folders)
    lines = [
        "# Réglages de Liasse. Toutes les clés, leur rôle et leur valeur par défaut :",
        "# config/defaults/example.toml dans les sources de Liasse.",
        "",
        "[server]",
        f"host = {_toml_string(host)}",
        f"port = {int(port)}",
        f"allow_plain_http = {'true' if plain_http else 'false'}",
        "",
        "[security]",
        f"session_secret = {_toml_string(secrets.token_urlsafe(32))}",
        "",
        "[folders]",
        f"tree = [{tree}]",
    ]
    if database_url:
        lines[lines.index("[security]"):lines.index("[security]")] = [
            "[database]", f"url = {_toml_string(database_url)}", ""]
    return "\n".join(lines) + "\n"


def _checked_settings(text: str, path: Path, *, folders: list[str], database_url: str,
                      host: str, port: int) -> Settings:
    """The settings `text` holds once written at `path`: validated (`SettingsError`), and
    read back to the very values it was made from."""
    settings = parse_settings(text, path.absolute())
    tree = tuple(unicodedata.normalize("NFC", f) for f in folders)
    if (settings.folders.tree != tree or settings.server.host != host
            or settings.server.port != port
            or (database_url and settings.database.url != database_url)):
        raise Refused(f"Les réglages ne peuvent pas être écrits tels quels dans {path}.")
    return settings


def _check_folder(folder: Path) -> None:
    """Refuse a folder that is a file, or that would have to be made under a file."""
    try:
        for candidate in (folder, *folder.parents):
            if candidate.is_dir():
                return
            if candidate.exists() or candidate.is_symlink():
                raise Refused(f"{candidate} n'est pas un dossier.")
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte
        raise Refused(f"Dossier inutilisable : {folder} ({exc}).") from None


class Undo:
    """What a setup command creates, removed again if the command fails: a refused command
    leaves nothing behind (no half-made data folder, settings or database)."""

    def __init__(self) -> None:
        self._paths: list[Path] = []

    def mkdir(self, folder: Path) -> None:
        _check_folder(folder)
        missing = [p for p in (folder, *folder.parents) if not p.is_dir()]
        if missing:
            self._paths.append(missing[-1])  # the topmost folder made here: all of it is ours
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Refused(f"Impossible de créer le dossier {folder} : "
                          f"{describe_os_error(exc)}.") from None

    def created(self, path: Path) -> None:
        self._paths.append(path)

    def database(self, settings: Settings) -> None:
        """The SQLite file (and its journals) if the database is about to be made."""
        url = make_url(settings.database.url)
        if url.get_backend_name() == "sqlite" and url.database:
            base = Path(url.database)
            if not base.exists():
                self._paths += [base.with_name(base.name + suffix)
                                for suffix in ("", "-wal", "-shm", "-journal")]

    def rollback(self) -> None:
        for path in reversed(self._paths):
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass
        self._paths.clear()


def _write_settings(path: Path, text: str, undo: Undo) -> None:
    undo.mkdir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds a secret
    except FileExistsError:
        raise Refused(f"{path} existe déjà.") from None
    except OSError as exc:
        raise Refused(f"Impossible d'écrire {path} : {describe_os_error(exc)}.") from None
    undo.created(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise Refused(f"Impossible d'écrire {path} : {describe_os_error(exc)}.") from None


def _data_dir(args: argparse.Namespace, default: str) -> Path:
    if getattr(args, "config", None):
        return Path(args.config).parent
    return Path(args.data or os.environ.get("LIASSE_DATA") or default)


def _create_database(settings: Settings) -> Database:
    """The database of `settings`, made if it does not exist yet, at the newest schema."""
    engine = make_engine(settings.database.url, password=settings.database.password,
                         busy_timeout_ms=settings.database.busy_timeout_ms,
                         connections=settings.server.threads + 4, create=True)
    try:
        upgrade_schema(engine)
    except OperationalError as exc:  # a server that does not answer, a file it cannot open
        engine.dispose()
        raise Refused("Base de données inaccessible : "
                      f"{describe_database_error(exc.orig)}.") from None
    except BaseException:
        engine.dispose()
        raise
    return Database(engine)


def _command_line_url(url: str) -> str:
    """`--database-url` checked, a relative SQLite path taken from the current folder (as
    `--data`); the settings file then holds it absolute."""
    return check_database_url(url, Path.cwd(), "--database-url")


def _check_install_input(args: argparse.Namespace, password: str | None,
                         settings: Settings) -> None:
    """What `install` would refuse, checked before anything is written."""
    clean_cabinet_fields(name=args.cabinet, siren=args.cabinet_siren)
    login = check_login(args.login)
    check_display_name(args.name)
    check_email(args.email)
    if password is not None:
        check_password(password, min_length=settings.security.password_min_length,
                       login=login)


def _check_port(port: int) -> None:
    if port not in PORTS:
        raise Refused(f"Le port doit être compris entre {PORTS[0]} et {PORTS[-1]}.")


def init_command(args: argparse.Namespace) -> int:
    data = _data_dir(args, DEFAULT_DATA_DIR)
    path = Path(args.config) if getattr(args, "config", None) else data / SETTINGS_FILENAME
    _check_folder(path.parent)
    text = None
    if not (path.exists() or path.is_symlink()):
        folders = [f.strip() for f in args.folders.split(",")] if args.folders \
            else list(DEFAULT_TREE)
        url = _command_line_url(args.database_url) if args.database_url else ""
        text = _settings_text(folders=folders, database_url=url, host="127.0.0.1", port=8443,
                              plain_http=False)
        settings = _checked_settings(text, path, folders=folders, database_url=url,
                                     host="127.0.0.1", port=8443)
    elif args.folders or args.database_url:
        raise Refused(f"{path} existe déjà : modifiez-y directement l'arborescence ou la base.")
    else:
        settings = load_settings(path)
    password = read_password(args, "Mot de passe du correspondant : ")
    _check_install_input(args, password, settings)
    undo = Undo()
    try:
        if text is not None:
            _write_settings(path, text, undo)
            settings = load_settings(path)
        undo.mkdir(settings.data_dir)
        undo.database(settings)
        rt = Runtime(settings, _create_database(settings))
        try:
            with rt.db.transaction() as s:
                account = install(s, rt.hasher, cabinet_name=args.cabinet,
                                  cabinet_siren=args.cabinet_siren, login=args.login,
                                  display_name=args.name, email=args.email, password=password,
                                  address=rt.address)
        finally:
            rt.close()
    except BaseException:
        undo.rollback()
        raise
    if text is not None:
        print(f"Réglages écrits dans {path}")
    print(f"Cabinet « {args.cabinet} » initialisé ; correspondant : {account.user.login}.")
    if account.initial_password:
        print("Mot de passe initial (à changer à la première connexion) : "
              f"{account.initial_password}")
    where = f"--config {path}" if getattr(args, "config", None) else f"--data {data}"
    print(f"Démarrez le serveur avec : liasse {where} serve")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(settings: Settings, rt: Runtime, host: str, port: int, *,
            tls: bool) -> LiasseServer:
    _recover_recent_deposits(rt)
    certificate = Path(settings.server.tls_certificate) if tls else None
    key = Path(settings.server.tls_private_key) if tls else None
    try:
        return LiasseServer(build_application(settings, rt.db), host, port,
                            threads=settings.server.threads, certificate=certificate,
                            private_key=key)
    except OSError as exc:
        raise Refused(f"Impossible d'écouter sur {host}:{port} : {exc.strerror or exc}.") \
            from None


def _recover_recent_deposits(rt: Runtime) -> None:
    """Before serving: repair what a power cut may have left (acl.documents.blobs, "Durability")."""
    with rt.db.transaction() as s:
        repaired = recover_recent(s, rt.blobs)
        adopt_logo_file(s, rt.blobs)  # a logo stored as a path, from before: copied in
    if repaired:
        print("Reprise après un arrêt brutal : des contenus déposés juste avant n'avaient "
              "pas atteint le disque.")
        for line in repaired:
            print(f"  {line}")


def _serve(server: LiasseServer, settings: Settings, rt: Runtime, banner: list[str]) -> int:
    # The server is bound and its worker threads run: from here on, a stop request (SIGTERM,
    # Ctrl+C) at any moment, even before serve(), must stop them or the process never exits.
    # The handlers only record the request (see LiasseServer.serve for why they never raise).
    previous = {signum: signal.signal(signum, lambda *_: server.request_stop())
                for signum in (signal.SIGTERM, signal.SIGINT)}
    base = server.endpoint.base_url
    worker = Worker(settings, rt.db, base)
    try:
        print(f"Liasse — {banner[0]}")
        print(f"  Application web          : {base}/")
        print(f"  Lecteur réseau (WebDAV)  : {base}/dav/")
        for line in banner[1:]:
            print(line)
        print("Ctrl+C pour arrêter.", flush=True)
        worker.start()
        server.serve()
    finally:
        worker.stop()
        server.stop()
        flush_blobs()  # the last uploads' bodies, before the process ends
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("Serveur arrêté.", flush=True)
    return 0


def serve_command(args: argparse.Namespace) -> int:
    if args.port is not None:
        _check_port(args.port)
    _check_workers(args.workers)
    rt = Runtime.open(args)
    try:
        settings = rt.settings
        tls = bool(settings.server.tls_certificate)
        if not tls and not settings.server.allow_plain_http:
            raise Refused(
                f"{settings.source}, section [server] : renseignez tls_certificate et "
                "tls_private_key (voir « liasse cert »), ou allow_plain_http = true derrière "
                "un mandataire HTTPS.")
        with rt.db.session() as s:
            name = get_cabinet(s).name
        host = args.host or settings.server.host
        port = settings.server.port if args.port is None else args.port
        workers = _workers(args.workers, settings)
        if workers > 1 and prefork.can_fork():
            return _serve_workers(settings_path(args), settings, rt, host, port, tls=tls,
                                  workers=workers, name=name)
        server = _listen(settings, rt, host, port, tls=tls)
        return _serve(server, settings, rt, banner=[name])
    finally:
        rt.close()


def _check_workers(option: int | None) -> None:
    if option is not None and not 1 <= option <= MAX_WORKERS:
        raise Refused(f"Le nombre de processus serveurs (--workers) doit être compris "
                      f"entre 1 et {MAX_WORKERS}.")


def _workers(option: int | None, settings: Settings) -> int:
    return option or settings.server.workers or min(prefork.cores(), MAX_WORKERS)


def _with_session_secret(settings: Settings, secret: str) -> Settings:
    """Every worker signs the web sessions with one key: a session opened through one is
    valid through the others (without a configured secret, one drawn at start)."""
    if settings.security.session_secret:
        return settings
    return dataclasses.replace(settings, security=dataclasses.replace(
        settings.security, session_secret=secret))


def _serve_workers(path: Path, settings: Settings, rt: Runtime, host: str, port: int, *,
                   tls: bool, workers: int, name: str) -> int:
    """`workers` processes on one listening socket, supervised by this one (liasse.prefork).
    This process repairs what a power cut left and binds; each worker opens its own database
    connections once forked (none is shared across a fork)."""
    _recover_recent_deposits(rt)
    certificate = Path(settings.server.tls_certificate) if tls else None
    key = Path(settings.server.tls_private_key) if tls else None
    if tls:
        try:
            LiasseServer.check_certificate(certificate, key)
        except OSError as exc:
            raise Refused(f"Impossible d'écouter sur {host}:{port} : {exc}.") from None
    try:
        listener = prefork.listen(host, port)
    except OSError as exc:
        raise Refused(f"Impossible d'écouter sur {host}:{port} : {exc.strerror or exc}.") \
            from None
    rt.close()  # no connection crosses a fork
    secret = secrets.token_urlsafe(32)
    current = [_with_session_secret(settings, secret)]
    bound_host, bound_port = listener.getsockname()[:2]
    base = Endpoint(bound_host, bound_port, tls).base_url

    def run_child(ready) -> None:
        try:
            _serve_child(current[0], listener, base, ready)
        except Refused as exc:  # e.g. the database refuses this worker's connections
            print(f"liasse : processus serveur {os.getpid()} : {exc.reason}", file=sys.stderr,
                  flush=True)
            raise SystemExit(1) from None

    def reload() -> bool:
        try:
            current[0] = _with_session_secret(load_settings(path), secret)
        except SettingsError as exc:
            print(f"Rechargement refusé, les processus continuent : {exc}", flush=True)
            return False
        return True

    def banner() -> None:  # once every worker serves
        print(f"Liasse — {name}")
        print(f"  Application web          : {base}/")
        print(f"  Lecteur réseau (WebDAV)  : {base}/dav/")
        print(f"  Processus serveurs       : {workers} (SIGHUP : rechargement)")
        print("Ctrl+C pour arrêter.", flush=True)

    try:
        prefork.Supervisor(workers, run_child, reload, banner).run()
    finally:
        listener.close()
    print("Serveur arrêté.", flush=True)
    return 0


def _serve_child(settings: Settings, listener, base: str, ready) -> None:
    """One forked worker: its own connections, server and background worker thread (which
    works only if elected), until SIGTERM or SIGINT."""
    db = open_database(settings)
    tls = bool(settings.server.tls_certificate)
    try:
        app = build_application(settings, db)
        if os.environ.get(WORKER_HEADER_VARIABLE) == "1":
            app = with_worker_header(app)
        server = LiasseServer(
            app, *listener.getsockname()[:2],
            threads=settings.server.threads,
            certificate=Path(settings.server.tls_certificate) if tls else None,
            private_key=Path(settings.server.tls_private_key) if tls else None,
            listener=listener)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: server.request_stop())
        worker = Worker(settings, db, base)
        try:
            worker.start()
            ready()
            server.serve()
        finally:
            worker.stop()
            server.stop()
            flush_blobs()
    finally:
        db.dispose()


def demo_command(args: argparse.Namespace) -> int:
    if not args.tls and not _is_loopback(args.host):
        raise Refused("Hors de 127.0.0.1, la démonstration doit être servie en HTTPS : "
                      "ajoutez --tls.")
    _check_port(args.port)
    if args.password is not None and not args.password.strip():
        raise Refused("Le mot de passe de démonstration ne peut pas être vide.")
    if args.tls:
        check_host(args.host)
    data = _data_dir(args, DEMO_DATA_DIR)
    path = data / SETTINGS_FILENAME
    _check_folder(data)
    fresh = not (path.exists() or path.is_symlink())
    undo = Undo()
    rt = None
    try:
        if fresh:
            _write_settings(path, _settings_text(folders=list(DEFAULT_TREE), database_url="",
                                                 host=args.host, port=args.port,
                                                 plain_http=True), undo)
        if args.tls:
            _ensure_demo_certificate(path, data, args.host, undo)
        settings = load_settings(path)
        if args.smtp:
            settings = dataclasses.replace(settings, smtp=dataclasses.replace(
                settings.smtp, host=args.smtp[0], port=args.smtp[1], security="none"))
        undo.mkdir(settings.data_dir)
        undo.database(settings)
        rt = Runtime(settings, _create_database(settings))
        password_file = data / DEMO_PASSWORD_FILE
        password = args.password
        if password is None:
            password = password_file.read_text().strip() if password_file.exists() \
                else secrets.token_urlsafe(9)
        folder = rt.blobs.folder
        if folder is not None and not folder.exists():
            undo.created(folder)
        with rt.db.transaction() as s:
            if fresh or not is_installed(s):
                demo.create_demo(s, rt.settings, rt.hasher, rt.blobs, password)
            elif args.password is not None:
                demo.reset_demo_passwords(s, rt.hasher, password)
        if not password_file.exists():
            undo.created(password_file)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        server = _listen(rt.settings, rt, args.host, args.port, tls=args.tls)
    except BaseException:
        if rt is not None:
            rt.close()
        undo.rollback()
        raise
    try:
        banner = [demo.CABINET_NAME, f"  Dossier de données       : {data.resolve()}",
                  f"Comptes de démonstration (mot de passe : {password}) :"]
        banner += [f"  {a.login:<11} {a.description}" for a in demo.ACCOUNTS]
        if len(password) < rt.settings.security.password_min_length:
            banner.append("  (mot de passe plus court que la politique : accepté pour la "
                          "démonstration seulement)")
        return _serve(server, rt.settings, rt, banner)
    finally:
        rt.close()


def _ensure_demo_certificate(path: Path, data: Path, host: str, undo: Undo) -> None:
    """Generate the demo's self-signed pair once and point the settings at it."""
    cert, key = data / "tls" / "liasse.crt", data / "tls" / "liasse.key"
    if not cert.exists():
        undo.mkdir(cert.parent)
        try:
            make_self_signed(cert, key, sorted({host, "localhost", "127.0.0.1"}))
        except OSError as exc:
            raise Refused(f"Impossible d'écrire le certificat dans {cert.parent} : "
                          f"{describe_os_error(exc)}.") from None
    text = path.read_text(encoding="utf-8")
    if "tls_certificate" not in text:
        text = text.replace("[server]\n", f"[server]\n"
                                          f"tls_certificate = {_toml_string(str(cert.resolve()))}\n"
                                          f"tls_private_key = {_toml_string(str(key.resolve()))}\n",
                            1)
        path.write_text(text, encoding="utf-8")


def cert_command(args: argparse.Namespace) -> int:
    hosts = check_hosts(args.hosts)
    out = Path(args.out) if args.out else _data_dir(args, DEFAULT_DATA_DIR) / "tls"
    _check_folder(out)
    cert, key = out / "liasse.crt", out / "liasse.key"
    if cert.exists() or key.exists():
        raise Refused(f"{cert} existe déjà : supprimez-le ou choisissez un autre --out.")
    undo = Undo()
    try:
        undo.mkdir(out)
        make_self_signed(cert, key, hosts)
    except OSError as exc:
        undo.rollback()
        raise Refused(f"Impossible d'écrire le certificat dans {out} : "
                      f"{describe_os_error(exc)}.") from None
    except BaseException:
        undo.rollback()
        raise
    print(f"Certificat : {cert}\nClé privée : {key} (à garder secrète)")
    print("Dans les réglages, section [server] :")
    print(f'  tls_certificate = "{cert.resolve()}"\n  tls_private_key = "{key.resolve()}"')
    print("Pour que les postes fassent confiance à ce certificat :")
    print(f"  Windows : certutil -addstore -f Root {cert.name}  (invite de commandes "
          "administrateur), puis redémarrez le service WebClient ;")
    print(f"  macOS   : sudo security add-trusted-cert -d -r trustRoot -k "
          f"/Library/Keychains/System.keychain {cert.name} ;")
    print(f"  Linux   : sudo cp {cert.name} /usr/local/share/ca-certificates/liasse.crt && "
          "sudo update-ca-certificates (davfs2 : trust_server_cert dans davfs2.conf).")
    return 0
