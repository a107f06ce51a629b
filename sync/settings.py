"""The sync tool's settings: the command line over a small TOML file, the password from a
file, `LIASSE_SYNC_PASSWORD` or a prompt. Every problem is one French sentence
(`SyncSettingsError`), naming the file and the key when it comes from the file.

```toml
[sync]
server = "https://liasse.cabinet.fr"
user = "synchro"
local = "D:/Clients"
password_file = "C:/ProgramData/liasse/mot-de-passe.txt"
every = "10m"
max_supp_percent = 50      # the brake (rclone bisync --max-delete)
max_supp_floor = 3         # a run may always rename this many files of a company
settle_seconds = 2         # a file touched this recently is being written: next run
retries = 4                # a failed request is tried again this many times
backoff_seconds = 1        # then waits 1, 2, 4... seconds between tries
ca_file = ""               # the server's certificate authority (a self-signed one)

[sync.mail]                # optional: the report mailed after every run
host = "smtp.cabinet.fr"
port = 587
starttls = true
sender = "synchro@cabinet.fr"
to = ["expert@cabinet.fr"]
user = ""
password = ""
```
"""

from __future__ import annotations

import getpass
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PASSWORD_ENV = "LIASSE_SYNC_PASSWORD"


class SyncSettingsError(ValueError):
    """A setting refused, with one French sentence."""


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int = 25
    starttls: bool = False
    sender: str = ""
    to: tuple[str, ...] = ()
    user: str = ""
    password: str = ""


@dataclass(frozen=True)
class SyncSettings:
    server: str  # the platform's address, e.g. https://liasse.cabinet.fr (drive at /dav/)
    user: str
    password: str
    local: Path
    report_dir: Path
    every_seconds: float | None = None
    force: bool = False
    max_supp_percent: float = 50.0
    max_supp_floor: int = 3
    settle_seconds: float = 2.0
    retries: int = 4
    backoff_seconds: float = 1.0
    timeout_seconds: float = 60.0
    ca_file: str = ""
    quiet: bool = False
    mail: MailSettings | None = None

    @property
    def work_dir(self) -> Path:
        """The tool's own folder in the local tree: state, lock, temporary files."""
        return self.local / ".liasse-sync"


_DURATION = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_UNITS = {None: 60.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds of "10m", "30s", "1h" or "15" (minutes)."""
    match = _DURATION.match(str(text))
    if not match:
        raise SyncSettingsError(f"durée invalide « {text} » : écrivez par exemple 10m, 30s "
                                "ou 1h.")
    seconds = float(match.group(1).replace(",", ".")) * _UNITS[
        match.group(2).lower() if match.group(2) else None]
    if seconds < 1:
        raise SyncSettingsError(f"durée trop courte « {text} » : une seconde au moins.")
    return seconds


KEYS = {"server", "user", "local", "password_file", "every", "max_supp_percent",
        "max_supp_floor", "settle_seconds", "retries", "backoff_seconds", "timeout_seconds",
        "ca_file", "report_dir", "force", "mail"}
MAIL_KEYS = {"host", "port", "starttls", "sender", "to", "user", "password"}


def read_file(path: Path) -> dict:
    """The `[sync]` table of a TOML file, its keys checked."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SyncSettingsError(f"fichier de réglages introuvable : {path}.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SyncSettingsError(f"fichier de réglages illisible : {path}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SyncSettingsError(f"{path} : TOML invalide ({exc}).") from exc
    table = data.get("sync")
    if not isinstance(table, dict):
        raise SyncSettingsError(f"{path} : la section [sync] manque.")
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise SyncSettingsError(f"{path} : clé inconnue « {unknown[0]} » dans [sync].")
    mail = table.get("mail")
    if mail is not None:
        if not isinstance(mail, dict):
            raise SyncSettingsError(f"{path} : [sync.mail] doit être une section.")
        unknown = sorted(set(mail) - MAIL_KEYS)
        if unknown:
            raise SyncSettingsError(f"{path} : clé inconnue « {unknown[0]} » dans [sync.mail].")
    return table


def _number(table: dict, key: str, default: float, *, whole: bool = False,
            minimum: float = 0) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum or (
            whole and not isinstance(value, int)):
        kind = "un nombre entier" if whole else "un nombre"
        raise SyncSettingsError(f"réglage « {key} » : {kind} supérieur ou égal à {minimum} "
                                "est attendu.")
    return value


def _password(table: dict, password_file: str | None, ask: bool) -> str:
    source = password_file or table.get("password_file")
    if source:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise SyncSettingsError(f"fichier de mot de passe illisible : {source}.") from exc
        password = text.strip("\r\n")
        if not password:
            raise SyncSettingsError(f"le fichier de mot de passe {source} est vide.")
        return password
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if ask and sys.stdin.isatty():
        return getpass.getpass("Mot de passe Liasse : ")
    raise SyncSettingsError(f"mot de passe manquant : donnez --password-file, la variable "
                            f"{PASSWORD_ENV}, ou lancez la commande dans un terminal.")


def _mail(table: dict) -> MailSettings | None:
    mail = table.get("mail")
    if not mail or not mail.get("host"):
        return None
    to = mail.get("to", ())
    to = (to,) if isinstance(to, str) else tuple(to)
    if not to or not mail.get("sender"):
        raise SyncSettingsError("[sync.mail] : « sender » et « to » sont nécessaires.")
    return MailSettings(host=str(mail["host"]), port=int(_number(mail, "port", 25, whole=True)),
                        starttls=bool(mail.get("starttls", False)), sender=str(mail["sender"]),
                        to=to, user=str(mail.get("user", "")),
                        password=str(mail.get("password", "")))


def build(*, config: str | None, server: str | None, user: str | None, local: str | None,
          password_file: str | None = None, every: str | None = None, force: bool = False,
          report_dir: str | None = None, ca_file: str | None = None, quiet: bool = False,
          ask_password: bool = True) -> SyncSettings:
    """The settings of a run: each option given on the command line wins over the file."""
    table = read_file(Path(config)) if config else {}
    server = server or table.get("server")
    user = user or table.get("user")
    local = local or table.get("local")
    for name, value in (("--server", server), ("--user", user), ("--local", local)):
        if not value:
            raise SyncSettingsError(f"{name} manque (ou la clé correspondante du fichier de "
                                    "réglages).")
    parts = urlsplit(str(server))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SyncSettingsError(f"adresse du serveur invalide « {server} » : "
                                "https://… est attendu.")
    local_path = Path(str(local)).expanduser()
    if not local_path.is_dir():
        raise SyncSettingsError(f"le dossier local {local_path} n'existe pas ou n'est pas un "
                                "dossier.")
    every_text = every or table.get("every")
    settings = SyncSettings(
        server=str(server).rstrip("/"), user=str(user),
        password=_password(table, password_file, ask_password),
        local=local_path.resolve(),
        report_dir=Path(report_dir or table.get("report_dir") or
                        local_path.resolve() / ".liasse-sync"),
        every_seconds=parse_duration(every_text) if every_text else None,
        force=force or bool(table.get("force", False)),
        max_supp_percent=_number(table, "max_supp_percent", 50.0),
        max_supp_floor=int(_number(table, "max_supp_floor", 3, whole=True)),
        settle_seconds=_number(table, "settle_seconds", 2.0),
        retries=int(_number(table, "retries", 4, whole=True)),
        backoff_seconds=_number(table, "backoff_seconds", 1.0),
        timeout_seconds=_number(table, "timeout_seconds", 60.0, minimum=1),
        ca_file=ca_file or str(table.get("ca_file", "")), quiet=quiet, mail=_mail(table))
    return settings
