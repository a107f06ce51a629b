"""What every CLI command needs: settings, database, password hasher, the acting user."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.db import Database, make_engine, upgrade_schema
from acl.documents.blobs import BlobStore, open_store
from acl.errors import NotFound, Refused
from acl.people.models import User
from acl.rights.audit import Context, admin_transaction
from acl.rights.models import Role
from acl.rights.passwords import PasswordHasher
from acl.rights.principals import load_principal
from config import dates
from config.numbers import MAX_ID, whole_number
from config.settings import SETTINGS_FILENAME, Settings, load_settings

DEFAULT_DATA_DIR = "liasse-data"


def settings_path(args: argparse.Namespace) -> Path:
    """`--config FILE`, else `--data DIR`/liasse.toml, else $LIASSE_CONFIG, else ./liasse-data."""
    if getattr(args, "config", None):
        return Path(args.config)
    data = getattr(args, "data", None) or os.environ.get("LIASSE_DATA")
    if data:
        return Path(data) / SETTINGS_FILENAME
    if os.environ.get("LIASSE_CONFIG"):
        return Path(os.environ["LIASSE_CONFIG"])
    return Path(DEFAULT_DATA_DIR) / SETTINGS_FILENAME


def open_database(settings: Settings) -> Database:
    engine = make_engine(settings.database.url, password=settings.database.password,
                         busy_timeout_ms=settings.database.busy_timeout_ms,
                         connections=settings.server.threads + 4, create=False)
    try:
        upgrade_schema(engine)  # Refused for a revision this version does not know
    except BaseException:
        engine.dispose()
        raise
    return Database(engine)


def blob_store(settings: Settings) -> BlobStore:
    """The installation's store of document bodies (the folder or the bucket), for a
    command."""
    return open_store(settings)


@dataclass
class Runtime:
    settings: Settings
    db: Database
    acting_login: str | None = None
    address: str = field(default_factory=lambda: f"cli:{getpass.getuser()}")

    @classmethod
    def open(cls, args: argparse.Namespace) -> Runtime:
        settings = load_settings(settings_path(args))
        return cls(settings, open_database(settings), getattr(args, "as_login", None))

    @cached_property
    def hasher(self) -> PasswordHasher:
        return PasswordHasher(self.settings.security)

    @cached_property
    def blobs(self) -> BlobStore:
        return blob_store(self.settings)

    def context(self, session) -> Context:
        """The acting user: `--as LOGIN`, else the cabinet's correspondant."""
        if self.acting_login is not None:
            if not self.acting_login.strip():
                raise Refused("L'option --as attend l'identifiant d'un compte.")
            user = session.scalars(
                select(User).where(User.login == self.acting_login.strip().lower())
            ).one_or_none()
            if user is None:
                raise NotFound(f"Aucun compte « {self.acting_login} » (option --as).")
        else:
            user = session.scalars(
                select(User).where(User.role == Role.CORRESPONDANT.value).order_by(User.id)
            ).first()
            if user is None:
                raise Refused("Aucun correspondant : lancez d'abord « liasse init ».")
        return Context(load_principal(session, user), self.address)

    @contextmanager
    def admin(self) -> Iterator[tuple[Session, Context]]:
        """An administrative act: a write transaction as the acting user, refusals audited."""
        with self.db.session() as session:
            ctx = self.context(session)
        with admin_transaction(self.db, ctx) as session:
            yield session, ctx

    def close(self) -> None:
        self.db.dispose()


def read_password(args: argparse.Namespace, prompt: str = "Mot de passe : ") -> str | None:
    """The password from stdin (`--password-stdin`), or None to let Liasse generate one."""
    if not getattr(args, "password_stdin", False):
        return None
    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Confirmation : ") != first:
            raise Refused("Les deux saisies du mot de passe diffèrent.")
        return first
    try:
        line = sys.stdin.readline()
    except UnicodeDecodeError:
        raise Refused("Le mot de passe reçu n'est pas du texte UTF-8.") from None
    if not line:
        raise Refused("Aucun mot de passe reçu sur l'entrée standard.")
    return line.rstrip("\r\n")


def parse_date(text: str) -> date:
    """JJ/MM/AAAA or AAAA-MM-JJ (argparse type: a bad value is a usage error)."""
    try:
        return dates.parse_day(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"date invalide « {text.strip()} » (JJ/MM/AAAA ou AAAA-MM-JJ)") from None


def _whole(text: str, highest: int, refusal: str) -> int:
    """`text` as a whole number from 1 to `highest`, else the argparse refusal (a usage
    error)."""
    value = whole_number(text.strip(), highest, lowest=1)
    if value is None:
        raise argparse.ArgumentTypeError(refusal.format(text.strip()))
    return value


def parse_number(text: str) -> int:
    """A number as printed by a listing (argparse type)."""
    return _whole(text, MAX_ID, "numéro invalide « {} »")


def parse_limit(text: str) -> int:
    """How many lines to show (argparse type)."""
    return _whole(text, 100_000, "nombre invalide « {} » (de 1 à 100000)")


def shown(value: object) -> str:
    """`value` as a table shows it: control and format characters (an escape sequence in a
    name someone typed, a right-to-left override) become U+FFFD, so that stored text can
    neither drive the administrator's terminal nor disguise itself."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " if unicodedata.category(c) == "Zs"
                   else "\ufffd" for c in text)


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    rows = [[shown(c) for c in row] for row in rows]
    widths = [max(len(str(x)) for x in [h, *[r[i] for r in rows]]) for i, h in
              enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
