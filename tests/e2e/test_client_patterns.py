"""The request patterns of Windows Explorer, macOS Finder and Microsoft Office, replayed with
http.client against a real server: what each client sends, and what its user then sees.

Requests go over one keep-alive connection per user: the server hands a download's receipt
to its recorder before it reads the next request on the same connection, and a PROPFIND
waits for the receipts handed over, so nothing is polled.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from support.dav import Dav, responses

from acl.documents import store
from acl.documents.models import Download, Node
from acl.events.models import Event

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
MS_NS = "urn:schemas-microsoft-com:"
RECEIPT_NS = "urn:liasse:receipt"


# --- a small WebDAV client on http.client ----------------------------------------------------

@pytest.fixture
def client(live_server) -> Iterator[Callable[[str | None], Dav]]:
    opened: list[Dav] = []

    def open_as(user: str | None) -> Dav:
        dav = Dav(live_server.base_url, user, live_server.password)
        opened.append(dav)
        return dav

    yield open_as
    for dav in opened:
        dav.close()


def node_at(db, *names: str) -> Node | None:
    with db.session() as session:
        company = store.company_by_folder_name(session, names[0])
        location = store.resolve(session, company, list(names[1:]))
        return location.node if location else None


def events_for(db, node_id: int, kind: str | None = None) -> list[Event]:
    with db.session() as session:
        query = select(Event).where(Event.node_id == node_id)
        if kind:
            query = query.where(Event.kind == kind)
        return list(session.scalars(query))


LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
            b"<D:owner><D:href>POSTE-07\\sophie</D:href></D:owner></D:lockinfo>")

WIN32_PROPS = {
    "Win32CreationTime": "Mon, 02 Nov 2026 08:15:00 GMT",
    "Win32LastAccessTime": "Mon, 23 Nov 2026 09:00:00 GMT",
    "Win32LastModifiedTime": "Tue, 03 Nov 2026 17:42:10 GMT",
    "Win32FileAttributes": "00000020",
}


def proppatch_win32() -> bytes:
    props = "".join(f"<Z:{k}>{v}</Z:{k}>" for k, v in WIN32_PROPS.items())
    return (f'<?xml version="1.0" encoding="utf-8" ?><D:propertyupdate xmlns:D="DAV:" '
            f'xmlns:Z="{MS_NS}"><D:set><D:prop>{props}</D:prop></D:set>'
            "</D:propertyupdate>").encode()


# --- Windows Explorer -------------------------------------------------------------------------

def test_windows_explorer_discovers_the_drive(live_server, client):
    anonymous = client(None)
    # The WebDAV mini-redirector first asks the server's root, anonymously, whether it speaks
    # WebDAV, even when the drive is below it.
    root = anonymous("OPTIONS", "/", headers={"User-Agent": "Microsoft-WebDAV-MiniRedir/10.0"})
    assert root.status == 200
    assert "1" in root.headers.get("DAV", "") and "2" in root.headers["DAV"]
    assert root.headers.get("MS-Author-Via") == "DAV"

    assert anonymous("OPTIONS", "/dav/").status == 401  # then it signs in
    explorer = client("secretaire")
    drive = explorer("OPTIONS", "/dav/")
    assert drive.status == 200
    assert [c.strip() for c in drive.headers["DAV"].split(",")][:2] == ["1", "2"]
    assert drive.headers["MS-Author-Via"] == "DAV"
    for method in ("PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "MOVE", "COPY", "DELETE"):
        assert method in drive.headers["Allow"]

    # Folders are asked for without their trailing slash.
    for path in ([BAKERY], [BAKERY, "Achats"]):
        url = live_server.dav(*path)
        assert not url.endswith("/")
        listing = responses(explorer("PROPFIND", url, headers={"Depth": "1"}))
        assert "/dav/" + "/".join(path) + "/" in listing
    company = responses(explorer("PROPFIND", live_server.dav(BAKERY), headers={"Depth": "1"}))
    shown = sorted(href.rstrip("/").rsplit("/", 1)[1] for href in company
                   if href.rstrip("/") != f"/dav/{BAKERY}")
    assert shown == ["Achats", "Autres", "Banque", "Ventes"]
    # It also walks up to the root, which holds the drive.
    root = responses(explorer("PROPFIND", "/", headers={"Depth": "1"}))
    assert sorted(root) == ["/", "/dav/"]


def test_explorer_renames_keep_the_whole_new_name(live_server, client, demo):
    """Names may hold « ; », « # », « % », « & »: a rename (MOVE) gives exactly that name and
    leaves alone a document named like the part before them."""
    explorer = client("secretaire")
    folder = live_server.dav(BAKERY, "Autres")
    assert explorer("PUT", f"{folder}/Rapport", b"le vrai rapport").status == 201
    assert explorer("PUT", f"{folder}/brouillon.txt", b"brouillon").status == 201
    current = "brouillon.txt"
    for new, destination in (
            ("Rapport; version finale.txt", f"{folder}/Rapport;%20version%20finale.txt"),
            ("Rapport; v3.txt", f"{folder}/Rapport%3B%20v3.txt"),
            ("Rapport #2.txt", f"{folder}/Rapport%20%232.txt"),
            ("Rapport 100% & annexes.txt", f"{folder}/Rapport%20100%25%20%26%20annexes.txt")):
        reply = explorer("MOVE", f"{folder}/{quote(current)}", headers={
            "Destination": destination, "Overwrite": "F"})
        assert reply.status == 201, (new, reply.status, reply.text)
        listing = responses(explorer("PROPFIND", folder, headers={"Depth": "1"}))
        assert sorted(listing) == [f"/dav/{BAKERY}/Autres/", f"/dav/{BAKERY}/Autres/Rapport",
                                   f"/dav/{BAKERY}/Autres/{new}"], new
        current = new
    assert explorer("GET", f"{folder}/Rapport").body == b"le vrai rapport"
    assert explorer("GET", f"{folder}/{quote(current)}").body == b"brouillon"
    copied = explorer("COPY", f"{folder}/Rapport", headers={
        "Destination": f"{folder}/Rapport;copie"})
    assert copied.status == 201
    assert explorer("GET", f"{folder}/Rapport%3Bcopie").body == b"le vrai rapport"


def test_windows_explorer_creates_a_document(live_server, client, demo):
    explorer = client("secretaire")
    name = "Facture Boulangère n°12.pdf"
    url = live_server.dav(BAKERY, "Achats", name)
    body = b"%PDF-1.4 facture " + os.urandom(5000)

    assert explorer("PUT", url, b"").status == 201  # Explorer first creates an empty file
    locked = explorer("LOCK", url, LOCKINFO, headers={
        "Content-Type": "text/xml; charset=utf-8", "Timeout": "Second-3600", "Depth": "0"})
    assert locked.status == 200, locked.text
    token = locked.headers["Lock-Token"].strip("<>")
    assert token.startswith("opaquelocktoken:")
    lock_if = {"If": f"(<{token}>)"}

    patched = explorer("PROPPATCH", url, proppatch_win32(),
                       headers={"Content-Type": "text/xml; charset=utf-8", **lock_if})
    statuses = responses(patched)[f"/dav/{BAKERY}/Achats/{name}"]
    assert {tag: status for tag, (status, _) in statuses.items()} == {
        f"{{{MS_NS}}}{k}": "HTTP/1.1 200 OK" for k in WIN32_PROPS}

    # Someone else cannot write the locked document meanwhile.
    assert client("martin")("PUT", url, b"autre").status == 423
    assert explorer("PUT", url, body, headers=lock_if).status in (200, 204)
    assert explorer("UNLOCK", url, headers={"Lock-Token": f"<{token}>"}).status == 204

    fetched = explorer("GET", url)
    assert fetched.status == 200 and fetched.body == body
    props = responses(explorer("PROPFIND", url, headers={"Depth": "0"}))[
        f"/dav/{BAKERY}/Achats/{name}"]
    for key, value in WIN32_PROPS.items():
        assert props[f"{{{MS_NS}}}{key}"] == ("HTTP/1.1 200 OK", value)
    assert props["{DAV:}getcontentlength"][1] == str(len(body))
    assert props[f"{{{RECEIPT_NS}}}deposited-by"][1] == "secretaire"

    node = node_at(demo, BAKERY, "Achats", name)
    assert node.sha256 == hashlib.sha256(body).hexdigest() and node.size == len(body)
    deposits = events_for(demo, node.id, "deposited")
    assert len(deposits) == 1, [(e.kind, e.detail) for e in deposits]
    assert '"replaced": false' in deposits[0].detail


# --- macOS Finder ---------------------------------------------------------------------------

def test_finder_chunked_upload_arrives_whole(live_server, client, demo):
    finder = client("secretaire")
    body = os.urandom(3 * 1024 * 1024 + 123)
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    url = live_server.dav(BAKERY, "Banque", "Relevé décembre.pdf")
    reply = finder("PUT", url, iter(chunks), headers={
        "Transfer-Encoding": "chunked", "X-Expected-Entity-Length": str(len(body)),
        "User-Agent": "WebDAVFS/3.0.0 (03008000) Darwin/23.0.0"}, encode_chunked=True)
    assert reply.status == 201, reply.text

    fetched = finder("GET", url)
    assert fetched.status == 200
    assert fetched.headers["Content-Length"] == str(len(body))
    assert hashlib.sha256(fetched.body).hexdigest() == hashlib.sha256(body).hexdigest()
    node = node_at(demo, BAKERY, "Banque", "Relevé décembre.pdf")
    assert node.size == len(body)


def test_finder_nfd_paths_reach_the_nfc_folder(live_server, client, demo):
    finder = client("expert")
    nfd_folder = "Fiscalite\u0301"  # what macOS sends for « Fiscalité »
    listing = responses(finder("PROPFIND", live_server.dav(BAKERY, nfd_folder),
                               headers={"Depth": "1"}))
    assert f"/dav/{BAKERY}/Fiscalité/" in listing  # answered under the NFC name
    assert f"/dav/{BAKERY}/Fiscalité/Liasse fiscale 2025.pdf" in listing

    nfd_name = "De\u0301claration TVA e\u0301te\u0301.pdf"
    assert finder("PUT", live_server.dav(BAKERY, nfd_folder, nfd_name), b"TVA").status == 201
    nfc_name = "Déclaration TVA été.pdf"
    assert finder("GET", live_server.dav(BAKERY, "Fiscalité", nfc_name)).body == b"TVA"
    listing = responses(finder("PROPFIND", live_server.dav(BAKERY, "Fiscalité"),
                               headers={"Depth": "1"}))
    assert f"/dav/{BAKERY}/Fiscalité/{nfc_name}" in listing
    assert all(unicodedata.is_normalized("NFC", href) for href in listing)
    # One folder, one document: NFD did not create twins.
    with demo.session() as session:
        names = list(session.scalars(select(Node.name).where(Node.deleted_at.is_(None))))
    assert names.count("Fiscalité") == 2  # one per company
    assert nfd_folder not in names and nfd_name not in names
    assert names.count(nfc_name) == 1


HELPER_FILES = ["._Facture Moulin Giraud octobre.pdf", ".DS_Store", "~$Prévisionnel 2027.docx",
                "Thumbs.db", "desktop.ini"]


def test_client_helper_files_are_stored_without_event_or_receipt(live_server, client, demo):
    martin = client("martin")  # company side; the cabinet downloading it would be a receipt
    expert = client("expert")
    for name in HELPER_FILES:
        url = live_server.dav(BAKERY, "Achats", name)
        assert martin("PUT", url, b"\x00\x05\x16\x07 helper").status == 201
        assert expert("GET", url).body == b"\x00\x05\x16\x07 helper"
        assert martin("PUT", url, b"\x00\x05\x16\x07 helper v2").status == 204
        props = responses(expert("PROPFIND", url, headers={"Depth": "0"}))[
            f"/dav/{BAKERY}/Achats/{name}"]
        assert props[f"{{{RECEIPT_NS}}}received-by"][1] == "", name
        assert props[f"{{{RECEIPT_NS}}}download-count"][1] == "0", name

    listing = responses(martin("PROPFIND", live_server.dav(BAKERY, "Achats"),
                               headers={"Depth": "1"}))
    for name in HELPER_FILES:  # stored and listed, like any file
        assert f"/dav/{BAKERY}/Achats/{name}" in listing
        node = node_at(demo, BAKERY, "Achats", name)
        assert node.is_client_file and node.received_at is None and node.download_count == 0
        assert events_for(demo, node.id) == [], name
        with demo.session() as session:
            assert session.scalar(select(func.count()).select_from(Download).where(
                Download.node_id == node.id)) == 0

    # A real document next to them does raise its deposit event, and its receipt.
    real = live_server.dav(BAKERY, "Achats", "Vraie facture.pdf")
    assert martin("PUT", real, b"%PDF").status == 201
    assert expert("GET", real).body == b"%PDF"
    assert expert("PROPFIND", real, headers={"Depth": "0"}).status == 207
    node = node_at(demo, BAKERY, "Achats", "Vraie facture.pdf")
    kinds = [e.kind for e in events_for(demo, node.id)]
    assert kinds[0] == "deposited" and "received" in kinds, kinds


def test_office_lock_file_next_to_a_document(live_server, client, demo):
    """Word opens a document: it writes `~$name.docx` beside it, then deletes it on close."""
    word = client("assistant")
    doc = live_server.dav(BAKERY, "Social", "Contrat apprenti.docx")
    owner = live_server.dav(BAKERY, "Social", "~$ntrat apprenti.docx")
    assert word("PUT", doc, b"PK\x03\x04 contrat").status == 201
    assert word("PUT", owner, b"\x0bInes Assistante").status == 201
    assert word("DELETE", owner).status == 204
    with demo.session() as session:
        kinds = [(e.kind, e.path.rsplit("/", 1)[1]) for e in session.scalars(
            select(Event).where(Event.folder == "Social").order_by(Event.id))]
    assert kinds == [("deposited", "Contrat apprenti.docx")]
    listing = responses(word("PROPFIND", live_server.dav(BAKERY, "Social"),
                             headers={"Depth": "1"}))
    assert sorted(listing) == [f"/dav/{BAKERY}/Social/",
                               f"/dav/{BAKERY}/Social/Contrat apprenti.docx"]
