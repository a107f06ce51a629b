"""WebDAV locks that outlive one process: rows of the database (acl.documents.locks), shared
by two server processes on the same database, kept across a restart, honoured by the web app
and the CLI, bounded in time, listed and broken by the firm (issue 15)."""

from __future__ import annotations

import base64
import http.client
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pytest

pytestmark = pytest.mark.e2e

ACHATS = "/dav/" + quote("Boulangerie Martin") + "/Achats"
LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
            b"<D:owner><D:href>expert@poste-1</D:href></D:owner></D:lockinfo>")


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def call(server, method: str, path: str, body: bytes | None = None, *, user: str = "expert",
         headers: dict[str, str] | None = None) -> Reply:
    parts = urlsplit(server.base_url)
    token = base64.b64encode(f"{user}:{server.password}".encode()).decode()
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={
            "Authorization": f"Basic {token}", **(headers or {})})
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def lock(server, path: str, user: str = "expert") -> str:
    reply = call(server, "LOCK", path, LOCKINFO, user=user,
                 headers={"Timeout": "Second-600", "Depth": "0"})
    assert reply.status in (200, 201), reply.body
    return reply.headers["Lock-Token"].strip("<>")


def lock_tokens(server, path: str) -> list[str]:
    """The lock tokens PROPFIND shows on a resource (lockdiscovery)."""
    reply = call(server, "PROPFIND", path, headers={"Depth": "0"}, body=(
        b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/>'
        b"</D:prop></D:propfind>"))
    assert reply.status == 207
    return [href.text for href in ET.fromstring(reply.body).iter("{DAV:}href")
            if href.text and href.text.startswith("opaquelocktoken:")]


def test_two_server_processes_share_their_locks(serve):
    first = serve()
    second = serve()  # the same settings: the same database
    assert first.base_url != second.base_url
    doc = f"{ACHATS}/Devis-{uuid.uuid4().hex[:8]}.pdf"
    assert call(first, "PUT", doc, b"devis v1").status == 201

    token = lock(first, doc)
    assert lock_tokens(second, doc) == [token]
    # The other process refuses writes without the token, from anyone.
    assert call(second, "PUT", doc, b"devis v2").status == 423
    assert call(second, "PUT", doc, b"devis v2", user="martin").status == 423
    assert call(second, "DELETE", doc).status == 423
    assert call(second, "MOVE", doc, headers={
        "Destination": second.base_url + f"{ACHATS}/ailleurs.pdf"}).status == 423
    assert call(second, "LOCK", doc, LOCKINFO, user="martin").status == 423
    assert call(second, "GET", doc).body == b"devis v1"
    # With the token, it accepts.
    assert call(second, "PUT", doc, b"devis v2", headers={"If": f"(<{token}>)"}).status == 204
    assert call(first, "GET", doc).body == b"devis v2"

    # Unlocked on the second process: free on the first.
    assert call(second, "UNLOCK", doc, headers={"Lock-Token": f"<{token}>"}).status == 204
    assert lock_tokens(first, doc) == []
    assert call(first, "PUT", doc, b"devis v3", user="martin").status == 204

    # A lock taken on a new name (which creates the document) is shared too.
    new = f"{ACHATS}/Nouveau-{uuid.uuid4().hex[:8]}.docx"
    token = lock(second, new, user="martin")
    assert call(first, "PUT", new, b"PK").status == 423
    assert call(first, "PUT", new, b"PK", user="martin",
                headers={"If": f"(<{token}>)"}).status == 204
    assert call(first, "UNLOCK", new, user="martin",
                headers={"Lock-Token": f"<{token}>"}).status == 204


def test_a_lock_survives_a_server_restart(serve):
    before = serve()
    doc = f"{ACHATS}/Contrat-{uuid.uuid4().hex[:8]}.pdf"
    assert call(before, "PUT", doc, b"contrat").status == 201
    token = lock(before, doc)
    assert before.stop() == 0

    after = serve()  # same settings, same database
    assert lock_tokens(after, doc) == [token]
    assert call(after, "PUT", doc, "modifié sans le jeton".encode()).status == 423
    assert call(after, "PUT", doc, "modifié".encode(), headers={"If": f"(<{token}>)"}).status == 204
    assert call(after, "UNLOCK", doc, headers={"Lock-Token": f"<{token}>"}).status == 204
    assert call(after, "PUT", doc, b"libre", user="martin").status == 204
