"""RFC 6578 `sync-collection` REPORT on the drive's root: what changed since a sync-token.

The firm's sync tool (`liasse sync`) asks it at the start of every run, so that a run with
nothing new costs one request whatever the size of the trees. The root's members are the
company folders the user may open; a company is reported changed (200, its `getetag` the
tree's version) when anything in its tree moved since the token — every write to its nodes
bumps `company.tree_version` (migration 0007), whoever makes it — and removed (404) when the
user no longer reaches it. Sync level 1 only (RFC 6578 §3.3): the client then lists the
changed companies, folder by folder, with PROPFIND Depth 1.

The token carries the state it was given for (user, rights generation, each company's tree
version), so that the server keeps nothing per client. Forging one reveals nothing: the
answer only ever names companies the one permission function lets the user open
(`acl.documents.browsing.readable_tree_versions`). A token of another user, or one that
does not parse, is refused with the `valid-sync-token` precondition (RFC 6578 §3.2), and the
client falls back to a full comparison.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable, Iterable
from urllib.parse import quote
from xml.sax.saxutils import escape

from lxml import etree

from acl.db import Database
from acl.documents.browsing import readable_tree_versions

TOKEN_PREFIX = "urn:liasse:sync:"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
_XML_TYPE = ("Content-Type", "application/xml; charset=utf-8")


class _BadToken(ValueError):
    pass


def encode_token(user_id: int, generation: int, versions: dict[int, tuple[str, int]]) -> str:
    """The token of this state: company id -> (folder name, tree version)."""
    state = {"u": user_id, "g": generation,
             "v": {str(k): [name, v] for k, (name, v) in versions.items()}}
    packed = zlib.compress(json.dumps(state, separators=(",", ":")).encode())
    return TOKEN_PREFIX + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_token(token: str, user_id: int) -> tuple[int, dict[int, tuple[str, int]]]:
    """(rights generation, company id -> (folder name, tree version)) of a token given to
    `user_id`."""
    if not token.startswith(TOKEN_PREFIX):
        raise _BadToken(token)
    data = token[len(TOKEN_PREFIX):]
    try:
        state = json.loads(zlib.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))))
        if state["u"] != user_id:
            raise _BadToken(token)
        return int(state["g"]), {int(k): (str(name), int(v))
                                  for k, (name, v) in state["v"].items()}
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise _BadToken(token) from exc


def _error(start_response: Callable, status: str, element: str) -> list[bytes]:
    body = (f'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:">'
            f"<D:{element}/></D:error>").encode()
    start_response(status, [_XML_TYPE, ("Content-Length", str(len(body)))])
    return [body]


def _request(body: bytes) -> tuple[str, str] | None:
    """(token, level) of a sync-collection request body, or None if it is another report."""
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError:
        return None
    if root.tag != "{DAV:}sync-collection":
        return None
    token = root.findtext("{DAV:}sync-token") or ""
    level = (root.findtext("{DAV:}sync-level") or "1").strip()
    return token.strip(), level


class SyncCollection:
    """Answers `REPORT /dav/` with a sync-collection body; anything else is not its own."""

    def __init__(self, db: Database, mount_path: str) -> None:
        self.db = db
        self.mount_path = mount_path

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes] | None:
        if environ.get("REQUEST_METHOD") != "REPORT" or environ.get("PATH_INFO", "") not in (
                "", "/"):
            return None
        stream = environ["wsgi.input"]  # the gate read and checked it (XML_METHODS)
        asked = _request(stream.read())
        if asked is None:
            stream.seek(0)
            return None
        token, level = asked
        if environ.get("HTTP_DEPTH", "0").strip() != "0":  # RFC 6578 §3.2
            return _error(start_response, "400 Bad Request", "valid-sync-level")
        if level != "1":  # the client walks the changed companies itself
            return _error(start_response, "403 Forbidden", "valid-sync-level")
        user_id = environ["liasse.user"].id
        generation = environ["liasse.generation"]
        with self.db.session() as session:
            now = readable_tree_versions(session, environ["liasse.principal"])
        if token:
            try:
                old_generation, before = decode_token(token, user_id)
            except _BadToken:
                return _error(start_response, "403 Forbidden", "valid-sync-token")
        else:
            old_generation, before = generation, {}
        if old_generation != generation:  # rights moved: every company counts as changed
            before = {cid: (name, -1) for cid, (name, _) in before.items()}
        parts = ['<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">']
        for company_id, (folder_name, version) in sorted(now.items()):
            if before.get(company_id) != (folder_name, version):
                parts.append(
                    f"<D:response><D:href>{escape(self._href(folder_name))}</D:href>"
                    f"<D:propstat><D:prop><D:getetag>\"{version}\"</D:getetag></D:prop>"
                    "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>")
        for company_id in sorted(set(before) - set(now)):
            # Named as the token knew it: the company may be gone from the database.
            parts.append(f"<D:response><D:href>{escape(self._href(before[company_id][0]))}"
                         "</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>")
        new_token = encode_token(user_id, generation, now)
        parts.append(f"<D:sync-token>{new_token}</D:sync-token></D:multistatus>")
        body = "".join(parts).encode()
        start_response("207 Multi-Status", [_XML_TYPE, ("Content-Length", str(len(body)))])
        return [body]

    def _href(self, folder_name: str) -> str:
        return f"{self.mount_path}/{quote(folder_name)}/"
