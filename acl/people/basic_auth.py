"""HTTP Basic credentials, as the drive and the feeds receive them, and the cache of the ones
verified recently (argon2 is slow by design; WebDAV clients and feed readers send the same
credentials with every request)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time

MAX_LOGIN = 64  # acl.people.accounts.LOGIN_RE


def basic_credentials(header: str) -> tuple[str, str] | None:
    """(login, password) of an `Authorization: Basic ...` header, else None. UTF-8, or
    Latin-1 from clients without charset support (RFC 7617); Windows may send DOMAIN\\user
    (sabre.io windows.md)."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if ":" not in text:
        return None
    login, password = text.split(":", 1)
    login = login.rsplit("\\", 1)[-1].strip()
    if not login or len(login) > MAX_LOGIN:  # no such account; its throttle key would not fit
        return None
    return login, password


class CredentialCache:
    """Recently verified credentials: MAC(login, password) -> (user id, credentials version,
    expiry). A password change or a disablement changes the version, which the caller
    compares with the database's at every request, so an entry never outlives them."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._key = secrets.token_bytes(32)  # per process: nothing to steal from a dump
        self._entries: dict[bytes, tuple[int, int, float]] = {}
        self._lock = threading.Lock()

    def _digest(self, login: str, password: str) -> bytes:
        # keyed BLAKE2b: a MAC in one call (HMAC-SHA256 costs several Python-level calls)
        return hashlib.blake2b(f"{login}\0{password}".encode(), key=self._key,
                               digest_size=32).digest()

    def get(self, login: str, password: str) -> tuple[int, int] | None:
        digest = self._digest(login, password)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if entry[2] < time.monotonic():
                del self._entries[digest]
                return None
            return entry[0], entry[1]

    def put(self, login: str, password: str, user_id: int, version: int) -> None:
        if self.ttl <= 0:
            return
        digest = self._digest(login, password)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = (user_id, version, time.monotonic() + self.ttl)

    def drop(self, login: str, password: str) -> None:
        with self._lock:
            self._entries.pop(self._digest(login, password), None)
