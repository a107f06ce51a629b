"""Typed settings: frozen dataclasses loaded once from one TOML file (+ env for secrets).

Every key has a default here and is documented in `config/defaults/example.toml`; a test
keeps the two in step. Loading never raises anything but `SettingsError`, whose message is
one French sentence naming the file, the section and the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from config.names import InvalidName, check_segment

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


_PORT = _check(lambda v: 0 <= v <= 65535, "doit être un port entre 0 et 65535")
_POSITIVE = _check(lambda v: v > 0, "doit être strictement positif")
_NON_NEGATIVE = _check(lambda v: v >= 0, "ne peut pas être négatif")


@dataclass(frozen=True)
class ServerSettings:
    host: str = _setting("127.0.0.1")
    port: int = _setting(8443, _PORT)
    public_url: str = _setting("")
    tls_certificate: str = _setting("")
    tls_private_key: str = _setting("")
    allow_plain_http: bool = _setting(False)
    threads: int = _setting(16, _check(lambda v: 1 <= v <= 256, "doit être entre 1 et 256"))


@dataclass(frozen=True)
class StorageSettings:
    data_dir: str = _setting("")
    trash_days: int = _setting(30, _NON_NEGATIVE)


@dataclass(frozen=True)
class DriveSettings:
    auth_cache_seconds: int = _setting(300, _NON_NEGATIVE)
    max_upload_mib: int = _setting(4096, _NON_NEGATIVE)
    quota_mib: int = _setting(0, _NON_NEGATIVE)
    block_size_kib: int = _setting(256, _check(lambda v: 8 <= v <= 16384,
                                               "doit être entre 8 et 16384"))
    listing_cache_mib: int = _setting(64, _NON_NEGATIVE)


@dataclass(frozen=True)
class RedisSettings:
    url: str = _setting("", _check(lambda v: v == "" or v.startswith(("redis://", "rediss://")),
                                   "doit commencer par redis:// ou rediss://"))


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = _setting("")
    password: str = _setting("")
    busy_timeout_ms: int = _setting(10000, _NON_NEGATIVE)


@dataclass(frozen=True)
class SecuritySettings:
    session_secret: str = _setting("")
    password_min_length: int = _setting(
        12, _check(lambda v: 8 <= v <= 128, "doit être entre 8 et 128"))
    argon2_time_cost: int = _setting(3, _POSITIVE)
    argon2_memory_kib: int = _setting(
        65536, _check(lambda v: v >= 8, "doit valoir au moins 8 (Kio)"))
    argon2_parallelism: int = _setting(2, _POSITIVE)
    failures_before_slowdown: int = _setting(3, _POSITIVE)
    failure_delay_seconds: float = _setting(1.0, _NON_NEGATIVE)
    failures_before_lockout: int = _setting(10, _POSITIVE)
    lockout_minutes: int = _setting(15, _POSITIVE)


@dataclass(frozen=True)
class SmtpSettings:
    host: str = _setting("")
    port: int = _setting(587, _PORT)
    security: str = _setting("starttls", _check(lambda v: v in ("none", "starttls", "tls"),
                                                 "doit valoir « none », « starttls » ou « tls »"))
    username: str = _setting("")
    password: str = _setting("")
    sender: str = _setting("")
    timeout_seconds: float = _setting(10.0, _POSITIVE)
    max_attempts: int = _setting(10, _POSITIVE)
    retry_base_seconds: float = _setting(30.0, _POSITIVE)


@dataclass(frozen=True)
class AlertsSettings:
    quiet_delay_seconds: float = _setting(120.0, _NON_NEGATIVE)
    max_hold_seconds: float = _setting(900.0, _NON_NEGATIVE)
    poll_seconds: float = _setting(2.0, _check(lambda v: 0.05 <= v <= 300,
                                               "doit être entre 0.05 et 300"))


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


@dataclass(frozen=True)
class Settings:
    source: Path
    server: ServerSettings
    storage: StorageSettings
    drive: DriveSettings
    database: DatabaseSettings
    redis: RedisSettings
    security: SecuritySettings
    smtp: SmtpSettings
    alerts: AlertsSettings
    folders: FoldersSettings

    @property
    def data_dir(self) -> Path:
        return Path(self.storage.data_dir)


SECTIONS: dict[str, type] = {
    "server": ServerSettings,
    "storage": StorageSettings,
    "drive": DriveSettings,
    "database": DatabaseSettings,
    "redis": RedisSettings,
    "security": SecuritySettings,
    "smtp": SmtpSettings,
    "alerts": AlertsSettings,
    "folders": FoldersSettings,
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
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (float(value) if ok else value), None if ok else "doit être un nombre"
    if hint is str:
        return value, None if isinstance(value, str) else "doit être une chaîne entre guillemets"
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


def _resolve(path: Path, sections: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults that depend on where the settings file lives."""
    storage: StorageSettings = sections["storage"]
    data_dir = Path(storage.data_dir) if storage.data_dir else path.parent
    if not data_dir.is_absolute():
        data_dir = (path.parent / data_dir).resolve()
    sections["storage"] = dataclasses.replace(storage, data_dir=str(data_dir))
    database: DatabaseSettings = sections["database"]
    url = database.url or f"sqlite:///{data_dir / 'liasse.db'}"
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", url):
        raise SettingsError(
            f"{path}, section [database], clé « url » : seules les bases sqlite:// et "
            "postgresql:// sont prises en charge.")
    sections["database"] = dataclasses.replace(database, url=url)
    server: ServerSettings = sections["server"]
    if bool(server.tls_certificate) != bool(server.tls_private_key):
        raise SettingsError(
            f"{path}, section [server], clé « tls_private_key » : le certificat et la clé "
            "TLS vont ensemble (renseignez les deux ou aucun).")
    for key in ("tls_certificate", "tls_private_key"):
        value = getattr(server, key)
        if value and not Path(value).is_absolute():
            sections["server"] = server = dataclasses.replace(
                server, **{key: str((path.parent / value).resolve())})
    folders: FoldersSettings = sections["folders"]
    for parent in folders.subfolders:
        if parent not in folders.tree:
            raise SettingsError(
                f"{path}, section [folders], clé « subfolders » : « {parent} » n'est pas un "
                "dossier de l'arborescence (clé « tree »).")
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
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(
            f"{path} : fichier de réglages introuvable (lancez d'abord « liasse init »).") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path} : lecture impossible ({exc}).") from None
    return parse_settings(text, path, env)


def example_settings_text() -> str:
    return (Path(__file__).parent / "defaults" / "example.toml").read_text(encoding="utf-8")
