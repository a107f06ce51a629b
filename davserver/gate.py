"""The drive's front door, in front of WsgiDAV: request hygiene, Basic authentication, and
one database session per request.

Hostile or broken input is answered here with a 4xx and one French sentence, before WsgiDAV
or storage see it: traversal and control characters in paths, PROPFIND `Depth: infinity`
(RFC 4918 §9.1 precondition `propfind-finite-depth`), XML bodies with a DTD (entity
expansion, external entities) or over 1 MiB, uploads over the configured maximum.

Authentication is Basic only (Digest needs unhashed passwords; Windows wants Basic over TLS).
Verifying argon2 on every request would make Explorer crawl, so a successful verification is
cached a few minutes under a keyed hash (BLAKE2b) of the credentials, and dropped when the
account's `credentials_version` changes (password change, disablement). Failures are throttled and
locked per login and per address, as for the web sign-in (`acl.people.accounts.authenticate`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes, urlsplit, urlunsplit

from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

from acl.db import Database
from acl.documents.hot import HotQueries
from acl.documents.operations import Limits
from acl.errors import TooLarge
from acl.people.accounts import authenticate
from acl.people.models import User
from acl.rights.passwords import PasswordHasher
from acl.rights.policy import Principal
from acl.rights.principals import load_principal
from config.names import InvalidName, check_segment
from config.numbers import whole_number

if TYPE_CHECKING:
    from davserver.fastpath import FastPath

log = logging.getLogger("liasse.drive")

MAX_XML_BODY = 1024 * 1024
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK"})
REALM = "Liasse"
MAX_LOGIN = 64  # acl.people.accounts.LOGIN_RE
ENCODED_SLASH = "Chemin invalide : la barre oblique encodée « %2F » n'est pas acceptée."
NOT_A_DESTINATION = "Destination invalide : ce n'est pas l'adresse d'un chemin du lecteur."
BROKEN_CHUNKS = "Corps de requête invalide : son découpage en fragments (chunked) est erroné."


def header_number(value: str) -> int | None:
    """A header's non-negative number, or None (ASCII digits only: "²".isdigit() is true)."""
    return whole_number(value)


def announced_length(environ: dict) -> int | None:
    """The body's length the request announced (None: chunked, or not said)."""
    if environ.get("wsgi.input_terminated"):
        return None
    return header_number(environ.get("CONTENT_LENGTH", ""))


def expected_length(environ: dict) -> int | None:
    """The length the body must have: its Content-Length or, for a chunked body, the length
    macOS Finder announces in X-Expected-Entity-Length (None: not said)."""
    if environ.get("wsgi.input_terminated"):
        return header_number(environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH", ""))
    return announced_length(environ)



def _plain(start_response, status: str, message: str,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = (message + "\n").encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def _finite_depth(start_response) -> list[bytes]:
    body = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:">'
            b"<D:propfind-finite-depth/></D:error>")
    start_response("403 Forbidden", [("Content-Type", "application/xml; charset=utf-8"),
                                     ("Content-Length", str(len(body)))])
    return [body]


def path_problem(path_info: str) -> str | None:
    """Why a request path is refused, or None. `path_info` is the WSGI (latin-1) string."""
    try:
        path = path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return "Chemin invalide : il n'est pas encodé en UTF-8."
    if "\\" in path:
        return "Chemin invalide : la barre oblique inverse « \\ » n'est pas acceptée."
    if CONTROL_CHARACTER.search(path):
        return "Chemin invalide : il contient un caractère de contrôle."
    for segment in path.split("/"):
        if segment in (".", ".."):
            return "Chemin invalide : « . » et « .. » ne sont pas acceptés."
        if len(segment.encode("utf-8")) > 255:
            return "Chemin invalide : un nom dépasse 255 octets."
    if len(path.encode("utf-8")) > 4096:
        return "Chemin invalide : il dépasse 4096 octets."
    return None


def destination_problem(environ: dict) -> str | None:
    """Why the Destination of a MOVE/COPY is refused, or None; hands WsgiDAV a Destination it
    reads right. WsgiDAV unquotes the header before splitting it as a URL: an encoded "?"
    would start a query and a ";" in the last name parameters, so the document would be
    renamed to the part before them (replacing a document of that name)."""
    try:
        parts = urlsplit(environ["HTTP_DESTINATION"])
    except ValueError:  # an unreadable URL ("http://[")
        return NOT_A_DESTINATION
    mount = environ.get("SCRIPT_NAME", "")
    if not (parts.path == mount or parts.path.startswith(mount + "/")):
        return NOT_A_DESTINATION  # "http://", "::::", "/ailleurs": not on the drive
    if "%2f" in parts.path.lower():
        return ENCODED_SLASH
    raw = unquote_to_bytes(parts.path).decode("latin-1")
    problem = path_problem(raw)
    if problem is not None:
        return problem
    path = raw.encode("latin-1").decode("utf-8")
    for segment in path.split("/"):
        if "?" in segment:
            try:
                check_segment(segment)
            except InvalidName as exc:
                return f"Nom refusé : {exc}."
    if ";" in path.rsplit("/", 1)[-1]:  # a trailing slash: no ";" after the last "/"
        environ["HTTP_DESTINATION"] = urlunsplit(parts._replace(path=parts.path + "/"))
    return None


@dataclass(frozen=True)
class Account:
    """The signed-in account, as the drive needs it."""

    id: int
    login: str
    side: str


class CredentialCache:
    """Recently verified credentials: MAC(login, password) -> (user id, version, expiry)."""

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


def _credentials(header: str) -> tuple[str, str] | None:
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
        text = raw.decode("latin-1")  # RFC 7617: clients without charset support
    if ":" not in text:
        return None
    login, password = text.split(":", 1)
    login = login.rsplit("\\", 1)[-1].strip()  # Windows may send DOMAIN\user (sabre.io windows.md)
    if len(login) > MAX_LOGIN:  # no such account, and its throttle key would not fit
        return None
    return login, password


class DriveGate:
    def __init__(self, app: Callable, db: Database, hasher: PasswordHasher, *,
                 auth_cache_seconds: float, limits: Limits,
                 hot: HotQueries | None = None, fast: FastPath | None = None) -> None:
        self.app = app
        self.db = db
        self.hot = hot or HotQueries(db.engine)
        self.hasher = hasher
        self.cache = CredentialCache(auth_cache_seconds)
        self._principals: dict[int, tuple[tuple[int, int, int], Account, Principal]] = {}
        self._principals_lock = threading.Lock()
        self.limits = limits
        self.fast = fast

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("wsgi.input_terminated"):  # a chunked body
            environ["wsgi.input"] = _ChunkedBody(environ["wsgi.input"])
            start_response = _close_if_unread(environ["wsgi.input"], start_response)
        if environ.get("REQUEST_METHOD") == "OPTIONS" and "%" in environ.get("PATH_INFO", ""):
            # cheroot leaves the path of OPTIONS requests percent-encoded (server.py,
            # read_request_line): decode it like every other method's.
            environ["PATH_INFO"] = unquote_to_bytes(environ["PATH_INFO"]).decode("latin-1")
        refused = self._hygiene(environ, start_response)
        if refused is not None:
            return refused
        with self.hot.connection() as connection:
            identity = self._identify(environ, connection)
            if identity is None:
                return _plain(start_response, "401 Unauthorized",
                              "Identifiant ou mot de passe requis.",
                              [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')])
            environ["liasse.user"], environ["liasse.principal"] = identity
            answer = self.fast(environ, start_response, connection) if self.fast else None
        if answer is not None:
            return answer
        environ["wsgidav.auth.user_name"] = identity[0].login
        environ["wsgidav.auth.realm"] = REALM
        session = self.db.session()
        environ["liasse.session"] = session
        try:
            result = self.app(environ, start_response)
        except BaseException:
            session.close()
            raise
        return _ClosingIterable(result, session.close)

    def _hygiene(self, environ: dict, start_response) -> list[bytes] | None:
        method = environ.get("REQUEST_METHOD", "")
        problem = path_problem(environ.get("PATH_INFO", ""))
        if problem is None and "%2f" in environ.get("REQUEST_URI", "").split("?")[0].lower():
            problem = ENCODED_SLASH  # cheroot keeps it in PATH_INFO: "..%2f" would be a name
        if problem is None and environ.get("HTTP_DESTINATION"):
            problem = destination_problem(environ)
        if problem:
            return _plain(start_response, "400 Bad Request", problem)
        if method == "PROPFIND" and environ.get("HTTP_DEPTH", "infinity").strip().lower() \
                == "infinity":
            return _finite_depth(start_response)
        length = environ.get("CONTENT_LENGTH") or ""
        size = header_number(length) if length else None
        if length and size is None:
            return _plain(start_response, "400 Bad Request", "En-tête Content-Length invalide.")
        expected = environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH")  # Finder's, with chunks
        if expected is not None and header_number(expected) is None:
            return _plain(start_response, "400 Bad Request",
                          "En-tête X-Expected-Entity-Length invalide.")
        if method in XML_METHODS:
            return self._check_xml_body(environ, start_response, size)
        if method == "PUT":  # refused before anything is read (the quota needs the user)
            announced = expected_length(environ)
            try:
                self.limits.check(announced or 0, None)
            except TooLarge as refusal:
                return _plain(start_response, "413 Content Too Large", refusal.reason)
        return None

    def _check_xml_body(self, environ, start_response, size: int | None) -> list[bytes] | None:
        if size is not None and size > MAX_XML_BODY:
            return _plain(start_response, "413 Content Too Large",
                          "Corps de requête XML trop volumineux (1 Mio au plus).")
        stream = environ["wsgi.input"]
        try:
            body = stream.read(size) if size is not None else stream.read(MAX_XML_BODY + 1)
        except DAVError as refused:  # a broken chunked body (_ChunkedBody)
            return _plain(start_response, "400 Bad Request", refused.context_info)
        if len(body) > MAX_XML_BODY:
            return _plain(start_response, "413 Content Too Large",
                          "Corps de requête XML trop volumineux (1 Mio au plus).")
        if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
            return _plain(start_response, "400 Bad Request",
                          "Les déclarations DTD et les entités XML ne sont pas acceptées.")
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return None

    def _identify(self, environ: dict, connection) -> tuple[Account, Principal] | None:
        """The signed-in account and its rights, or None (401)."""
        credentials = _credentials(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is None:
            return None
        login, password = credentials
        cached = self.cache.get(login, password)
        if cached is not None:
            identity = self._identity(environ, connection, *cached)
            if identity is not None:
                return identity
            self.cache.drop(login, password)  # password changed or account disabled
        address = environ.get("REMOTE_ADDR", "")
        with self.db.transaction() as tx:
            outcome = authenticate(tx, self.hasher, login, password, address)
            user_id = outcome.user.id if outcome.user else None
            version = outcome.user.credentials_version if outcome.user else 0
        if user_id is None:
            log.info("drive sign-in refused for %r from %s: %s", login, address,
                     outcome.reason)
            if outcome.delay:
                time.sleep(outcome.delay)
            return None
        self.cache.put(login, password, user_id, version)
        return self._identity(environ, connection, user_id, version)

    def _identity(self, environ: dict, connection, user_id: int,
                  credentials_version: int) -> tuple[Account, Principal] | None:
        """One query checks the account and the rights generation; the principal is loaded
        again only when an administrative act has happened since (acl.rights.audit)."""
        row = self.hot.account(connection, user_id)
        if row is None or not row.active or row.credentials_version != credentials_version:
            return None
        environ["liasse.generation"] = row.rights_generation
        key = (user_id, credentials_version, row.rights_generation)
        with self._principals_lock:
            cached = self._principals.get(user_id)
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        account = Account(user_id, row.login, row.side)
        with self.db.session() as session:
            principal = load_principal(session, session.get(User, user_id))
        with self._principals_lock:
            if len(self._principals) > 10000:
                self._principals.clear()
            self._principals[user_id] = (key, account, principal)
        return account, principal


def _close_if_unread(body, start_response: Callable) -> Callable:
    """cheroot keeps the connection open after answering a chunked request whose body was not
    read to its end (a refused upload), and then reads the rest of the body as the next
    request: the client's next request on that connection would get a stray 400. Ask the
    client to close the connection instead."""

    def start(status, headers, exc_info=None):
        if not getattr(body, "closed", True):
            headers = [*headers, ("Connection", "close")]
        return start_response(status, headers, exc_info)

    return start


class _ChunkedBody:
    """cheroot's reader of a chunked body, whose broken framing is the client's error: it
    raises ValueError, which WsgiDAV and cheroot answer with a 500; here a 400."""

    def __init__(self, body) -> None:
        self._body = body

    @property
    def closed(self) -> bool:  # read to its end (`_close_if_unread`)
        return getattr(self._body, "closed", True)

    def read(self, *args) -> bytes:
        return self._framed(self._body.read, *args)

    def readline(self, *args) -> bytes:
        return self._framed(self._body.readline, *args)

    @staticmethod
    def _framed(reading: Callable[..., bytes], *args) -> bytes:
        try:
            return reading(*args)
        except ValueError:
            raise DAVError(HTTP_BAD_REQUEST, BROKEN_CHUNKS) from None


class _ClosingIterable:
    """Run `on_close` once the server is done with the response (after streaming)."""

    def __init__(self, result: Iterable[bytes], on_close: Callable[[], None]) -> None:
        self._result = result
        self._on_close = on_close

    def __iter__(self):
        return iter(self._result)

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                close()
        finally:
            self._on_close()
