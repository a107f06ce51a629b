"""The drive, seen from the sync tool: PROPFIND Depth 1, GET, PUT, MKCOL and the RFC 6578
`sync-collection` REPORT, over one kept-alive HTTP(S) connection.

Faults: a refused password or a locked login stops the run at once (`SignInRefused`) —
never tried again, so that a wrong password costs one failure, not a storm against the
server's lockout; a connection that fails or a 5xx answer is tried again `retries` times,
waiting `backoff`, 2×, 4×… between tries (`Unreachable` after the last).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit
from xml.etree import ElementTree

USER_AGENT = "liasse-sync/1.0"
CHUNK = 256 * 1024
D = "{DAV:}"
PROPFIND_BODY = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
                 b"<D:resourcetype/><D:getcontentlength/><D:getetag/><D:getlastmodified/>"
                 b"</D:prop></D:propfind>")


class RemoteError(Exception):
    """A request the server refused or could not answer, with a French sentence."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class SignInRefused(RemoteError):
    """Wrong password, locked or disabled account: the run cannot go on."""


class Unreachable(RemoteError):
    """No answer, or only 5xx, after every retry."""


class LocalFault(Exception):
    """Writing a downloaded body failed on the local disk (full, too big, refused)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class ChangedOnline(RemoteError):
    """A conditional upload refused (412): the document changed online since it was listed,
    or one of that name appeared there."""


class TokenRefused(RemoteError):
    """The change token is no longer valid (or the server has no sync-collection)."""


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    is_dir: bool
    size: int
    sha256: str
    mtime: float  # epoch seconds


@dataclass(frozen=True)
class Changes:
    changed: tuple[str, ...]  # company folder names to list again
    removed: tuple[str, ...]  # company folder names the account no longer reaches
    token: str


def _text(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text and not text.startswith("<") else ""


class Drive:
    def __init__(self, server: str, user: str, password: str, *, timeout: float = 60,
                 retries: int = 4, backoff: float = 1.0, ca_file: str = "",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        parts = urlsplit(server)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port
        self.prefix = parts.path.rstrip("/") + "/dav/"
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self.context = ssl.create_default_context(cafile=ca_file or None) \
            if self.scheme == "https" else None
        self._connection: http.client.HTTPConnection | None = None
        self.requests = 0  # counted for the report and the bench

    # --- transport ---------------------------------------------------------------------

    def url_path(self, segments: tuple[str, ...] | list[str], folder: bool = False) -> str:
        path = self.prefix + "/".join(quote(s, safe="") for s in segments)
        return path + "/" if folder and segments else path

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self.scheme == "https":
                self._connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout, context=self.context)
            else:
                self._connection = http.client.HTTPConnection(self.host, self.port,
                                                              timeout=self.timeout)
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def request(self, method: str, path: str, *, headers: dict | None = None,
                body: bytes | Callable[[], BinaryIO] | None = None, length: int | None = None,
                sink: Callable[[http.client.HTTPResponse], object] | None = None,
                ok: tuple[int, ...] = (200, 201, 204, 207)) -> tuple[int, dict, object]:
        """(status, headers, body or what `sink` made of the response), tried again on a
        network fault or a 5xx; `body` may be a callable opening the body afresh per try."""
        sent = {"Authorization": self.auth, "User-Agent": USER_AGENT, **(headers or {})}
        delay = self.backoff
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(delay)
                delay *= 2
            stream = body() if callable(body) else body
            try:
                connection = self._connect()
                if length is not None:
                    sent["Content-Length"] = str(length)
                connection.request(method, path, body=stream, headers=sent)
                self.requests += 1
                response = connection.getresponse()
                status = response.status
                if status >= 500:
                    last = f"le serveur a répondu {status} {response.reason}"
                    response.read()
                    self.close()
                    continue
                if status in ok and sink is not None:
                    result = sink(response)
                else:
                    result = response.read()
                answer = {k.lower(): v for k, v in response.getheaders()}
                if response.will_close:
                    self.close()
                self._refuse(status, answer, result if isinstance(result, bytes) else b"")
                return status, answer, result
            except LocalFault:
                self.close()  # the rest of the body is unread
                raise
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                last = _network_reason(exc)
                self.close()
            finally:
                if callable(body) and stream is not None:
                    stream.close()
        raise Unreachable(f"serveur injoignable après {self.retries + 1} tentatives : {last}.")

    @staticmethod
    def _refuse(status: int, headers: dict, data: bytes) -> None:
        if status == 401:
            raise SignInRefused("connexion refusée : identifiant ou mot de passe incorrect "
                                f"({_text(data) or 'refusé par le serveur'}).", status)
        if status == 429:
            raise SignInRefused("compte temporairement verrouillé après trop d'échecs de "
                                f"connexion ; réessayez dans {headers.get('retry-after', '?')} s "
                                f"({_text(data)}).", status)
        if status == 403 and "mot de passe" in _text(data).lower():
            raise SignInRefused(f"connexion refusée : {_text(data)}", status)

    # --- the drive -----------------------------------------------------------------------

    def changes(self, token: str) -> Changes:
        body = ('<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
                f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
                "<D:prop><D:getetag/></D:prop></D:sync-collection>").encode()
        status, _, data = self.request("REPORT", self.prefix, body=body, length=len(body),
                                       headers={"Depth": "0", "Content-Type":
                                                "application/xml; charset=utf-8"})
        if status != 207:
            raise TokenRefused(f"jeton de changements refusé ({status})", status)
        root = ElementTree.fromstring(data)
        changed, removed = [], []
        for response in root.iter(D + "response"):
            href = unquote(response.findtext(D + "href") or "")
            name = href[len(self.prefix):].strip("/") if href.startswith(self.prefix) else ""
            if not name or "/" in name:
                continue
            status_text = response.findtext(D + "status") or ""
            (removed if " 404 " in status_text else changed).append(name)
        token_text = root.findtext(D + "sync-token") or ""
        return Changes(tuple(changed), tuple(removed), token_text)

    def list_folder(self, segments: tuple[str, ...]) -> list[RemoteEntry]:
        """The members of a folder (None-safe: a folder gone answers RemoteError 404)."""
        path = self.url_path(segments, folder=True) if segments else self.prefix
        status, _, data = self.request("PROPFIND", path, body=PROPFIND_BODY,
                                       length=len(PROPFIND_BODY),
                                       headers={"Depth": "1", "Content-Type":
                                                "application/xml; charset=utf-8"})
        if status != 207:
            raise RemoteError(f"lecture du dossier refusée ({status} : {_text(data)})", status)
        own = unquote(path).rstrip("/")
        return [entry for href, entry in _entries(data) if href != own]

    def stat(self, segments: tuple[str, ...]) -> RemoteEntry | None:
        """The document as it is online now (PROPFIND Depth 0), or None if there is none."""
        status, _, data = self.request("PROPFIND", self.url_path(segments),
                                       body=PROPFIND_BODY, length=len(PROPFIND_BODY),
                                       headers={"Depth": "0", "Content-Type":
                                                "application/xml; charset=utf-8"},
                                       ok=(207, 404))
        if status == 404:
            return None
        if status != 207:
            raise RemoteError(f"lecture du document refusée ({status} : {_text(data)})", status)
        entries = _entries(data)
        return entries[0][1] if entries else None

    def download(self, segments: tuple[str, ...], out: BinaryIO,
                 progress: Callable[[int], None] | None = None) -> tuple[str, int]:
        """Write the document's body to `out`: (sha256, size) of what was written."""
        def sink(response: http.client.HTTPResponse) -> tuple[str, int]:
            try:
                out.seek(0)
                out.truncate()
            except OSError as exc:
                raise LocalFault(exc) from exc
            digest = hashlib.sha256()
            size = 0
            while chunk := response.read(CHUNK):
                try:
                    out.write(chunk)
                except OSError as exc:  # the local disk, not the network: no retry
                    raise LocalFault(exc) from exc
                digest.update(chunk)
                size += len(chunk)
                if progress:
                    progress(len(chunk))
            return digest.hexdigest(), size

        status, _, result = self.request("GET", self.url_path(segments), sink=sink, ok=(200,))
        if status != 200:
            raise RemoteError(f"téléchargement refusé ({status} : {_text(result)})", status)
        return result  # type: ignore[return-value]

    def upload(self, segments: tuple[str, ...], opener: Callable[[], BinaryIO],
               size: int, *, online: str | None) -> str:
        """PUT a body of `size` bytes, on condition that the document online is still the
        one listed: `online` its sha256 (If-Match), or None for a document absent online
        (If-None-Match: *). `ChangedOnline` when it is not; else the ETag the server gave
        the body (its sha256)."""
        condition = {"If-Match": f'"{online}"'} if online else {"If-None-Match": "*"}
        status, headers, data = self.request(
            "PUT", self.url_path(segments), body=opener, length=size,
            headers={"Content-Type": "application/octet-stream", **condition})
        if status == 412:
            raise ChangedOnline("modifié en ligne pendant l'envoi", status)
        if status not in (200, 201, 204):
            raise RemoteError(f"dépôt refusé ({status} : {_text(data)})", status)
        return headers.get("etag", "").strip('"')

    def mkcol(self, segments: tuple[str, ...]) -> None:
        status, _, data = self.request("MKCOL", self.url_path(segments, folder=True),
                                       ok=(201, 405))
        if status not in (201, 405):  # 405: it exists already
            raise RemoteError(f"création du dossier refusée ({status} : {_text(data)})", status)


def _entries(data: bytes) -> list[tuple[str, RemoteEntry]]:
    """(decoded href path without its final "/", entry) of each member of a multistatus."""
    entries = []
    for response in ElementTree.fromstring(data).iter(D + "response"):
        href = unquote(urlsplit(response.findtext(D + "href") or "").path).rstrip("/")
        prop = None
        for propstat in response.iter(D + "propstat"):
            if " 200 " in (propstat.findtext(D + "status") or ""):
                prop = propstat.find(D + "prop")
        if prop is None:
            continue
        kind = prop.find(D + "resourcetype")
        is_dir = kind is not None and kind.find(D + "collection") is not None
        modified = prop.findtext(D + "getlastmodified")
        mtime = parsedate_to_datetime(modified).timestamp() if modified else 0.0
        entries.append((href, RemoteEntry(
            name=href.rsplit("/", 1)[-1], is_dir=is_dir,
            size=int(prop.findtext(D + "getcontentlength") or 0),
            sha256=(prop.findtext(D + "getetag") or "").strip('"').removeprefix("W/")
            .strip('"'), mtime=mtime)))
    return entries


def _network_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connexion refusée"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "délai d'attente dépassé"
    if isinstance(exc, ssl.SSLError):
        return f"erreur TLS ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return "nom du serveur inconnu"
    return f"{type(exc).__name__} : {exc}" if str(exc) else type(exc).__name__
