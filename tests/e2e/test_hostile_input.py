"""Hostile and broken input against a real server: answered with a 4xx and a reason, never a
500 or a hang, and nothing stored.

Raw requests go through http.client (which sends the path as given: no `..` folding) or a
plain socket where the body must be sent after the server may already have answered.

Requests refused with valid credentials leave the world as it was: those tests share one
server per database (`world`), each comparing what is stored before and after. Tests with
their own settings, or that fail to sign in, start their own.
"""

from __future__ import annotations

import base64
import html
import http.client
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select
from support.dav import Dav, Reply, basic

from acl.documents.blobs import open_store
from acl.documents.models import Node, NodeProperty
from acl.events.models import Event

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
ACHATS = "/dav/" + quote(BAKERY) + "/Achats"
INVOICE = quote("Facture Moulin Giraud octobre.pdf")


@pytest.fixture
def client() -> Iterator[Callable]:
    """`client(server, user="expert", headers=None)`; closed at the end of the test."""
    opened: list[Dav] = []

    def open_as(server, user: str = "expert", headers: dict[str, str] | None = None) -> Dav:
        dav = Dav(server.base_url, headers=basic(user, server.password) if headers is None
                  else headers)
        opened.append(dav)
        return dav

    yield open_as
    for dav in opened:
        dav.close()


def stored(db) -> tuple:
    """Nodes, properties and events: what a refused request must leave as it was."""
    with db.session() as session:
        return (tuple(session.execute(select(Node.id, Node.name, Node.sha256, Node.deleted_at)
                                      .order_by(Node.id)).all()),
                tuple(session.execute(select(NodeProperty.node_id, NodeProperty.name)).all()),
                tuple(session.scalars(select(Event.id))))


def leftovers(settings) -> list[str]:
    tmp = settings.data_dir / "blobs" / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def blob_count(settings) -> int:
    return len(open_store(settings).all_hashes())


# --- XML -------------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
"""
XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote; ]>
"""

BODIES = {
    "PROPFIND": b'<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>{}</D:displayname>'
                b"</D:prop></D:propfind>",
    "PROPPATCH": b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
                 b"<Z:note>{}</Z:note></D:prop></D:set></D:propertyupdate>",
    "LOCK": b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
            b"<D:locktype><D:write/></D:locktype><D:owner>{}</D:owner></D:lockinfo>",
}
HEADERS = {"PROPFIND": {"Depth": "1"}, "PROPPATCH": {}, "LOCK": {"Timeout": "Second-60"}}


ATTACKS = {"billion laughs": (BILLION_LAUGHS, b"&lol9;"), "external entity": (XXE, b"&xxe;"),
           "parameter entity": (XXE_PARAMETER, b"x")}


@pytest.mark.parametrize("method", list(BODIES))
def test_xml_with_entities_is_refused(world, client, method):
    live_server, demo = world.server, world.db
    before = stored(demo)
    dav = client(live_server)
    for attack, (prolog, entity) in ATTACKS.items():
        started = time.monotonic()
        reply = dav(method, f"{ACHATS}/{INVOICE}",
                    prolog + BODIES[method].replace(b"{}", entity),
                    {"Content-Type": "application/xml", **HEADERS[method]})
        assert reply.status == 400, (attack, reply.text)
        assert "DTD" in reply.text and "root:" not in reply.text and "lollol" not in reply.text
        assert time.monotonic() - started < 5
    assert stored(demo) == before
    assert dav("GET", f"{ACHATS}/{INVOICE}").status == 200  # not locked, still served


MALFORMED = {"truncated": b"<D:propfind xmlns:D='DAV:'><D:prop>", "text": b"pas du XML",
             "mismatched": b"<?xml version='1.0'?><a><b></a>", "binary": b"\xff\xfe<\x00a\x00",
             "undefined entity": b"<D:x xmlns:D='DAV:'>&undefined;</D:x>",
             "two roots": b"<a/><b/>", "bad namespace": b"<D:propfind xmlns:D=''/>"}


@pytest.mark.parametrize("method", list(BODIES))
def test_malformed_xml_is_a_bad_request(world, client, method):
    live_server, demo = world.server, world.db
    before = stored(demo)
    dav = client(live_server)
    seen = {case: dav(method, f"{ACHATS}/{INVOICE}", body,
                      {"Content-Type": "application/xml", **HEADERS[method]}).status
            for case, body in MALFORMED.items()}
    assert seen == dict.fromkeys(MALFORMED, 400)
    assert stored(demo) == before


@pytest.mark.parametrize("method", list(BODIES))
def test_oversized_xml_body_is_refused(world, method):
    live_server, demo = world.server, world.db
    padding = b"<!-- " + b"x" * (2 * 1024 * 1024) + b" -->"
    body = BODIES[method].replace(b"{}", b"") + padding
    before = stored(demo)
    for chunked in (False, True):
        reply = send_raw(live_server, method, f"{ACHATS}/", body, chunked=chunked,
                         extra=HEADERS[method])
        assert reply.status == 413, (chunked, reply.text)
        assert "1 Mio" in reply.text
    assert stored(demo) == before


# --- paths and names ---------------------------------------------------------------------------

RAW_PATHS = {
    "dot-dot": f"{ACHATS}/../Fiscalit%C3%A9/x.pdf",
    "encoded dot-dot": f"{ACHATS}/%2e%2e/Fiscalit%C3%A9/x.pdf",
    "encoded dot-dot upper": f"{ACHATS}/%2E%2E/x.pdf",
    "encoded slash dot-dot": f"{ACHATS}/..%2fFiscalit%C3%A9%2fx.pdf",
    "encoded slash": f"{ACHATS}/a%2Fb.pdf",
    "dot": f"{ACHATS}/./x.pdf",
    "backslash": f"{ACHATS}/..\\Fiscalit%C3%A9\\x.pdf",
    "encoded backslash": f"{ACHATS}/a%5cb.pdf",
    "NUL": f"{ACHATS}/x.pdf%00.txt",
    "newline": f"{ACHATS}/x%0a.pdf",
    "over-long name": f"{ACHATS}/" + quote("é" * 150) + ".pdf",  # 304 bytes
    "not UTF-8": f"{ACHATS}/%ff%fe.pdf",
}


def test_hostile_paths_are_refused_and_nothing_is_stored(world, client):
    live_server, demo, settings = world.server, world.db, world.settings
    before, blobs = stored(demo), blob_count(settings)
    dav = client(live_server)
    seen, expected = {}, {}
    for case, path in RAW_PATHS.items():
        for method in ("PUT", "MKCOL", "GET", "DELETE", "PROPFIND", "LOCK"):
            reply = dav(method, path, b"intrus" if method == "PUT" else None,
                        {"Depth": "1"} if method == "PROPFIND" else {})
            seen[case, method] = reply.status, reply.text.split(":")[0]
            expected[case, method] = 400, "Chemin invalide "
    assert seen == expected
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []


def test_hostile_destinations_are_refused(world, client):
    live_server, demo = world.server, world.db
    before = stored(demo)
    dav = client(live_server)
    seen = {(case, method): dav(method, f"{ACHATS}/{INVOICE}", headers={
                "Destination": live_server.base_url + path}).status
            for case, path in RAW_PATHS.items() for method in ("MOVE", "COPY")}
    assert seen == dict.fromkeys(seen, 400)
    assert stored(demo) == before


WINDOWS_NAMES = {
    "a:b.pdf": "caractère :", "fin.": "finir par un point", "fin ": "finir par un point",
    "CON.txt": "réservé", "nul": "réservé", "LPT1.pdf": "réservé", "a|b.pdf": "caractère |",
    "a?b.pdf": "caractère ?", "a*b.pdf": "caractère *", 'a"b.pdf': 'caractère "',
    "a<b>.pdf": "caractère <",
}


def test_names_windows_cannot_hold_are_refused_in_french(world, client):
    live_server, demo, settings = world.server, world.db, world.settings
    before, blobs = stored(demo), blob_count(settings)
    dav = client(live_server, "secretaire")
    for name, reason in WINDOWS_NAMES.items():
        target = f"{ACHATS}/{quote(name)}"
        for method in ("PUT", "MKCOL", "MOVE", "COPY"):
            if method in ("MOVE", "COPY"):
                reply = dav(method, f"{ACHATS}/{INVOICE}",
                            headers={"Destination": live_server.base_url + target})
            else:
                reply = dav(method, target, b"%PDF" if method == "PUT" else None)
            assert reply.status == 400, (name, method, reply.status, reply.text)
            text = html.unescape(reply.text)
            assert "Nom refusé" in text and reason in text, (name, method, text)
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []


# --- sizes and quota ---------------------------------------------------------------------------

def send_raw(server, method: str, path: str, body: bytes, *, chunked: bool,
             user: str = "expert", extra: dict[str, str] | None = None) -> Reply:
    """A request over a plain socket that reads the answer even when the server answered
    before taking the whole body and closed (http.client would stop at the broken pipe)."""
    headers = {"Host": urlsplit(server.base_url).netloc, **basic(user, server.password),
               **(extra or {})}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"
        pieces = [b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536])
                  for i in range(0, len(body), 65536)] + [b"0\r\n\r\n"]
    else:
        headers["Content-Length"] = str(len(body))
        pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n"
                                                     for k, v in headers.items())
    parts = urlsplit(server.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall((head + "\r\n").encode("latin-1"))
        try:
            for piece in pieces:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before taking the whole body
        return read_answer(sock, method)


def read_answer(sock: socket.socket, method: str) -> Reply:
    response = http.client.HTTPResponse(sock, method=method)
    try:
        response.begin()
        return Reply(response.status, response.headers, response.read())
    finally:
        response.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_past_the_quota_is_refused_and_leaves_nothing(serve, demo, settings, client,
                                                                chunked):
    server = serve(drive={"quota_mib": 1})
    before, blobs = stored(demo), blob_count(settings)
    body = b"\x25" * (2 * 1024 * 1024)
    reply = send_raw(server, "PUT", f"{ACHATS}/Gros%20scan.pdf", body, chunked=chunked)
    assert reply.status == 507, reply.text
    assert "quota" in reply.text
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []
    # The server is still fine, and what fits in the quota is still accepted.
    dav = client(server)
    assert dav("PUT", f"{ACHATS}/Petit%20scan.pdf", b"%" * 100_000).status == 201
    props = dav("PROPFIND", f"{ACHATS}/", headers={"Depth": "0"})
    used = ET.fromstring(props.body).findtext(".//{DAV:}quota-used-bytes")
    available = ET.fromstring(props.body).findtext(".//{DAV:}quota-available-bytes")
    assert int(used) + int(available) == 2**20


@pytest.mark.parametrize("how", ["content-length", "chunked", "chunked with expected length"])
def test_an_upload_past_the_maximum_size_is_refused(serve, demo, settings, client, how):
    server = serve(drive={"max_upload_mib": 1})
    before, blobs = stored(demo), blob_count(settings)
    body = b"\x00" * (2 * 1024 * 1024 + 1)
    extra = {"X-Expected-Entity-Length": str(len(body))} if "expected" in how else {}
    reply = send_raw(server, "PUT", f"{ACHATS}/Vid%C3%A9o.mp4", body,
                     chunked=how != "content-length", extra=extra)
    assert reply.status == 413, reply.text
    assert "1 Mio" in reply.text
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []
    assert client(server)("PUT", f"{ACHATS}/Petit.pdf", b"x" * 1000).status == 201


@pytest.mark.parametrize("refusal", ["forbidden", "quota", "bad name"])
def test_a_refused_chunked_upload_does_not_poison_the_connection(serve, client, refusal):
    """Finder uploads with chunked bodies over keep-alive connections: after an upload is
    refused before its body was read, the next request on the connection gets its own answer
    (not the rest of the body read as a request)."""
    server = serve(drive={"quota_mib": 1})
    dav = client(server, "martin")
    target, status, size = {
        "forbidden": (f"/dav/{quote(BAKERY)}/note.pdf", 403, 200_000),  # the company root
        "quota": (f"{ACHATS}/Gros.pdf", 507, 2 * 1024 * 1024),
        "bad name": (f"{ACHATS}/CON.pdf", 400, 200_000)}[refusal]
    body = b"\x00" * size
    if size > 1024 * 1024:
        reply = send_raw(server, "PUT", target, body, chunked=True, user="martin")
    else:
        reply = dav("PUT", target, iter([body[i:i + 8192] for i in range(0, size, 8192)]),
                    {"Transfer-Encoding": "chunked"}, encode_chunked=True)
    assert reply.status == status, reply.text
    assert reply.headers["Connection"] == "close"
    for _ in range(3):
        assert dav("PROPFIND", f"{ACHATS}/", headers={"Depth": "0"}).status == 207
    # An accepted chunked upload keeps the connection.
    accepted = dav("PUT", f"{ACHATS}/petit.pdf", iter([b"%PDF", b"-1.7"]),
                   {"Transfer-Encoding": "chunked"}, encode_chunked=True)
    assert accepted.status == 201 and accepted.headers.get("Connection") != "close"


# --- framing of the body ------------------------------------------------------------------------

def exchange(server, head: str, body: bytes) -> Reply:
    """Send a request exactly as written (headers after the request line, without Host and
    credentials, which are added) and read the answer."""
    parts = urlsplit(server.base_url)
    request_line, _, headers = head.partition("\r\n")
    credentials = basic("expert", server.password)["Authorization"]
    raw = (f"{request_line}\r\nHost: {parts.netloc}\r\nAuthorization: {credentials}\r\n"
           f"{headers}\r\n").encode("latin-1") + body
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        sock.sendall(raw)
        return read_answer(sock, request_line.split()[0])


BROKEN_CHUNKS = b"zz\r\nabc\r\n0\r\n\r\n"  # "zz" is no chunk size


@pytest.mark.parametrize("method", ["PUT", "PROPFIND", "PROPPATCH", "LOCK"])
def test_a_broken_chunked_body_is_a_bad_request(world, method):
    live_server, demo, settings = world.server, world.db, world.settings
    before, blobs = stored(demo), blob_count(settings)
    target = f"{ACHATS}/Fragments.pdf" if method in ("PUT", "LOCK") else f"{ACHATS}/"
    reply = exchange(live_server, f"{method} {target} HTTP/1.1\r\nDepth: 0\r\n"
                                  "Transfer-Encoding: chunked\r\n", BROKEN_CHUNKS)
    assert reply.status == 400, reply.text
    assert "découpage en fragments (chunked) est erroné" in reply.text
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []


AMBIGUOUS_LENGTHS = {
    "two lengths": ("Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd"),
    "length and chunks": ("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
                          b"3\r\nabc\r\n0\r\n\r\n"),
}


@pytest.mark.parametrize("case", list(AMBIGUOUS_LENGTHS))
def test_a_body_of_ambiguous_length_is_refused(world, case):
    """Where the body ends must be certain: a proxy in front that read it otherwise would
    see another next request than the server (request smuggling)."""
    live_server, demo, settings = world.server, world.db, world.settings
    before, blobs = stored(demo), blob_count(settings)
    headers, body = AMBIGUOUS_LENGTHS[case]
    reply = exchange(live_server, f"PUT {ACHATS}/Longueur.pdf HTTP/1.1\r\n{headers}", body)
    assert reply.status == 400, reply.text
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []


@pytest.mark.parametrize(("expected", "reason"), [
    ("10", "incomplet"), ("\u00b2", "X-Expected-Entity-Length invalide"),  # "²".isdigit()
    ("-4", "X-Expected-Entity-Length invalide")])
def test_a_chunked_body_without_the_length_finder_announced_is_refused(world, expected,
                                                                         reason):
    """Finder sends its uploads chunked, with their length in X-Expected-Entity-Length: a
    body that ends before it is not the document, and nothing is filed."""
    live_server, demo, settings = world.server, world.db, world.settings
    before, blobs = stored(demo), blob_count(settings)
    reply = exchange(live_server, f"PUT {ACHATS}/Finder.pdf HTTP/1.1\r\n"
                                  f"X-Expected-Entity-Length: {expected}\r\n"
                                  "Transfer-Encoding: chunked\r\n", b"4\r\n%PDF\r\n0\r\n\r\n")
    assert reply.status == 400, reply.text
    assert reason in reply.text
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []


@pytest.mark.parametrize("destination", ["http://", "::::", "http://[", "fichier.pdf", "/",
                                         "/ailleurs/fichier.pdf"])
def test_a_destination_that_is_no_drive_path_is_a_bad_request(world, client, destination):
    live_server, demo = world.server, world.db
    before = stored(demo)
    dav = client(live_server)
    for method in ("MOVE", "COPY"):
        reply = dav(method, f"{ACHATS}/{INVOICE}", headers={"Destination": destination})
        assert reply.status == 400, (method, reply.status, reply.text)
        assert "Destination invalide" in reply.text
    assert stored(demo) == before


def test_writes_on_the_drive_root_are_refused_not_failed(world, client):
    """The root lists the companies; nothing is written there, and WsgiDAV's look for the
    root's parent (there is none) is no server error."""
    live_server, demo, settings = world.server, world.db, world.settings
    before, blobs = stored(demo), blob_count(settings)
    dav = client(live_server)
    seen = {method: dav(method, "/dav/", b"x" if method == "PUT" else None).status
            for method in ("PUT", "DELETE", "MKCOL")}
    seen["MOVE"] = dav("MOVE", "/dav/", headers={
        "Destination": live_server.base_url + f"{ACHATS}/racine"}).status
    assert seen == {"PUT": 405, "DELETE": 403, "MKCOL": 405, "MOVE": 403}
    assert stored(demo) == before
    assert blob_count(settings) == blobs and leftovers(settings) == []


# --- authentication ---------------------------------------------------------------------------

BROKEN_CREDENTIALS = {
    "not base64": "Basic !!!pas-du-base64!!!",
    "no colon": "Basic " + base64.b64encode(b"expert").decode(),
    "not UTF-8": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "empty": "Basic ", "scheme only": "Basic",
    "digest": 'Digest username="expert", realm="Liasse"', "bearer": "Bearer abc.def.ghi",
    "garbage": "n'importe quoi", "empty pair": "Basic " + base64.b64encode(b":").decode(),
    "huge login": "Basic " + base64.b64encode(b"x" * 5000 + b":y").decode(),
    "huge domain login": "Basic " + base64.b64encode(b"DOM\\" + b"x" * 300 + b":y").decode(),
}


def test_broken_credentials_are_401_not_500(live_server, client):
    seen = {}
    for case, header in BROKEN_CREDENTIALS.items():
        reply = client(live_server, headers={"Authorization": header})(
            "PROPFIND", "/dav/", headers={"Depth": "0"})
        seen[case] = reply.status, reply.headers.get("WWW-Authenticate", "")[:20]
    assert seen == dict.fromkeys(BROKEN_CREDENTIALS, (401, 'Basic realm="Liasse"'))
    assert client(live_server)("PROPFIND", "/dav/", headers={"Depth": "0"}).status == 207


def test_wrong_passwords_stay_401(live_server, client):
    wrong = client(live_server, headers=basic("expert", "pas le bon mot de passe"))
    started = time.monotonic()
    for _ in range(6):
        reply = wrong("PROPFIND", "/dav/", headers={"Depth": "0"})
        assert reply.status == 401
        assert "mot de passe" in reply.text
    assert time.monotonic() - started < 30  # the test settings set no failure delay
    assert client(live_server, headers=basic("personne", "x"))(
        "GET", f"{ACHATS}/{INVOICE}").status == 401
    assert client(live_server)("PROPFIND", "/dav/", headers={"Depth": "0"}).status == 207
