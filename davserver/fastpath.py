"""GET and HEAD of a document, a plain PUT, and listings already in the cache, answered
before WsgiDAV.

Most drive traffic is plain reads and writes of documents. WsgiDAV answers one through its
middleware stack, a resource object, a lock lookup and the ORM session; here the gate's own
pooled connection resolves the path in one plain query (`acl.documents.hot`), the operations
layer (`acl.documents.operations`) decides and files exactly as for every other request, and
the answer has the headers WsgiDAV would send (tests/integration/test_fastpath.py compares
them). Its shortcuts are I/O only (measured in bench/): the rules are the operations layer's.

A PROPFIND Depth 1 whose answer is in the listing cache (davserver/propfind.py, which fills
it) and still valid is sent from there, after the same rights check.

Only the plain case is taken: a GET or HEAD of a document, without a query string, a range
or a condition (`If-*`). Anything else, and anything this path cannot answer with a 200 (a
missing or refused path, a folder, a company not yet cached), goes to WsgiDAV as before, so
errors keep one look.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Iterator
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_error import HTTP_CREATED, HTTP_NO_CONTENT, DAVError

from acl.documents import operations
from acl.documents.blobs import DownloadStream
from acl.documents.delivery import body_headers, content_type
from acl.documents.limits import Body
from acl.documents.store import Location
from acl.errors import IncompleteBody, Locked, Refused
from config.names import normalize_segment
from davserver import propfind
from davserver.gate import announced_length
from davserver.locks import holds_no_lock
from davserver.transfer import dav_error

if TYPE_CHECKING:
    from davserver.provider import LiasseProvider

# What makes a GET anything but plain: WsgiDAV evaluates these.
CONDITIONS = ("HTTP_RANGE", "HTTP_IF", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
              "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE", "HTTP_IF_RANGE")


class FastPath:
    def __init__(self, provider: LiasseProvider, block_size: int) -> None:
        self.provider = provider
        self.hot = provider.hot
        self.block_size = block_size
        self._created_page = _CreatedPage()

    def __call__(self, environ: dict, start_response: Callable, connection
                 ) -> Iterable[bytes] | None:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD", "PROPFIND", "PUT") or environ.get("QUERY_STRING") or \
                any(name in environ for name in CONDITIONS):
            return None
        segments = [normalize_segment(s) for s in
                    environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8").split("/")
                    if s]
        if not segments:  # the drive root
            return None
        if method == "PROPFIND":
            return self._listing(environ, start_response, connection, segments)
        if method == "PUT":
            return self._put(environ, start_response, connection, segments)
        if environ["PATH_INFO"].endswith("/") or len(segments) < 3:  # not a document
            return None
        location = self._locate(environ, connection, segments)
        if location is None or location.node.kind != "file":
            return None
        node = location.node
        body = None
        if method == "GET":
            try:
                stream = operations.open_body(
                    environ["liasse.principal"], location, self.provider.blobs,
                    on_close=lambda sent, complete: self.provider.record_download(
                        environ, node, sent, complete))
            except OSError:
                return None  # WsgiDAV answers (and logs) a missing body
            body = _Body(stream, node.size, self.block_size)
        mimetype = content_type(node.name)
        start_response("200 OK", [
            ("Content-Length", str(node.size)),
            ("Last-Modified", formatdate(node.modified_at.timestamp(), usegmt=True)),
            ("Content-Type", mimetype),
            ("Date", formatdate(usegmt=True)),
            ("ETag", f'"{node.sha256}"'),
            ("Accept-Ranges", "bytes"),
            *body_headers(node.name, mimetype),
        ])
        return [b""] if body is None else body


    def _locate(self, environ: dict, connection, segments: list[str]) -> Location | None:
        def resolve(company, root, names: list[str]) -> Location | None:
            nodes = self.hot.path(connection, root.id, names) if names else ()
            return None if nodes is None else Location(company, (root, *nodes))

        return self.provider.locate(environ, segments, resolve, cached_only=True)

    def _listing(self, environ: dict, start_response: Callable, connection,
                 segments: list[str]) -> list[bytes] | None:
        """A PROPFIND Depth 1 on a folder with no lock below it: from the listing cache if
        still valid, else listed from rows (`propfind.folder_listing`, as WsgiDAV's path
        does) and kept. A company's root (its folders depend on rights) goes to WsgiDAV."""
        if environ.get("HTTP_DEPTH", "").strip() != "1":
            return None
        location = self._locate(environ, connection, segments)
        if location is None or location.node.kind == "file":
            return None
        path = "/" + "/".join(segments)
        if propfind.locks_below(self.provider, environ,
                                quote(self.provider.share_path + path + "/")):
            return None
        body = environ["wsgi.input"].read()  # the gate has read it into memory
        environ["wsgi.input"] = io.BytesIO(body)  # for WsgiDAV, if it answers
        request = propfind.parse_request(body)
        if request is None:
            return None
        self.provider.receipts.wait()  # a client reads its own downloads back
        listings, key = self.provider.listings, None
        if listings is not None:
            # Read before the listing's own rows: they are then at least this recent.
            version = self.hot.tree_version(connection, location.company.id)
            key = propfind.listing_key(environ, location.node.id, version, path, body)
            chunks = listings.get(key)
            if chunks is not None:
                return propfind.send(start_response, chunks)
        if location.node.kind == "root":
            return None
        chunks = propfind.folder_listing(self.provider, connection, environ,
                                         location.company, location.node, path, *request)
        if key is not None:
            listings.put(key, chunks)
        return propfind.send(start_response, chunks)


    def _put(self, environ: dict, start_response: Callable, connection,
             segments: list[str]) -> list[bytes] | None:
        """A PUT of a whole body of announced length into a folder, on a name no lock covers,
        that the operations layer allows: refused at once past the size or the company's
        quota, else received and filed as `LiasseProvider.deposit` files every upload.
        Anything else, a refusal before the body included, is left to WsgiDAV, which
        answers it through the same operations."""
        length = announced_length(environ)
        if length is None or len(segments) < 3 or environ["PATH_INFO"].endswith("/") \
                or any(h in environ for h in ("HTTP_CONTENT_ENCODING", "HTTP_CONTENT_RANGE")):
            return None
        parent = self._locate(environ, connection, segments[:-1])
        if parent is None:
            return None
        principal = environ["liasse.principal"]
        found = self.hot.path(connection, parent.node.id, segments[-1:])
        existing = found[0] if found else None
        if existing is not None and existing.kind != "file":
            return None  # WsgiDAV: 405, a PUT on a collection
        try:
            name = operations.check_deposit(principal, parent, segments[-1], existing)
        except Refused:
            return None
        ref_url = quote(self.provider.share_path + "/" + "/".join(segments))
        if self._locked(environ, ref_url):
            return None
        company, limits = parent.company, self.provider.limits
        body: Body | None = None
        try:
            room = limits.room(company, lambda: self.hot.used_bytes(connection, company.id),
                               existing.size if existing else 0)
            limits.check(length, room, name)  # before the body is read, as WsgiDAV's path
            body = Body.start(self.provider.blobs, limits, room=room, name=name,
                              expected=length)
            remaining, stream = length, environ["wsgi.input"]
            while remaining:
                data = stream.read(min(self.block_size, remaining))
                if not data:
                    raise IncompleteBody()
                body.write(data)
                remaining -= len(data)
            if self._locked(environ, ref_url):  # locked while the body was arriving
                raise Locked("Le document a été verrouillé par quelqu'un d'autre pendant "
                             "l'envoi : rien n'a été déposé.")
            # On disk and filed before the row that points at it. (An fsync on another
            # thread, overlapping the deposit's statements, was slower: that thread waits
            # for the interpreter lock until this one blocks; +0.4 ms an upload.)
            sha256, size = body.commit()
            location = operations.file_body(self.hot, principal, parent, name, sha256, size)
        except Refused as refusal:
            if body is not None:
                body.discard()
            return util.send_status_response(environ, start_response, dav_error(refusal))
        except BaseException:
            if body is not None:
                body.discard()
            raise
        etag = ("ETag", f'"{location.node.sha256}"')
        if existing is not None:
            return util.send_status_response(environ, start_response, HTTP_NO_CONTENT,
                                             add_headers=[etag])
        headers, page = self._created_page()
        start_response("201 Created", [*headers, etag])
        return [page]

    def _locked(self, environ: dict, ref_url: str) -> bool:
        """Whether a lock covers this URL (on it, or on a folder above it with depth)."""
        lm = self.provider.lock_manager
        return not holds_no_lock(lm, environ) and bool(lm.get_indirect_url_lock_list(ref_url))


class _CreatedPage:
    """WsgiDAV's 201 page (util.send_status_response), built at most once a second: it
    differs only by the time it shows, and building it cost more than filing a small
    upload's row."""

    def __init__(self) -> None:
        self._page: tuple[int, str, bytes] = (-1, "", b"")  # (second, type, body): one object

    def __call__(self) -> tuple[list[tuple[str, str]], bytes]:
        now = time.time()
        second, content_type, body = self._page
        if int(now) != second:
            content_type, body = DAVError(HTTP_CREATED).get_response_page()
            self._page = (int(now), content_type, body)
        return [("Content-Type", content_type), ("Date", formatdate(now, usegmt=True)),
                ("Content-Length", str(len(body)))], body


class _Body:
    """The blob in blocks; closing it (the server always does) records the download.

    It reads the document's size and no further: a small document is one read, not a read
    and then two more that find the end."""

    def __init__(self, stream: DownloadStream, size: int, block_size: int) -> None:
        self._stream = stream
        self._size = size
        self._block_size = block_size

    def __iter__(self) -> Iterator[bytes]:
        remaining = self._size
        while remaining > 0 and (data := self._stream.read(min(self._block_size, remaining))):
            remaining -= len(data)
            yield data

    def close(self) -> None:
        self._stream.close()
