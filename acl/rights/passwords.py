"""Password hashing (argon2 through passlib's CryptContext) and the password policy.

The policy is length-based (NIST SP 800-63B): at least `password_min_length` characters, and
not built on the login or the company name. Passwords are never logged nor stored in clear.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from passlib.context import CryptContext

from acl.errors import InvalidInput
from config.settings import SecuritySettings

MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything; bound the work an attacker can ask for


def make_context(security: SecuritySettings) -> CryptContext:
    """A context whose `verify_and_update` re-hashes when the cost settings change."""
    return CryptContext(
        schemes=["argon2"],
        deprecated="auto",
        argon2__time_cost=security.argon2_time_cost,
        argon2__memory_cost=security.argon2_memory_kib,
        argon2__parallelism=security.argon2_parallelism,
    )


def _folded(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[\W_]+", "", "".join(c for c in text if not unicodedata.combining(c)))\
        .casefold()


def check_password(password: str, *, min_length: int, login: str = "",
                   company_name: str = "") -> None:
    """Raise `InvalidInput` with the reason when `password` breaks the policy."""
    length = len(unicodedata.normalize("NFC", password))
    if length < min_length:
        raise InvalidInput(f"Le mot de passe doit compter au moins {min_length} caractères.",
                           field="password")
    if length > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"Le mot de passe ne peut dépasser {MAX_PASSWORD_LENGTH} caractères.",
                           field="password")
    label = _personal_word(password, login=login, company_name=company_name)
    if label:
        raise InvalidInput(f"Le mot de passe ne doit pas contenir {label}.", field="password")
    if len(set(_folded(password))) <= 2:
        raise InvalidInput("Le mot de passe est trop répétitif.", field="password")


def _personal_word(password: str, *, login: str, company_name: str) -> str | None:
    """What `password` is built on ("l'identifiant", ...), or None."""
    folded = _folded(password)
    for word, label in ((login, "l'identifiant"), (company_name, "le nom de l'entreprise")):
        word = _folded(word)
        if len(word) >= 3 and word in folded:
            return label
    return None


def _draw() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


def generate_password(*, login: str = "", company_name: str = "") -> str:
    """An initial password: 16 characters from an alphabet without look-alikes.

    A draw that happens to contain the login or the company name (a three-letter login turns
    up about once in 1,400 draws) is drawn again, so that the policy never refuses a password
    the person did not choose.
    """
    for _ in range(100):  # bounded; a second draw is already rare
        password = _draw()
        if not _personal_word(password, login=login, company_name=company_name):
            return password
    raise RuntimeError("no generated password avoids the login")  # pragma: no cover


class PasswordHasher:
    """The policy and the hashing context built from the `[security]` settings."""

    def __init__(self, security: SecuritySettings) -> None:
        self.security = security
        self.context = make_context(security)
        # Hash of a random password, verified when a login does not exist so that the answer
        # takes as long as for a real account.
        self._dummy = self.context.hash(secrets.token_urlsafe(16))

    def check(self, password: str, *, login: str = "", company_name: str = "") -> None:
        check_password(password, min_length=self.security.password_min_length, login=login,
                       company_name=company_name)

    def hash(self, password: str) -> str:
        return self.context.hash(password)

    def verify(self, password: str, hashed: str | None) -> tuple[bool, str | None]:
        """(matches, new hash to store when the policy changed since it was made)."""
        if not hashed or len(password) > MAX_PASSWORD_LENGTH:
            self.context.verify("x", self._dummy)
            return False, None
        try:
            return self.context.verify_and_update(password, hashed)
        except ValueError:  # a corrupt or foreign hash: refuse, never crash
            return False, None
