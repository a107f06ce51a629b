"""Typed settings: frozen dataclasses loaded once from one TOML file (+ env for secrets).

Every key has a default here and is documented in `config/defaults/example.toml`; a test
keeps the two in step. Loading never raises anything but `SettingsError`, whose message is
one French sentence naming the file, the section and the key.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import ipaddress
import math
import os
import stat
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from sqlalchemy.engine import URL, make_url

from config.names import InvalidName, check_segment
from config.numbers import PORTS

SETTINGS_FILENAME = "liasse.toml"

# Secrets may come from the environment so they never sit in the TOML file.
SECRET_ENV = {
    ("database", "password"): "LIASSE_DATABASE_PASSWORD",
    ("smtp", "password"): "LIASSE_SMTP_PASSWORD",
    ("security", "session_secret"): "LIASSE_SESSION_SECRET",
}

DEFAULT_TREE = ("Achats", "Ventes", "Banque", "Fiscalité", "Social", "Juridique", "Autres")


class SettingsError(Exception):
    """A settings file that cannot be used; the message is meant for the person running Liasse."""


def _check(predicate: Callable[[Any], bool], message: str) -> Callable[[Any], str | None]:
    def validate(value: Any) -> str | None:
        return None if predicate(value) else message

    return validate


def _setting(default: Any, validate: Callable[[Any], str | None] | None = None) -> Any:
    return field(default=default, metadata={"validate": validate})


def _between(low: int, high: int) -> Callable[[Any], str | None]:
    """Both bounds included. Every number has an upper bound: a huge value would overflow
    later (dates, delays) or make every password check run for minutes (argon2)."""
    return _check(lambda v: low <= v <= high, f"doit être entre {low} et {high}")


def _positive_up_to(high: int) -> Callable[[Any], str | None]:
    return _check(lambda v: 0 < v <= high, f"doit être strictement positif et au plus {high}")


_PORT = _check(lambda v: v in PORTS, f"doit être un port entre {PORTS[0]} et {PORTS[-1]}")
_DAY_SECONDS = 86400
_MAX_MIB = 2**30  # one pebibyte, in MiB
MAX_WORKERS = 64

# argon2: the cost of one password check (the sign-in page and the drive verify passwords);
# at the upper bounds (10 passes over 1 GiB) one check still takes seconds, not minutes.
ARGON2_MAX_TIME_COST = 10
ARGON2_MAX_MEMORY_KIB = 1024 * 1024
ARGON2_MAX_PARALLELISM = 64


@dataclass(frozen=True)
class ServerSettings:
    host: str = _setting("127.0.0.1")
    port: int = _setting(8443, _PORT)
    public_url: str = _setting("")
    tls_certificate: str = _setting("")
    tls_private_key: str = _setting("")
    allow_plain_http: bool = _setting(False)
    threads: int = _setting(16, _check(lambda v: 1 <= v <= 256, "doit être entre 1 et 256"))
    # Worker processes (`liasse serve --workers`); 0: as many as the machine has cores.
    workers: int = _setting(0, _between(0, MAX_WORKERS))
    # Proxies whose X-Forwarded-For names the client (sign-in throttling, audit addresses).
    trusted_proxies: tuple[str, ...] = _setting((), lambda v: _check_addresses(v))


def _check_addresses(addresses: tuple[str, ...]) -> str | None:
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            return f"contient « {address} », qui n'est pas une adresse IP"
    return None


@dataclass(frozen=True)
class StorageSettings:
    data_dir: str = _setting("")
    trash_days: int = _setting(30, _between(0, 36500))
    # Each body fsynced before the answer; False: small ones in batches (acl/documents/blobs.py).
    sync_each_upload: bool = _setting(False)
    # Where the bodies live: "local" (data_dir/blobs) or "s3" (a bucket; README, "Stockage").
    backend: str = _setting("local", _check(lambda v: v in ("local", "s3"),
                                            "doit valoir « local » ou « s3 »"))
    s3_endpoint: str = _setting("", _check(
        lambda v: not v or v.startswith(("http://", "https://")),
        "doit être une adresse http:// ou https://"))
    s3_bucket: str = _setting("")
    s3_region: str = _setting("us-east-1")
    s3_prefix: str = _setting("")


@dataclass(frozen=True)
class DriveSettings:
    auth_cache_seconds: int = _setting(300, _between(0, _DAY_SECONDS))
    max_upload_mib: int = _setting(4096, _between(0, _MAX_MIB))
    quota_mib: int = _setting(0, _between(0, _MAX_MIB))
    block_size_kib: int = _setting(256, _check(lambda v: 8 <= v <= 16384,
                                               "doit être entre 8 et 16384"))
    listing_cache_mib: int = _setting(64, _between(0, 1024 * 1024))
    # The longest a WebDAV lock lasts without being refreshed (clients refresh theirs).
    lock_max_seconds: int = _setting(3600, _between(60, _DAY_SECONDS))


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = _setting("")
    password: str = _setting("")
    busy_timeout_ms: int = _setting(10000, _between(0, 3_600_000))


@dataclass(frozen=True)
class SecuritySettings:
    session_secret: str = _setting("")
    password_min_length: int = _setting(
        12, _check(lambda v: 8 <= v <= 128, "doit être entre 8 et 128"))
    argon2_time_cost: int = _setting(3, _check(
        lambda v: 1 <= v <= ARGON2_MAX_TIME_COST,
        f"doit être strictement positif et au plus {ARGON2_MAX_TIME_COST}"))
    argon2_memory_kib: int = _setting(65536, _check(
        lambda v: 8 <= v <= ARGON2_MAX_MEMORY_KIB,
        f"doit valoir au moins 8 et au plus {ARGON2_MAX_MEMORY_KIB} (Kio)"))
    argon2_parallelism: int = _setting(2, _check(
        lambda v: 1 <= v <= ARGON2_MAX_PARALLELISM,
        f"doit être strictement positif et au plus {ARGON2_MAX_PARALLELISM}"))
    failures_before_slowdown: int = _setting(3, _positive_up_to(1000))
    failure_delay_seconds: float = _setting(1.0, _between(0, 30))
    failures_before_lockout: int = _setting(10, _positive_up_to(1000))
    lockout_minutes: int = _setting(15, _positive_up_to(525_600))  # a year


@dataclass(frozen=True)
class SmtpSettings:
    host: str = _setting("")
    port: int = _setting(587, _PORT)
    security: str = _setting("starttls", _check(lambda v: v in ("none", "starttls", "tls"),
                                                 "doit valoir « none », « starttls » ou « tls »"))
    username: str = _setting("")
    password: str = _setting("")
    sender: str = _setting("")
    timeout_seconds: float = _setting(10.0, _positive_up_to(3600))
    # The retry delay doubles from retry_base_seconds (capped at an hour by acl.events.outbox, but
    # computed before the cap): these bounds keep it a valid duration.
    max_attempts: int = _setting(10, _positive_up_to(30))
    retry_base_seconds: float = _setting(30.0, _positive_up_to(3600))


@dataclass(frozen=True)
class AlertsSettings:
    quiet_delay_seconds: float = _setting(120.0, _between(0, _DAY_SECONDS))
    max_hold_seconds: float = _setting(900.0, _between(0, _DAY_SECONDS))
    poll_seconds: float = _setting(2.0, _check(lambda v: 0.05 <= v <= 300,
                                               "doit être entre 0.05 et 300"))


@dataclass(frozen=True)
class CalendarSettings:
    # A TOML file of the firm's own deadline rules, beside the default ones
    # (config/defaults/fiscal_calendar.toml); relative to the settings file.
    rules_file: str = _setting("")
    # The hour (Europe/Paris) when the day's calendar alerts are mailed, in one digest.
    alert_hour: int = _setting(8, _between(0, 23))


@dataclass(frozen=True)
class FeedsSettings:
    # Items of an RSS/Atom feed at most, the newest first.
    max_items: int = _setting(100, _between(1, 1000))
    # How often calendar apps are asked to fetch the ICS again (REFRESH-INTERVAL).
    refresh_minutes: int = _setting(60, _between(5, 1440))


def _check_tree(tree: tuple[str, ...]) -> str | None:
    if not tree:
        return "doit contenir au moins un dossier"
    for name in tree:
        try:
            check_segment(name)
        except InvalidName as exc:
            return f"contient un nom invalide « {name} » : {exc}"
    folded = [unicodedata.normalize("NFC", n).casefold() for n in tree]
    if len(set(folded)) != len(folded):
        return "contient deux fois le même dossier"
    return None


def _check_subfolders(subfolders: Mapping[str, tuple[str, ...]]) -> str | None:
    for parent, children in subfolders.items():
        problem = _check_tree(children)
        if problem:
            return f"« {parent} » {problem}"
    return None


@dataclass(frozen=True)
class FoldersSettings:
    tree: tuple[str, ...] = _setting(DEFAULT_TREE, _check_tree)
    subfolders: Mapping[str, tuple[str, ...]] = field(
        default_factory=dict, metadata={"validate": _check_subfolders})
    # The standard folder where a company's invoices go when it sends them to the firm.
    sales_folder: str = _setting("Ventes", lambda name: _check_tree((name,)))


@dataclass(frozen=True)
class Settings:
    source: Path
    server: ServerSettings
    storage: StorageSettings
    drive: DriveSettings
    database: DatabaseSettings
    security: SecuritySettings
    smtp: SmtpSettings
    alerts: AlertsSettings
    folders: FoldersSettings
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    feeds: FeedsSettings = field(default_factory=FeedsSettings)

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir)


SECTIONS: dict[str, type] = {
    "server": ServerSettings,
    "storage": StorageSettings,
    "drive": DriveSettings,
    "database": DatabaseSettings,
    "security": SecuritySettings,
    "smtp": SmtpSettings,
    "alerts": AlertsSettings,
    "folders": FoldersSettings,
    "calendar": CalendarSettings,
    "feeds": FeedsSettings,
}

_TYPE_NAMES = {str: "une chaîne", int: "un entier", float: "un nombre", bool: "un booléen"}


def _coerce(hint: Any, value: Any) -> tuple[Any, str | None]:
    """Return (value, problem) for a TOML value against a field's type hint."""
    if hint is bool:
        return value, None if isinstance(value, bool) else "doit être un booléen (true/false)"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value, None if ok else "doit être un entier"
    if hint is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return value, "doit être un nombre"
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a float
            number = math.inf
        return number, None if math.isfinite(number) else "doit être un nombre fini"
    if hint is str:
        if not isinstance(value, str):
            return value, "doit être une chaîne entre guillemets"
        return value, "ne peut pas contenir de caractère nul" if "\0" in value else None
    if hint == tuple[str, ...]:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(unicodedata.normalize("NFC", v) for v in value), None
        return value, "doit être une liste de chaînes"
    if hint == Mapping[str, tuple[str, ...]]:
        if isinstance(value, dict) and all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in value.values()
        ):
            return {unicodedata.normalize("NFC", k): tuple(unicodedata.normalize("NFC", s)
                                                          for s in v)
                    for k, v in value.items()}, None
        return value, "doit être une table de listes de chaînes"
    raise TypeError(f"unsupported settings type {hint!r}")


def _build_section(path: Path, name: str, cls: type, raw: Any, env: Mapping[str, str]) -> Any:
    where = f"{path}, section [{name}]"
    if not isinstance(raw, dict):
        raise SettingsError(f"{where} : doit être une section (table TOML).")
    hints = get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise SettingsError(f"{where}, clé « {key} » : clé inconnue.")
    values: dict[str, Any] = {}
    for key, fld in known.items():
        env_name = SECRET_ENV.get((name, key))
        if env_name and env.get(env_name):
            values[key] = env[env_name]
            continue
        if key not in raw:
            continue
        value, problem = _coerce(hints[key], raw[key])
        if problem is None and fld.metadata.get("validate"):
            problem = fld.metadata["validate"](value)
        if problem:
            raise SettingsError(f"{where}, clé « {key} » : {problem}.")
        values[key] = value
    return cls(**values)


SQLITE_DRIVERS = ("sqlite", "sqlite+pysqlite")
POSTGRESQL_DRIVERS = ("postgresql", "postgresql+psycopg")


def _absolute(path: Path, folder: Path, where: str) -> Path:
    """`path` made absolute against `folder` (the settings file's)."""
    try:
        return path if path.is_absolute() else (folder / path).resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise SettingsError(f"{where} : chemin inutilisable ({exc}).") from None


def check_database_url(url: str, folder: Path, where: str) -> str:
    """The database URL to use, or `SettingsError` saying why it cannot be. A relative SQLite
    path is taken from `folder` (the settings file's), as the other paths of the file."""
    if any(char < " " or char == "\x7f" for char in url):
        raise SettingsError(f"{where} : une adresse de base ne peut pas contenir de caractère "
                            "de contrôle (retour à la ligne, tabulation…).")
    try:
        parsed: URL = make_url(url)
    except (ValueError, TypeError):  # sqlalchemy.exc.ArgumentError is a ValueError
        raise SettingsError(f"{where} : adresse de base illisible (attendu "
                            "postgresql://utilisateur@hôte:port/base ou "
                            "sqlite:///chemin/du/fichier.db).") from None
    if parsed.drivername in POSTGRESQL_DRIVERS:
        if importlib.util.find_spec("psycopg") is None:
            raise SettingsError(f"{where} : le pilote PostgreSQL n'est pas installé "
                                "(pip install \"liasse[postgres]\").")
        return url
    if parsed.drivername not in SQLITE_DRIVERS:
        raise SettingsError(f"{where} : seules les bases sqlite:// et postgresql:// sont prises "
                            f"en charge (pas « {parsed.drivername} »).")
    if parsed.host or parsed.port or parsed.username or parsed.password:
        raise SettingsError(f"{where} : une base SQLite s'écrit sqlite:///chemin/du/fichier.db "
                            "(sans hôte ni utilisateur).")
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
        raise SettingsError(f"{where} : une base SQLite en mémoire ne garde rien ; indiquez "
                            "un fichier (sqlite:///chemin/du/fichier.db).")
    if "uri" in parsed.query or database.startswith("file:"):
        raise SettingsError(f"{where} : les adresses SQLite en mode URI ne sont pas prises en "
                            "charge ; indiquez un fichier (sqlite:///chemin/du/fichier.db).")
    if Path(database).is_absolute():
        return url
    absolute = _absolute(Path(database), folder, where)
    query = url.partition("?")[2]
    return f"{parsed.drivername}:///{absolute}" + (f"?{query}" if query else "")


def _resolve(path: Path, sections: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults that depend on where the settings file lives."""
    storage: StorageSettings = sections["storage"]
    data_dir = _absolute(Path(storage.data_dir) if storage.data_dir else path.parent,
                         path.parent, f"{path}, section [storage], clé « data_dir »")
    sections["storage"] = storage = dataclasses.replace(storage, data_dir=str(data_dir))
    if storage.backend == "s3":
        for key in ("s3_endpoint", "s3_bucket"):
            if not getattr(storage, key):
                raise SettingsError(f"{path}, section [storage], clé « {key} » : obligatoire "
                                    "quand backend = \"s3\".")
    if storage.s3_prefix and not storage.s3_prefix.endswith("/"):  # "a" and "a/" alike
        sections["storage"] = dataclasses.replace(storage, s3_prefix=storage.s3_prefix + "/")
    database: DatabaseSettings = sections["database"]
    url = database.url or f"sqlite:///{data_dir / 'liasse.db'}"
    url = check_database_url(url, path.parent, f"{path}, section [database], clé « url »")
    sections["database"] = dataclasses.replace(database, url=url)
    security: SecuritySettings = sections["security"]
    if security.argon2_memory_kib < 8 * security.argon2_parallelism:
        raise SettingsError(
            f"{path}, section [security], clé « argon2_memory_kib » : doit valoir au moins "
            f"8 Kio par fil de calcul (argon2_parallelism), soit "
            f"{8 * security.argon2_parallelism}.")
    server: ServerSettings = sections["server"]
    if bool(server.tls_certificate) != bool(server.tls_private_key):
        raise SettingsError(
            f"{path}, section [server], clé « tls_private_key » : le certificat et la clé "
            "TLS vont ensemble (renseignez les deux ou aucun).")
    for key in ("tls_certificate", "tls_private_key"):
        value = getattr(server, key)
        if value and not Path(value).is_absolute():
            absolute = _absolute(Path(value), path.parent,
                                 f"{path}, section [server], clé « {key} »")
            sections["server"] = server = dataclasses.replace(server, **{key: str(absolute)})
    folders: FoldersSettings = sections["folders"]
    for parent in folders.subfolders:
        if parent not in folders.tree:
            raise SettingsError(
                f"{path}, section [folders], clé « subfolders » : « {parent} » n'est pas un "
                "dossier de l'arborescence (clé « tree »).")
    calendar: CalendarSettings = sections["calendar"]
    if calendar.rules_file:
        where = f"{path}, section [calendar], clé « rules_file »"
        rules = _absolute(Path(calendar.rules_file), path.parent, where)
        if not rules.is_file():
            raise SettingsError(f"{where} : fichier introuvable ({rules}).")
        sections["calendar"] = dataclasses.replace(calendar, rules_file=str(rules))
    return sections


def parse_settings(text: str, path: Path, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} : TOML invalide ({exc}).") from None
    for section in raw:
        if section not in SECTIONS:
            raise SettingsError(f"{path}, section [{section}] : section inconnue.")
    sections = {
        name: _build_section(path, name, cls, raw.get(name, {}), env)
        for name, cls in SECTIONS.items()
    }
    return Settings(source=path, **_resolve(path, sections))


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> Settings:
    try:
        path = Path(path).absolute()
        if path.exists() and not stat.S_ISREG(path.stat().st_mode):
            # A folder, a device (/dev/null reads as empty settings) or a pipe (blocks).
            raise SettingsError(f"{path} : ce n'est pas un fichier de réglages (un fichier "
                                "ordinaire est attendu).")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(
            f"{path} : fichier de réglages introuvable (lancez d'abord « liasse init »).") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL in the path
        raise SettingsError(f"{path} : lecture impossible ({exc}).") from None
    return parse_settings(text, path, env)


def example_settings_text() -> str:
    return (Path(__file__).parent / "defaults" / "example.toml").read_text(encoding="utf-8")
