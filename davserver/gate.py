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

import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes, urlsplit, urlunsplit

from lxml import etree
from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

from acl.db import Database, utcnow
from acl.documents.delivery import SANDBOX
from acl.documents.hot import HotQueries
from acl.documents.limits import Limits
from acl.documents.operations import MAX_DEPTH
from acl.errors import TooLarge
from acl.people.accounts import attempt_sign_in
from acl.people.basic_auth import CredentialCache, basic_credentials
from acl.people.models import User
from acl.rights.passwords import PasswordHasher
from acl.rights.policy import Principal
from acl.rights.principals import load_principal
from acl.rights.throttle import client_address
from config.names import InvalidName, check_segment
from config.numbers import whole_number

if TYPE_CHECKING:
    from davserver.fastpath import FastPath

log = logging.getLogger("liasse.drive")

MAX_XML_BODY = 1024 * 1024
MAX_SEGMENTS = MAX_DEPTH + 4  # company, standard folder, the folders, a document, a "/"
CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f]")
XML_METHODS = frozenset({"PROPFIND", "PROPPATCH", "LOCK", "REPORT"})
REALM = "Liasse"
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



_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              huge_tree=False)
NO_DTD = "Les déclarations DTD et les entités XML ne sont pas acceptées."


def xml_problem(body: bytes) -> str | None:
    """Why a request's XML body is refused, or None: not XML, or a DTD or an entity, in
    whatever encoding it declares (a check of the raw bytes misses UTF-16)."""
    if not body.strip():
        return None
    try:
        root = etree.fromstring(body, parser=_XML_PARSER)
    except etree.XMLSyntaxError as exc:
        if "entity" in str(exc).lower():  # an entity reference without its declaration
            return NO_DTD
        return "Corps de requête XML invalide."
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None or any(
            isinstance(node, etree._Entity) for node in root.iter()):
        return NO_DTD
    return None


def _plain(start_response, status: str, message: str,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    body = (message + "\n").encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


FINITE_DEPTH = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:">'
                b"<D:propfind-finite-depth/></D:error>")


def _finite_depth(start_response) -> list[bytes]:
    start_response("403 Forbidden", [("Content-Type", "application/xml; charset=utf-8"),
                                     ("Content-Length", str(len(FINITE_DEPTH)))])
    return [FINITE_DEPTH]


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
    if path.count("/") > MAX_SEGMENTS:  # none so deep exists (acl.documents.operations)
        return "Chemin invalide : trop de niveaux de dossiers."
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


class _Refusal(Exception):
    """A sign-in the gate answers itself: its status, sentence and headers."""

    def __init__(self, status: str, message: str, headers: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


CHALLENGE = ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')
MUST_CHANGE = ("Mot de passe provisoire : choisissez le vôtre dans l'application web (page « "
               "Connexion »), puis reconnectez le lecteur avec lui.")


class DriveGate:
    def __init__(self, app: Callable, db: Database, hasher: PasswordHasher, *,
                 auth_cache_seconds: float, limits: Limits,
                 trusted_proxies: tuple[str, ...] = (),
                 hot: HotQueries | None = None, fast: FastPath | None = None,
                 changes: Callable | None = None) -> None:
        self.app = app
        self.db = db
        self.hot = hot or HotQueries(db.engine)
        self.hasher = hasher
        self.cache = CredentialCache(auth_cache_seconds)
        self._principals: dict[int, tuple[tuple[int, int, int], Account, Principal]] = {}
        self._principals_lock = threading.Lock()
        self.limits = limits
        self.trusted_proxies = trusted_proxies
        self.fast = fast
        self.changes = changes  # the sync-collection REPORT (davserver/changes.py)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response = _untrusted(start_response)
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
            try:
                identity = self._identify(environ, connection)
            except _Refusal as refusal:
                return _plain(start_response, refusal.status, refusal.message, refusal.headers)
            environ["liasse.user"], environ["liasse.principal"] = identity
            answer = self.fast(environ, start_response, connection) if self.fast else None
        if answer is None and self.changes is not None:
            answer = self.changes(environ, start_response)
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
        if method == "PROPFIND":
            depth = environ.get("HTTP_DEPTH")
            if depth is None:  # infinity, unless the target is no folder (provider.py)
                environ["liasse.depth_missing"] = True
            elif depth.strip().lower() == "infinity":
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
        problem = xml_problem(body)
        if problem:
            return _plain(start_response, "400 Bad Request", problem)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return None

    def _identify(self, environ: dict, connection) -> tuple[Account, Principal]:
        """The signed-in account and its rights; else `_Refusal`: 401 (no or wrong
        credentials: the client asks again), 429 (a login locked after too many failures:
        not a wrong password, RFC 6585), 403 (a password to change first)."""
        credentials = basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        if credentials is None or not credentials[0]:
            raise _Refusal("401 Unauthorized", "Identifiant ou mot de passe requis.",
                           [CHALLENGE])
        login, password = credentials
        cached = self.cache.get(login, password)
        if cached is not None:
            identity = self._identity(environ, connection, *cached)
            if identity is not None:
                return identity
            self.cache.drop(login, password)  # password changed or account disabled
        address = client_address(environ.get("REMOTE_ADDR", ""),
                                 environ.get("HTTP_X_FORWARDED_FOR", ""), self.trusted_proxies)
        outcome = attempt_sign_in(self.db, self.hasher, login, password, address)
        user_id = outcome.user.id if outcome.user else None
        version = outcome.user.credentials_version if outcome.user else 0
        if user_id is None:
            log.info("drive sign-in refused for %r from %s: %s", login, address,
                     outcome.reason)
            if outcome.delay:
                time.sleep(outcome.delay)
            if outcome.throttled:
                wait = max(1, int((outcome.locked_until - utcnow()).total_seconds()))
                raise _Refusal("429 Too Many Requests", outcome.reason,
                               [("Retry-After", str(wait))])
            raise _Refusal("401 Unauthorized", outcome.reason, [CHALLENGE])
        self.cache.put(login, password, user_id, version)
        identity = self._identity(environ, connection, user_id, version)
        if identity is None:  # disabled meanwhile
            raise _Refusal("401 Unauthorized", outcome.reason, [CHALLENGE])
        return identity

    def _identity(self, environ: dict, connection, user_id: int,
                  credentials_version: int) -> tuple[Account, Principal] | None:
        """One query checks the account and the rights generation; the principal is loaded
        again only when an administrative act has happened since (acl.rights.audit). A
        password given by someone else (a reset) must be changed first: refused (403)."""
        row = self.hot.account(connection, user_id)
        if row is None or not row.active or row.credentials_version != credentials_version:
            return None
        if row.must_change_password:
            raise _Refusal("403 Forbidden", MUST_CHANGE, [])
        environ["liasse.generation"] = row.rights_generation
        environ["liasse.lock_generation"] = row.lock_generation
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


def _untrusted(start_response: Callable) -> Callable:
    """Every answer of the drive (a document's body, WsgiDAV's HTML listing of a folder or
    its status pages) is content that must not run in the app's origin: nosniff and a
    sandbox, whatever it is (a document also gets its Content-Disposition: resources.py and
    the fast path)."""

    def start(status, headers, exc_info=None):
        present = {name.lower() for name, _ in headers}
        extra = [(name, value) for name, value in (("X-Content-Type-Options", "nosniff"),
                                                   ("Content-Security-Policy", SANDBOX))
                 if name.lower() not in present]
        return start_response(status, [*headers, *extra], exc_info)

    return start


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
