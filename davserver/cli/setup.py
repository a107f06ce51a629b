"""`liasse init`, `liasse serve`, `liasse demo`, `liasse cert`."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import secrets
import signal
from pathlib import Path

from acl.cabinet import get_cabinet
from acl.errors import Refused
from acl.install import install, is_installed
from config.settings import DEFAULT_TREE, SETTINGS_FILENAME, Settings, load_settings
from davserver import demo
from davserver.certs import make_self_signed
from davserver.cli.runtime import DEFAULT_DATA_DIR, Runtime, open_database, read_password
from davserver.server import LiasseServer, build_application
from davserver.worker import Worker

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


def _settings_text(*, folders: list[str], database_url: str, host: str, port: int,
                   plain_http: bool) -> str:
    tree = ", ".join(f'"{f}"' for f in folders)
    lines = [
        "# Réglages de Liasse. Toutes les clés, leur rôle et leur valeur par défaut :",
        "# config/defaults/example.toml dans les sources de Liasse.",
        "",
        "[server]",
        f'host = "{host}"',
        f"port = {port}",
        f"allow_plain_http = {'true' if plain_http else 'false'}",
        "",
        "[security]",
        f'session_secret = "{secrets.token_urlsafe(32)}"',
        "",
        "[folders]",
        f"tree = [{tree}]",
    ]
    if database_url:
        lines[lines.index("[security]"):lines.index("[security]")] = [
            "[database]", f'url = "{database_url}"', ""]
    return "\n".join(lines) + "\n"


def _write_settings(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # holds a secret
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def _data_dir(args: argparse.Namespace, default: str) -> Path:
    if getattr(args, "config", None):
        return Path(args.config).parent
    return Path(args.data or os.environ.get("LIASSE_DATA") or default)


def init_command(args: argparse.Namespace) -> int:
    data = _data_dir(args, DEFAULT_DATA_DIR)
    path = data / SETTINGS_FILENAME
    if not path.exists():
        folders = [f.strip() for f in args.folders.split(",")] if args.folders \
            else list(DEFAULT_TREE)
        _write_settings(path, _settings_text(folders=folders,
                                             database_url=args.database_url or "",
                                             host="127.0.0.1", port=8443, plain_http=False))
        print(f"Réglages écrits dans {path}")
    elif args.folders or args.database_url:
        raise Refused(f"{path} existe déjà : modifiez-y directement l'arborescence ou la base.")
    try:
        settings = load_settings(path)
    except Exception:
        if args.folders:  # a settings file we just wrote from a bad --folders: take it back
            path.unlink()
        raise
    password = read_password(args, "Mot de passe du correspondant : ")
    rt = Runtime(settings, open_database(settings))
    try:
        with rt.db.transaction() as s:
            account = install(s, rt.hasher, cabinet_name=args.cabinet,
                              cabinet_siren=args.cabinet_siren, login=args.login,
                              display_name=args.name, email=args.email, password=password,
                              address=rt.address)
    finally:
        rt.close()
    print(f"Cabinet « {args.cabinet} » initialisé ; correspondant : {account.user.login}.")
    if account.initial_password:
        print("Mot de passe initial (à changer à la première connexion) : "
              f"{account.initial_password}")
    print(f"Démarrez le serveur avec : liasse --data {data} serve")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _run(settings: Settings, rt: Runtime, host: str, port: int, *, tls: bool,
         banner: list[str]) -> int:
    certificate = Path(settings.server.tls_certificate) if tls else None
    key = Path(settings.server.tls_private_key) if tls else None
    try:
        server = LiasseServer(build_application(settings, rt.db), host, port,
                              threads=settings.server.threads, certificate=certificate,
                              private_key=key)
    except OSError as exc:
        raise Refused(f"Impossible d'écouter sur {host}:{port} : {exc.strerror or exc}.") \
            from None
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
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print("Serveur arrêté.", flush=True)
    return 0


def serve_command(args: argparse.Namespace) -> int:
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
        return _run(settings, rt, host, port, tls=tls, banner=[name])
    finally:
        rt.close()


def demo_command(args: argparse.Namespace) -> int:
    if not args.tls and not _is_loopback(args.host):
        raise Refused("Hors de 127.0.0.1, la démonstration doit être servie en HTTPS : "
                      "ajoutez --tls.")
    if not 0 <= args.port <= 65535:
        raise Refused("Le port doit être compris entre 0 et 65535.")
    data = _data_dir(args, DEMO_DATA_DIR)
    path = data / SETTINGS_FILENAME
    fresh = not path.exists()
    if fresh:
        _write_settings(path, _settings_text(folders=list(DEFAULT_TREE), database_url="",
                                             host=args.host, port=args.port, plain_http=True))
    if args.tls:
        _ensure_demo_certificate(path, data, args.host)
    settings = load_settings(path)
    if args.smtp:
        settings = dataclasses.replace(settings, smtp=dataclasses.replace(
            settings.smtp, host=args.smtp[0], port=args.smtp[1], security="none"))
    rt = Runtime(settings, open_database(settings))
    try:
        password_file = data / DEMO_PASSWORD_FILE
        password = args.password
        if password is not None and not password.strip():
            raise Refused("Le mot de passe de démonstration ne peut pas être vide.")
        if password is None:
            password = password_file.read_text().strip() if password_file.exists() \
                else secrets.token_urlsafe(9)
        with rt.db.transaction() as s:
            if fresh or not is_installed(s):
                demo.create_demo(s, rt.settings, rt.hasher, rt.blobs, password)
            elif args.password is not None:
                demo.reset_demo_passwords(s, rt.hasher, password)
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password + "\n")
        banner = [demo.CABINET_NAME, f"  Dossier de données       : {data.resolve()}",
                  f"Comptes de démonstration (mot de passe : {password}) :"]
        banner += [f"  {a.login:<11} {a.description}" for a in demo.ACCOUNTS]
        if len(password) < rt.settings.security.password_min_length:
            banner.append("  (mot de passe plus court que la politique : accepté pour la "
                          "démonstration seulement)")
        return _run(rt.settings, rt, args.host, args.port, tls=args.tls, banner=banner)
    finally:
        rt.close()


def _ensure_demo_certificate(path: Path, data: Path, host: str) -> None:
    """Generate the demo's self-signed pair once and point the settings at it."""
    cert, key = data / "tls" / "liasse.crt", data / "tls" / "liasse.key"
    if not cert.exists():
        make_self_signed(cert, key, sorted({host, "localhost", "127.0.0.1"}))
    text = path.read_text(encoding="utf-8")
    if "tls_certificate" not in text:
        text = text.replace("[server]\n", f'[server]\ntls_certificate = "{cert.resolve()}"\n'
                                          f'tls_private_key = "{key.resolve()}"\n', 1)
        path.write_text(text, encoding="utf-8")


def cert_command(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else _data_dir(args, DEFAULT_DATA_DIR) / "tls"
    cert, key = out / "liasse.crt", out / "liasse.key"
    if cert.exists() or key.exists():
        raise Refused(f"{cert} existe déjà : supprimez-le ou choisissez un autre --out.")
    make_self_signed(cert, key, args.hosts)
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
