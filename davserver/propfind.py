"""PROPFIND Depth 1 on a folder, written directly from the rows of one query.

Plain WsgiDAV builds a resource object per member, asks each property through its generic
machinery and keeps the whole multistatus tree in memory (~83 µs and ~50 KB per member,
measured: ../shared/DESIGN.md "Speed"). Here the members, their dead properties and the user
names come from three queries; each response is formatted from the row with precomputed
ETags (the content hash) and stored dates, and only bytes are kept. The answer is the same
as WsgiDAV's for the same request (litmus and the tests compare both); anything unusual —
`propname`, `If` headers, Depth 0 — is left to WsgiDAV.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from datetime import datetime
from email.utils import formatdate
from urllib.parse import quote
from xml.sax.saxutils import escape

from lxml import etree
from sqlalchemy import select

from acl.documents.delivery import content_type
from acl.people.models import Company
from davserver.locks import holds_no_lock
from davserver.resources import LIASSE_NS, RECEIPT_PROPS, NodeCollection

RECEIPT_TAGS = tuple((prop, prop.split("}", 1)[1]) for prop in RECEIPT_PROPS)

DAV_PROPS_FILE = ("{DAV:}resourcetype", "{DAV:}creationdate", "{DAV:}getcontentlength",
                  "{DAV:}getcontenttype", "{DAV:}getlastmodified", "{DAV:}displayname",
                  "{DAV:}getetag", "{DAV:}lockdiscovery", "{DAV:}supportedlock")
DAV_PROPS_FOLDER = ("{DAV:}resourcetype", "{DAV:}creationdate", "{DAV:}quota-used-bytes",
                    "{DAV:}quota-available-bytes", "{DAV:}getlastmodified",
                    "{DAV:}displayname", "{DAV:}lockdiscovery", "{DAV:}supportedlock")
SUPPORTED_LOCK = ("<D:supportedlock><D:lockentry><D:lockscope><D:exclusive/></D:lockscope>"
                  "<D:locktype><D:write/></D:locktype></D:lockentry><D:lockentry>"
                  "<D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>"
                  "</D:lockentry></D:supportedlock>")
HREF_SAFE = "/!*'(),$-_|."  # as WsgiDAV's get_href (Nautilus chokes on %28)
BATCH = 500


def parse_request(body: bytes) -> tuple[str, list[str]] | None:
    """("allprop", []) or ("named", [names]); None when WsgiDAV should answer."""
    if not body.strip():
        return "allprop", []
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False,
                                                             no_network=True))
    except etree.XMLSyntaxError:
        return None
    if root.tag != "{DAV:}propfind" or len(root) != 1:
        return None
    mode = root[0]
    if mode.tag == "{DAV:}allprop":
        return "allprop", []
    if mode.tag == "{DAV:}prop":
        names = [child.tag for child in mode if isinstance(child.tag, str)]
        return ("named", names) if names else None
    return None


class _Formatter:
    """Dates and content types, memoised: listings repeat the same seconds and extensions."""

    def __init__(self) -> None:
        self._rfc1123: dict[int, str] = {}
        self._rfc3339: dict[int, str] = {}
        self._types: dict[str, str] = {}

    def rfc1123(self, when: datetime) -> str:
        second = int(when.timestamp())  # both formats stop at the second
        text = self._rfc1123.get(second)
        if text is None:
            text = self._rfc1123[second] = formatdate(second, usegmt=True)
        return text

    def rfc3339(self, when: datetime) -> str:
        second = int(when.timestamp())
        text = self._rfc3339.get(second)
        if text is None:
            text = self._rfc3339[second] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                         time.gmtime(second))
        return text

    def content_type(self, name: str) -> str:
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        text = self._types.get(ext)
        if text is None:
            text = self._types[ext] = escape(content_type(name))
        return text


def _tag(name: str) -> tuple[str, str]:
    """(open/close tag text, namespace declaration) for a Clark name."""
    if name.startswith("{DAV:}"):
        return "D:" + name[6:], ""
    ns, local = name[1:].split("}", 1)
    return "X:" + local, f' xmlns:X="{escape(ns, {chr(34): "&quot;"})}"'


def _empty(name: str) -> str:
    tag, decl = _tag(name)
    return f"<{tag}{decl}/>"


def _values(fmt: _Formatter, *, name: str, is_file: bool, size: int, sha256: str | None,
            created: datetime, modified: datetime, receipt: tuple[str, ...] | None,
            dead: dict[str, str], quota: tuple[int, int],
            lockdiscovery: str | None) -> dict[str, str]:
    """Every property of one member, as XML fragments keyed by Clark name (allprop order)."""
    values = {
        "{DAV:}resourcetype": "<D:resourcetype/>" if is_file
        else "<D:resourcetype><D:collection/></D:resourcetype>",
        "{DAV:}creationdate": f"<D:creationdate>{fmt.rfc3339(created)}</D:creationdate>",
    }
    if is_file:
        values["{DAV:}getcontentlength"] = f"<D:getcontentlength>{size}</D:getcontentlength>"
        values["{DAV:}getcontenttype"] = \
            f"<D:getcontenttype>{fmt.content_type(name)}</D:getcontenttype>"
    else:
        values["{DAV:}quota-used-bytes"] = f"<D:quota-used-bytes>{quota[0]}</D:quota-used-bytes>"
        values["{DAV:}quota-available-bytes"] = \
            f"<D:quota-available-bytes>{quota[1]}</D:quota-available-bytes>"
    values["{DAV:}getlastmodified"] = \
        f"<D:getlastmodified>{fmt.rfc1123(modified)}</D:getlastmodified>"
    values["{DAV:}displayname"] = f"<D:displayname>{escape(name)}</D:displayname>"
    if is_file:
        values["{DAV:}getetag"] = f"<D:getetag>{sha256 or ''}</D:getetag>"
    values["{DAV:}lockdiscovery"] = lockdiscovery or "<D:lockdiscovery/>"
    values["{DAV:}supportedlock"] = SUPPORTED_LOCK
    if receipt is not None:
        for (prop, local), text in zip(RECEIPT_TAGS, receipt, strict=True):
            values[prop] = f'<L:{local} xmlns:L="{LIASSE_NS}">{escape(text)}</L:{local}>'
    values.update(dead)
    return values


RECEIPT_ELEMENTS = tuple((f'<L:{local} xmlns:L="{LIASSE_NS}">', f"</L:{local}>")
                         for _, local in RECEIPT_TAGS)


def allprop_response(fmt: _Formatter, href: str, *, name: str, is_file: bool, size: int,
                     sha256: str | None, created: datetime, modified: datetime,
                     receipt: tuple[str, ...] | None, dead: dict[str, str],
                     quota: tuple[int, int]) -> str:
    """`member_response(_values(...), href, "allprop", [])` of a member without lock, in
    one string (a 10,000-document listing; tests/unit/test_propfind_format.py compares)."""
    if is_file:
        live = (f"<D:resourcetype/><D:creationdate>{fmt.rfc3339(created)}</D:creationdate>"
                f"<D:getcontentlength>{size}</D:getcontentlength>"
                f"<D:getcontenttype>{fmt.content_type(name)}</D:getcontenttype>"
                f"<D:getlastmodified>{fmt.rfc1123(modified)}</D:getlastmodified>"
                f"<D:displayname>{_escape(name)}</D:displayname>"
                f"<D:getetag>{sha256 or ''}</D:getetag><D:lockdiscovery/>{SUPPORTED_LOCK}")
        if receipt is not None:
            live += "".join(f"{start}{_escape(text)}{end}"
                            for (start, end), text in zip(RECEIPT_ELEMENTS, receipt,
                                                          strict=True))
    else:
        live = (f"<D:resourcetype><D:collection/></D:resourcetype>"
                f"<D:creationdate>{fmt.rfc3339(created)}</D:creationdate>"
                f"<D:quota-used-bytes>{quota[0]}</D:quota-used-bytes>"
                f"<D:quota-available-bytes>{quota[1]}</D:quota-available-bytes>"
                f"<D:getlastmodified>{fmt.rfc1123(modified)}</D:getlastmodified>"
                f"<D:displayname>{_escape(name)}</D:displayname>"
                f"<D:lockdiscovery/>{SUPPORTED_LOCK}")
    extra = "".join(dead.values()) if dead else ""
    return (f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>{live}{extra}</D:prop>"
            "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")


def _escape(text: str) -> str:
    return escape(text) if "&" in text or "<" in text or ">" in text else text


def member_response(values: dict[str, str], href: str, mode: str, names: list[str]) -> str:
    if mode == "allprop":
        found = "".join(values.values())
        return (f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>{found}</D:prop>"
                "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")
    found = "".join(values[n] for n in names if n in values)
    missing = "".join(_empty(n) for n in names if n not in values)
    parts = [f"<D:response><D:href>{href}</D:href>"]
    if found:
        parts.append(f"<D:propstat><D:prop>{found}</D:prop>"
                     "<D:status>HTTP/1.1 200 OK</D:status></D:propstat>")
    if missing:
        parts.append(f"<D:propstat><D:prop>{missing}</D:prop>"
                     "<D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>")
    parts.append("</D:response>")
    return "".join(parts)


def _lockdiscovery(member) -> str:
    element = member.get_property_value("{DAV:}lockdiscovery")
    return etree.tostring(element, encoding="unicode")


def _resource_values(member, fmt: _Formatter, quota, lockdiscovery) -> dict[str, str]:
    node = member.node
    is_file = node.kind == "file"
    return _values(fmt, name=member.get_display_name(), is_file=is_file, size=node.size,
                   sha256=node.sha256, created=node.created_at, modified=node.modified_at,
                   receipt=member.receipt_values() if is_file else None,
                   dead=member._dead_properties(), quota=quota, lockdiscovery=lockdiscovery)


class ListingCache:
    """Finished PROPFIND answers, the least recently used dropped past `max_bytes`.

    A key holds everything an answer depends on: the user and the rights generation (who
    sees which folders), the folder, its company's `tree_version` (moved by database
    triggers on any change of a node or a dead property in the company, from any process),
    the path and the request. Locks live outside the database: an answer that shows one is
    never cached, nor served from the cache while a lock exists below the folder.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_bytes // 16  # a 10,000-document listing is not kept
        self._entries: OrderedDict[tuple, tuple[list[bytes], int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> list[bytes] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: tuple, chunks: list[bytes]) -> None:
        size = sum(len(c) for c in chunks)
        if size > self.max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]
            self._entries[key] = (chunks, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped


def locks_below(provider, environ: dict, ref_url: str) -> set[str]:
    """URLs (no trailing slash) of the locks on the folder at `ref_url` or below it."""
    lm = provider.lock_manager
    if holds_no_lock(lm, environ):
        return set()
    return {lock["root"].rstrip("/") for lock in lm.get_url_lock_list(ref_url, recursive=True)}


def listing_key(environ: dict, folder_id: int, tree_version: int, path: str,
                body: bytes) -> tuple:
    """What a cached answer depends on (see ListingCache); the request body as sent."""
    return (environ["liasse.user"].id, environ.get("liasse.generation"), folder_id,
            tree_version, path.rstrip("/"), body)


def respond(provider, folder: NodeCollection, environ: dict, start_response, mode: str,
            names: list[str], body: bytes):
    """The whole 207 answer for `folder` and its members (Depth 1), kept in the cache when
    no lock shows in it (davserver/fastpath.py serves it again)."""
    locked = locks_below(provider, environ, folder.get_ref_url())
    key = None
    if provider.listings is not None and not locked:
        # Read before the listing's own rows: they are then at least this recent.
        version = environ["liasse.session"].scalar(select(Company.tree_version).where(
            Company.id == folder.location.company.id))
        key = listing_key(environ, folder.node.id, version, folder.path, body)
        chunks = provider.listings.get(key)
        if chunks is not None:
            return send(start_response, chunks)
    chunks = _listing(provider, folder, environ, mode, names, locked)
    if key is not None:
        provider.listings.put(key, chunks)
    return send(start_response, chunks)


def send(start_response, chunks: list[bytes]) -> list[bytes]:
    start_response("207 Multi-Status", [
        ("Content-Type", "application/xml; charset=utf-8"),
        ("Date", formatdate(usegmt=True)),
        ("Content-Length", str(sum(len(c) for c in chunks)))])
    return chunks


def _listing(provider, folder: NodeCollection, environ: dict, mode: str, names: list[str],
             locked: set[str]) -> list[bytes]:
    if folder.node.kind != "root" and not locked:
        connection = environ["liasse.session"].connection().connection  # its transaction
        return folder_listing(provider, connection, environ, folder.location.company,
                              folder.node, folder.path, mode, names)
    # Standard folders are filtered by right, locks need their resources: the few members
    # of a company root, or a folder holding locks, go through the resources.
    fmt = _Formatter()
    quota = provider.usage(environ, folder.location.company)
    base = _base_href(provider, folder.path)
    folder_lock = _lockdiscovery(folder) if folder.get_ref_url().rstrip("/") in locked \
        else None
    out = _Output()
    out.add(member_response(_resource_values(folder, fmt, quota, folder_lock), escape(base),
                            mode, names))
    for member in folder.get_member_list():
        lock = _lockdiscovery(member) if member.get_ref_url().rstrip("/") in locked else None
        out.add(member_response(_resource_values(member, fmt, quota, lock),
                                _href(base, member.name, member.is_collection), mode, names))
    return out.finish()


def folder_listing(provider, connection, environ: dict, company, node, path: str, mode: str,
                   names: list[str]) -> list[bytes]:
    """The Depth 1 answer of a folder (not a company root) with no lock below it, from rows
    read on `connection` (a DBAPI connection: the request's session's, or the drive's own
    in davserver/fastpath.py): the members, their dead properties and the logins in
    three queries whatever the number of members."""
    hot = provider.hot
    fmt = _Formatter()
    quota = provider.usage_of(company, hot.used_bytes(connection, company.id))
    base = _base_href(provider, path)
    out = _Output()
    out.add(member_response(_values(
        fmt, name=node.name, is_file=False, size=node.size, sha256=None,
        created=node.created_at, modified=node.modified_at, receipt=None,
        dead=hot.properties(connection, node.id), quota=quota, lockdiscovery=None),
        escape(base), mode, names))
    rows = hot.children(connection, node.id)
    users = provider.logins(connection, environ.get("liasse.generation"))
    dead_by_node = hot.children_properties(connection, node.id)
    for (node_id, name, kind, size, sha256, created, modified, deposited_by,
         received_by, received_at, downloads) in rows:
        is_file = kind == "file"
        receipt = (users.get(deposited_by, ""), created.isoformat(),
                   users.get(received_by, ""),
                   received_at.isoformat() if received_at else "",
                   str(downloads)) if is_file else None
        member = {"name": name, "is_file": is_file, "size": size, "sha256": sha256,
                  "created": created, "modified": modified, "receipt": receipt,
                  "dead": dead_by_node.get(node_id, {}), "quota": quota}
        href = _href(base, name, not is_file)
        out.add(allprop_response(fmt, href, **member) if mode == "allprop" else
                member_response(_values(fmt, lockdiscovery=None, **member), href, mode, names))
    return out.finish()


def _base_href(provider, path: str) -> str:
    return quote(provider.mount_path + provider.share_path + path.rstrip("/") + "/",
                 safe=HREF_SAFE)


def _href(base: str, name: str, is_collection: bool) -> str:
    return _escape(base + quote(name, safe=HREF_SAFE) + ("/" if is_collection else ""))


class _Output:
    """The answer as a few large byte chunks (no per-member bytes objects kept)."""

    def __init__(self) -> None:
        self.chunks = [b'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">']
        self.batch: list[str] = []

    def add(self, response: str) -> None:
        self.batch.append(response)
        if len(self.batch) >= BATCH:
            self.chunks.append("".join(self.batch).encode("utf-8"))
            self.batch = []

    def finish(self) -> list[bytes]:
        self.batch.append("</D:multistatus>")
        self.chunks.append("".join(self.batch).encode("utf-8"))
        return self.chunks


def handle(provider, environ: dict, start_response):
    """Answer a PROPFIND Depth 1 on a folder, or return None to let WsgiDAV do it."""
    if environ.get("HTTP_DEPTH", "").strip() != "1":
        return None
    if any(environ.get(h) for h in ("HTTP_IF", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                                    "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")):
        return None
    folder = provider.get_resource_inst(environ["PATH_INFO"], environ)
    if not isinstance(folder, NodeCollection):
        return None
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = stream.read(length) if length else b""
    request = parse_request(body)
    if request is None:
        environ["wsgi.input"] = io.BytesIO(body)  # WsgiDAV reads it again
        return None
    return respond(provider, folder, environ, start_response, *request, body)

