"""Composition root: one cheroot server, one port — `/dav` drive, `/feeds` feeds, `/` web app."""

from __future__ import annotations

import gc
import logging
import os
import select
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cheroot import wsgi
from cheroot.server import HTTPConnection, HTTPRequest
from cheroot.ssl.builtin import BuiltinSSLAdapter
from sqlalchemy.exc import SQLAlchemyError

from acl.db import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, Database
from acl.errors import StorageUnavailable
from acl.rights.passwords import PasswordHasher
from config.settings import Settings
from davserver.app import MOUNT_PATH, build_drive
from feeds.app import build_feeds
from invoicing_web.app import create_app

log = logging.getLogger("liasse.server")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


ROOT_PROPFIND = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">'
                 b"<D:response><D:href>/</D:href><D:propstat><D:prop><D:resourcetype>"
                 b"<D:collection/></D:resourcetype><D:displayname>Liasse</D:displayname>"
                 b"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
                 b"%s</D:multistatus>")
DAV_MEMBER = (b"<D:response><D:href>/dav/</D:href><D:propstat><D:prop><D:resourcetype>"
              b"<D:collection/></D:resourcetype><D:displayname>dav</D:displayname></D:prop>"
              b"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")


def _dav_discovery(app: WSGIApp) -> WSGIApp:
    """The server root answers like a WebDAV collection holding /dav/: Windows' WebDAV
    client asks the root (OPTIONS, often anonymously, then PROPFIND) before the drive's own
    path and gives up on a root without a DAV header (wsgidav user_guide_access;
    redmine_dmsf#1346). Everything else at / is the web app."""

    def discovery(environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO", "/") not in ("", "/", "*") or \
                method not in ("OPTIONS", "PROPFIND"):
            return app(environ, start_response)
        if method == "OPTIONS":
            start_response("200 OK", [("DAV", "1, 2"), ("MS-Author-Via", "DAV"),
                                      ("Allow", "OPTIONS, GET, HEAD, PROPFIND"),
                                      ("Content-Length", "0")])
            return [b""]
        depth = environ.get("HTTP_DEPTH", "infinity").strip()
        if depth not in ("0", "1"):
            body = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:">'
                    b"<D:propfind-finite-depth/></D:error>")
            status = "403 Forbidden"
        else:
            body = ROOT_PROPFIND % (DAV_MEMBER if depth == "1" else b"")
            status = "207 Multi-Status"
        start_response(status, [("Content-Type", "application/xml; charset=utf-8"),
                                ("Content-Length", str(len(body)))])
        return [body]

    return discovery


def build_application(settings: Settings, db: Database) -> WSGIApp:
    hasher = PasswordHasher(settings.security)
    return _no_body_for_head(busy_database_is_503(db, wsgi.PathInfoDispatcher({
        MOUNT_PATH: build_drive(settings, db, hasher),
        "/feeds": build_feeds(settings, db, hasher),
        HEALTH_PATH: health(db),
        "/": _dav_discovery(create_app(settings, db)),
    })))


HEALTH_PATH = "/sante"


def health(db: Database) -> WSGIApp:
    """`GET /sante`: 200 while this process serves and reaches the database, else 503 — what
    a load balancer asks before sending a node requests (README, "Several servers"). No
    sign-in, nothing written, nothing said but up or down; one `SELECT 1` on a pooled
    connection (the pool's liveness check replaces one the database dropped)."""

    def app(environ, start_response):
        if environ.get("PATH_INFO", "") not in ("", "/"):
            return _plain(start_response, "404 Not Found", b"introuvable\n")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _plain(start_response, "405 Method Not Allowed", b"GET ou HEAD\n",
                          [("Allow", "GET, HEAD")])
        try:
            with db.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            log.warning("health check: the database does not answer", exc_info=True)
            return _plain(start_response, "503 Service Unavailable", BUSY,
                          [("Retry-After", str(RETRY_AFTER_SECONDS))])
        return _plain(start_response, "200 OK", b"ok\n")

    return app


def _plain(start_response, status: str, body: bytes, extra: list | None = None) -> list:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Cache-Control", "no-store"),
                            ("Content-Length", str(len(body))), *(extra or [])])
    return [body]


BUSY = (UNAVAILABLE_MESSAGE + "\n").encode()
STORAGE_UNAVAILABLE = f"{StorageUnavailable.reason}\n".encode()


def busy_database_is_503(db: Database, app: WSGIApp) -> WSGIApp:
    """A database that is busy past its timeout (SQLite's single writer under a burst of
    first sign-ins) or gone for a moment is a 503 with Retry-After, which clients retry —
    not a 500: the request's transaction was rolled back, nothing is half-written. So is
    the bucket of the bodies unreachable or refusing (`StorageUnavailable`): a body is
    stored before the row that points at it, so nothing points at a missing one."""

    def middleware(environ, start_response):
        try:
            return app(environ, start_response)
        except db.unavailable:
            log.warning("database unavailable for %s %s: answered 503",
                        environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"), exc_info=True)
            body = BUSY
        except StorageUnavailable:  # logged where it was met (acl.documents.s3store)
            body = STORAGE_UNAVAILABLE
        start_response("503 Service Unavailable", [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Retry-After", str(RETRY_AFTER_SECONDS)),
            ("Content-Length", str(len(body)))], sys.exc_info())
        return [body]

    return middleware


# Set to "1" in the environment of `liasse serve --workers N`: each answer names the worker
# process that made it (tests and diagnosis; a process id is nobody else's business).
WORKER_HEADER_VARIABLE = "LIASSE_WORKER_HEADER"


def with_worker_header(app: WSGIApp) -> WSGIApp:
    def middleware(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Liasse-Worker", str(os.getpid()))],
                                  exc_info)

        return app(environ, start)

    return middleware


def _no_body_for_head(app: WSGIApp) -> WSGIApp:
    """No body on any answer to HEAD, whichever app made it (RFC 9110 §9.3.2): cheroot
    sends what it is given, and a body after the head of a HEAD answer is read as the next
    answer on a kept-alive connection (behind a pooling proxy, another user's). The headers
    stay those of GET (Content-Length included)."""

    def middleware(environ, start_response):
        if environ.get("REQUEST_METHOD") != "HEAD":
            return app(environ, start_response)
        started: list[bool] = []

        def start(status, headers, exc_info=None):
            started.append(True)
            return start_response(status, headers, exc_info)

        result = app(environ, start)
        try:
            chunks = iter(result)
            while not started and next(chunks, None) is not None:
                pass  # an app that starts its answer with its first chunk
        finally:
            getattr(result, "close", lambda: None)()
        return [b""]

    return middleware


def tune_garbage_collector() -> None:
    """Once everything is loaded: keep the objects of startup (modules, the ORM's mappings)
    out of every future collection, and collect the youngest objects less often. A listing
    of 10,000 documents allocates ~100,000 containers; with the default thresholds the
    collector ran dozens of times during it and scanned the whole heap several times
    (measured: 10,000-document listing 180 ms → 120 ms)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: bool

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"


LINGER_SECONDS = 0.005
LINGER_MAX_REQUESTS = 100


class HeadHoldingWriter:
    """The connection's writer, able to keep the response head until the body's first
    piece, so that both leave in one write: cheroot writes the head, then each piece, each
    at once (one system call, one TCP segment, and on a busy server one more hand-over of
    the interpreter lock between threads per response)."""

    def __init__(self, writer) -> None:
        self._writer = writer
        self._hold = False
        self._held: bytes | None = None

    def hold_next(self) -> None:
        """Keep what the next `write` gives until the write after it, or `release`."""
        self._hold = True

    def write(self, data) -> int:
        if self._hold:
            self._hold = False
            self._held = bytes(data)
            return len(data)
        if self._held is not None:
            data, self._held = b"".join((self._held, data)), None
        return self._writer.write(data)

    def release(self) -> None:
        """Write what is held (a response without a body: HEAD, 204, 304)."""
        self._hold = False
        if self._held is not None:
            held, self._held = self._held, None
            self._writer.write(held)

    @property
    def bytes_written(self) -> int:  # cheroot's statistics
        return self._writer.bytes_written


# Where a request's body ends must be certain: a proxy in front that read it otherwise would
# take the rest for another request than the server does (request smuggling, RFC 9112 6.3).
TWO_LENGTHS = "Requête invalide : deux longueurs de corps différentes."
LENGTH_AND_CHUNKS = "Requête invalide : une longueur de corps et un envoi fragmenté à la fois."


class _RequestHeaders(dict):
    """A request's headers as cheroot reads them (it keeps the last of repeated ones),
    refusing two different Content-Length (cheroot answers its ValueError with a 400)."""

    def __setitem__(self, key: bytes, value: bytes) -> None:
        if key == b"Content-Length" and self.get(key, value) != value:
            raise ValueError(TWO_LENGTHS)
        super().__setitem__(key, value)


class LiasseRequest(HTTPRequest):
    """cheroot's request, whose response head leaves with the first piece of its body, and
    which refuses a body whose end is ambiguous (two lengths, or a length and chunks)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.inheaders = _RequestHeaders()

    def read_request_headers(self) -> bool:
        if not super().read_request_headers():
            return False
        if b"Transfer-Encoding" in self.inheaders and b"Content-Length" in self.inheaders:
            self.simple_response("400 Bad Request", LENGTH_AND_CHUNKS)
            return False
        return True

    def send_headers(self) -> None:
        hold = getattr(self.conn.wfile, "hold_next", None)  # cheroot may swap the writer
        if hold is not None:
            hold()
        super().send_headers()

    def respond(self) -> None:
        try:
            super().respond()
        finally:
            release = getattr(self.conn.wfile, "release", None)
            if release is not None:
                release()


class LingeringConnection(HTTPConnection):
    """A keep-alive connection whose worker waits a moment for the client's next request.

    cheroot hands a kept-alive connection back to its selector thread after each request;
    the next request then crosses two threads (the selector's wake-up, an epoll register and
    unregister, the workers' queue) before a worker reads it. A WebDAV client sends its
    requests back to back (Explorer's bursts, a sync tool's uploads), so the worker that
    answered waits up to LINGER_SECONDS for the next one and reads it itself, as long as
    another worker is idle (then lingering keeps no connection waiting) and at most
    LINGER_MAX_REQUESTS times in a row. A connection that stays quiet goes back to the
    selector as before.

    Its responses go out as `LiasseRequest` writes them."""

    RequestHandlerClass = LiasseRequest

    def __init__(self, server, sock, *args) -> None:  # args: cheroot's makefile, if given
        super().__init__(server, sock, *args)
        self.wfile = HeadHoldingWriter(self.wfile)

    def communicate(self) -> bool:
        keep_open = super().communicate()
        for _ in range(LINGER_MAX_REQUESTS):
            if not (keep_open and self._next_request_soon()):
                break
            keep_open = super().communicate()
        return keep_open

    def _next_request_soon(self) -> bool:
        pending = getattr(self.socket, "pending", None)  # TLS: bytes already decrypted
        if self.rfile.has_data() or (pending is not None and pending()):
            return True
        if not self.server.ready or self.server.requests.idle == 0:
            return False
        poller = select.poll()
        try:
            poller.register(self.socket, select.POLLIN)
            return bool(poller.poll(LINGER_SECONDS * 1000))
        except (OSError, ValueError):  # closed meanwhile: cheroot's own path decides
            return False


class LiasseServer:
    """A cheroot server bound at construction (port 0 picks a free port)."""

    def __init__(self, app: WSGIApp, host: str, port: int, *, threads: int,
                 certificate: Path | None = None, private_key: Path | None = None,
                 listener: socket.socket | None = None) -> None:
        """`listener`: a socket already listening (liasse.prefork), shared with other
        processes, served instead of one bound here."""
        self._server = wsgi.Server((host, port), app, numthreads=threads,
                                   server_name="Liasse",
                                   # listen backlog: cheroot's 5 drops a burst of clients
                                   request_queue_size=128)
        # cheroot's default (10 waiting keep-alive connections) resets the connections of a
        # busy client pool (32 WebDAV clients, Explorer's bursts); idle ones still time out.
        self._server.keep_alive_conn_limit = None
        self._server.ConnectionClass = LingeringConnection
        tls = certificate is not None and private_key is not None
        if tls:
            try:
                self._server.ssl_adapter = BuiltinSSLAdapter(str(certificate), str(private_key))
            except (OSError, ssl.SSLError) as exc:
                raise OSError(f"certificat TLS inutilisable ({exc})") from None
        self._stop_requested = threading.Event()
        if listener is not None:
            self._server.bind = lambda *_: self._adopt(listener)
        self._server.prepare()  # binds now, so that the real port is known
        if listener is not None:
            # cheroot waits up to its socket timeout in accept(); with several processes on
            # one socket, another may have taken the connection: give up at once instead.
            self._server.socket.settimeout(0)
        bound_host, bound_port = self._server.bind_addr[:2]
        self.endpoint = Endpoint(bound_host, bound_port, tls)

    @staticmethod
    def check_certificate(certificate: Path, private_key: Path) -> None:
        """OSError naming the fault if the pair cannot serve TLS."""
        try:
            BuiltinSSLAdapter(str(certificate), str(private_key))
        except (OSError, ssl.SSLError) as exc:
            raise OSError(f"certificat TLS inutilisable ({exc})") from None

    def _adopt(self, listener: socket.socket) -> socket.socket:
        self._server.socket = listener
        self._server.bind_addr = listener.getsockname()[:2]
        return listener

    def request_stop(self) -> None:
        """Ask serve() to return; safe from a signal handler, before or during serve()."""
        self._stop_requested.set()

    def serve(self) -> None:
        """Serve until request_stop() (which the CLI's SIGINT / SIGTERM handlers call).

        cheroot's loop runs in a thread of its own and the main thread only waits for the stop
        request. A handler that raised instead (SystemExit, KeyboardInterrupt) could land
        anywhere: inside cheroot's hand-over of a connection to a worker, losing its wake-up,
        or inside a garbage-collector callback, where Python prints "Exception ignored" and
        drops it, leaving the process running after SIGTERM."""
        tune_garbage_collector()
        loop = threading.Thread(target=self._server.serve, name="liasse-http", daemon=True)
        try:
            loop.start()
            while loop.is_alive() and not self._stop_requested.wait(0.5):
                pass
        finally:
            self._server.stop()

    def stop(self) -> None:
        self._server.stop()
