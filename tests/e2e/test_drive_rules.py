"""The drive's rules as a user meets them, every WebDAV method against a real server:
habilitations (hidden folders, read-only grants), standard folders, both ends of MOVE/COPY,
the protection date, finite PROPFIND depth, no leak between companies, versions, trash and
receipts.

The tests that only read or are refused share one server per database (`world`); the others
start their own on a fresh demo world.
"""

from __future__ import annotations

import hashlib
import re
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import quote, unquote, urlsplit

import pytest
from sqlalchemy import select
from support.dav import Dav, Reply, responses

from acl.documents import store
from acl.documents.models import Download, Node, NodeProperty, NodeVersion
from acl.people import accounts
from acl.people.companies import set_protection_date
from acl.people.models import Company
from acl.rights.models import Level
from config.dates import today_in_paris

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
GARAGE = "Garage Dupont"
INVOICE = "Facture Moulin Giraud octobre.pdf"  # in Achats, deposited by martin
# Everything the demo puts in Achats: its invoice, a supplier's Factur-X (demo_invoicing),
# an attachment filed from a message (demo_messaging).
ACHATS = sorted([INVOICE, "Facture Moulins Réunis MR-2291.pdf",
                 "Facture électricité décembre.pdf"])
RETURN = "Liasse fiscale 2025.pdf"  # in Fiscalité, deposited by expert
RECEIPT_NS = "urn:liasse:receipt"


# --- reading the drive (the `client` fixture is tests/e2e/conftest.py's) -----------------------

def names_in(dav: Dav, url: str) -> list[str]:
    listing = responses(dav("PROPFIND", url, headers={"Depth": "1"}))
    own = "/" + urlsplit(unquote(url)).path.strip("/") + "/"
    return sorted(href.rstrip("/").rsplit("/", 1)[1] for href in listing if href != own)


def tree_snapshot(db) -> list[tuple]:
    """Every node, every version and every property: what a refused request must not touch."""
    with db.session() as session:
        nodes = session.execute(select(
            Node.id, Node.parent_id, Node.name, Node.sha256, Node.size, Node.deleted_at,
            Node.company_id, Node.download_count).order_by(Node.id)).all()
        versions = session.execute(select(NodeVersion.node_id, NodeVersion.sha256)).all()
        props = session.execute(select(NodeProperty.node_id, NodeProperty.name)).all()
    return [tuple(nodes), tuple(versions), tuple(props)]


def node_at(db, *names: str) -> Node | None:
    with db.session() as session:
        company = store.company_by_folder_name(session, names[0])
        location = store.resolve(session, company, list(names[1:]))
        return location.node if location else None


def grant_read_on_fiscalite(db, ctx_of) -> None:
    with db.transaction() as session:
        secretaire = accounts.find_user(session, "secretaire")
        bakery = store.company_by_folder_name(session, BAKERY)
        accounts.grant(session, ctx_of("martin", session), secretaire, bakery, "Fiscalité",
                       Level.READ)


LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
            b"<D:owner>test</D:owner></D:lockinfo>")
PROPPATCH = (b'<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" '
             b'xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>'
             b"<Z:Win32FileAttributes>00000001</Z:Win32FileAttributes></D:prop></D:set>"
             b"</D:propertyupdate>")


# --- habilitations ----------------------------------------------------------------------------

def test_a_folder_without_right_is_absent_and_nothing_can_be_written_into_it(world, client):
    live_server, demo = world.server, world.db
    dav = client(live_server, "secretaire")
    fisc = ("Fiscalité",)
    before = tree_snapshot(demo)
    assert names_in(dav, live_server.dav(BAKERY)) == ["Achats", "Autres", "Banque", "Ventes"]
    here = live_server.dav(BAKERY, "Achats", INVOICE)
    probes = [
        ("GET", live_server.dav(BAKERY, *fisc, RETURN), None, {}, 404),
        ("PROPFIND", live_server.dav(BAKERY, *fisc), None, {"Depth": "1"}, 404),
        ("PUT", live_server.dav(BAKERY, *fisc, "Nouveau.pdf"), b"x", {}, 409),
        ("PUT", live_server.dav(BAKERY, *fisc, RETURN), b"x", {}, 409),
        ("MKCOL", live_server.dav(BAKERY, *fisc, "Sous-dossier"), None, {}, 409),
        ("MKCOL", live_server.dav(BAKERY, *fisc), None, {}, 403),
        ("DELETE", live_server.dav(BAKERY, *fisc, RETURN), None, {}, 404),
        ("DELETE", live_server.dav(BAKERY, *fisc), None, {}, 404),
        ("PROPPATCH", live_server.dav(BAKERY, *fisc, RETURN), PROPPATCH, {}, 404),
        ("LOCK", live_server.dav(BAKERY, *fisc, RETURN), LOCKINFO, {}, 409),
        ("MOVE", here, None, {"Destination": live_server.dav(BAKERY, *fisc, "F.pdf")}, 409),
        ("COPY", here, None, {"Destination": live_server.dav(BAKERY, *fisc, "F.pdf")}, 409),
        ("MOVE", live_server.dav(BAKERY, *fisc, RETURN), None,
         {"Destination": live_server.dav(BAKERY, "Achats", "L.pdf")}, 404),
        ("COPY", live_server.dav(BAKERY, *fisc, RETURN), None,
         {"Destination": live_server.dav(BAKERY, "Achats", "L.pdf")}, 404),
        ("COPY", here, None, {"Destination": live_server.dav(GARAGE, "Achats", "F.pdf")}, 409),
    ]
    seen = [(m, unquote(u).split("/dav/", 1)[1], dav(m, u, b, h).status)
            for m, u, b, h, _ in probes]
    assert seen == [(m, unquote(u).split("/dav/", 1)[1], s) for m, u, _, _, s in probes]
    assert tree_snapshot(demo) == before
    assert names_in(client(live_server, "expert"), live_server.dav(BAKERY, *fisc)) == [RETURN]


@pytest.mark.parametrize("granted", ["before start", "while serving"])
def test_a_read_only_grant_reads_and_refuses_every_write(serve, demo, ctx_of, client, granted):
    if granted == "before start":
        grant_read_on_fiscalite(demo, ctx_of)
        server = serve()
    else:
        server = serve()
        dav = client(server, "secretaire")
        assert dav("GET", server.dav(BAKERY, "Fiscalité", RETURN)).status == 404
        grant_read_on_fiscalite(demo, ctx_of)  # rights are read on every request
    dav = client(server, "secretaire")

    assert names_in(dav, server.dav(BAKERY)) == [
        "Achats", "Autres", "Banque", "Fiscalité", "Ventes"]
    assert names_in(dav, server.dav(BAKERY, "Fiscalité")) == [RETURN]
    document = server.dav(BAKERY, "Fiscalité", RETURN)
    got = dav("GET", document)
    assert got.status == 200 and got.body.startswith(b"%PDF")
    assert dav("HEAD", document).status == 200
    assert names_in(dav, server.dav(BAKERY, "Fiscalité")) == [RETURN]  # receipts written
    before = tree_snapshot(demo)  # after the download above was counted

    refusals = {
        "PUT new": dav("PUT", server.dav(BAKERY, "Fiscalité", "Nouveau.pdf"), b"x"),
        "PUT over": dav("PUT", document, b"x"),
        "DELETE": dav("DELETE", document),
        "DELETE folder": dav("DELETE", server.dav(BAKERY, "Fiscalité")),
        "MKCOL": dav("MKCOL", server.dav(BAKERY, "Fiscalité", "TVA")),
        "MOVE out": dav("MOVE", document, headers={
            "Destination": server.dav(BAKERY, "Achats", "Liasse.pdf")}),
        "MOVE rename": dav("MOVE", document, headers={
            "Destination": server.dav(BAKERY, "Fiscalité", "Liasse 2025.pdf")}),
        "LOCK": dav("LOCK", document, LOCKINFO),
    }
    assert {k: r.status for k, r in refusals.items()} == dict.fromkeys(refusals, 403)
    assert "lecture" in refusals["PUT new"].text  # the reason is given, in French
    assert "lecture" in refusals["LOCK"].text  # a reader's lock would block the writers
    patched = responses(dav("PROPPATCH", document, PROPPATCH))
    assert [s for props in patched.values() for s, _ in props.values()] == [
        "HTTP/1.1 403 Forbidden"]
    assert tree_snapshot(demo) == before

    # Reading is allowed, so copying out to a folder she may write is too.
    assert dav("COPY", document, headers={
        "Destination": server.dav(BAKERY, "Achats", "Copie liasse.pdf")}).status == 201
    assert dav("GET", server.dav(BAKERY, "Achats", "Copie liasse.pdf")).body == got.body


def test_move_and_copy_are_checked_at_both_ends(serve, demo, ctx_of, client):
    grant_read_on_fiscalite(demo, ctx_of)
    server = serve()
    dav = client(server, "secretaire")
    source = server.dav(BAKERY, "Achats", INVOICE)
    before = tree_snapshot(demo)
    for method in ("COPY", "MOVE"):
        for target, overwrite in (("Copie.pdf", "T"), (RETURN, "T"), (RETURN, "F")):
            reply = dav(method, source, headers={
                "Destination": server.dav(BAKERY, "Fiscalité", target), "Overwrite": overwrite})
            assert reply.status == 403, (method, target, reply.status, reply.text)
    assert tree_snapshot(demo) == before
    assert names_in(dav, server.dav(BAKERY, "Fiscalité")) == [RETURN]
    assert INVOICE in names_in(dav, server.dav(BAKERY, "Achats"))

    # A folder that holds a document she may not delete cannot be moved by her either.
    expert = client(server, "expert")
    assert expert("MKCOL", server.dav(BAKERY, "Fiscalité", "TVA")).status == 201
    assert dav("MOVE", server.dav(BAKERY, "Fiscalité", "TVA"), headers={
        "Destination": server.dav(BAKERY, "Achats", "TVA")}).status == 403
    # The source is checked too: writable destination, read-only source.
    assert dav("MOVE", server.dav(BAKERY, "Fiscalité", RETURN), headers={
        "Destination": server.dav(BAKERY, "Achats", RETURN)}).status == 403
    assert names_in(dav, server.dav(BAKERY, "Achats")) == ACHATS  # nothing moved in


def test_standard_folders_cannot_be_deleted_renamed_or_moved(live_server, demo, client):
    dav = client(live_server, "expert")  # the correspondant, who may write everywhere else
    before = tree_snapshot(demo)
    achats = live_server.dav(BAKERY, "Achats")
    attempts = {
        "DELETE": dav("DELETE", achats),
        "rename": dav("MOVE", achats, headers={"Destination": live_server.dav(BAKERY, "Achat")}),
        "move": dav("MOVE", achats, headers={
            "Destination": live_server.dav(BAKERY, "Ventes", "Achats")}),
        "move to the other company": dav("MOVE", achats, headers={
            "Destination": live_server.dav(GARAGE, "Autres", "Achats")}),
        "copy at the company root": dav("COPY", achats, headers={
            "Destination": live_server.dav(BAKERY, "Achats 2")}),
        "new folder at the company root": dav("MKCOL", live_server.dav(BAKERY, "Divers")),
        "document at the company root": dav("PUT", live_server.dav(BAKERY, "note.txt"), b"x"),
        "delete the company": dav("DELETE", live_server.dav(BAKERY)),
    }
    assert {k: r.status for k, r in attempts.items()} == dict.fromkeys(attempts, 403)
    assert "standard" in attempts["DELETE"].text
    assert tree_snapshot(demo) == before

    # Sub-folders inside them are free.
    assert dav("MKCOL", live_server.dav(BAKERY, "Achats", "2026")).status == 201
    assert dav("MOVE", live_server.dav(BAKERY, "Achats", "2026"), headers={
        "Destination": live_server.dav(BAKERY, "Ventes", "Exercice 2026")}).status == 201
    assert dav("DELETE", live_server.dav(BAKERY, "Ventes", "Exercice 2026")).status == 204


def test_a_delete_that_meets_a_locked_document_deletes_nothing(live_server, demo, client):
    """Someone has a document open (locked) in a folder another user deletes: the delete is
    refused with 423 and every other document stays where it was (WsgiDAV alone deletes
    them one by one, then refuses the folder). The same for a standard folder, which is
    never deleted: its documents are not emptied out of it."""
    expert, secretaire = client(live_server, "expert"), client(live_server, "secretaire")
    folder = live_server.dav(BAKERY, "Achats", "Lot de mars")
    assert expert("MKCOL", folder).status == 201
    names = ["Facture 1.pdf", "Facture 2.pdf", "Ouverte.docx"]
    for name in names:
        assert expert("PUT", f"{folder}/{quote(name)}", b"%PDF-1.4 " + name.encode()).status \
            == 201
    lock = secretaire("LOCK", f"{folder}/{quote('Ouverte.docx')}", LOCKINFO,
                      headers={"Timeout": "Second-600"})
    assert lock.status == 200, lock.text
    before = tree_snapshot(demo)

    refused = expert("DELETE", folder)
    assert refused.status == 423, refused.text
    achats = expert("DELETE", live_server.dav(BAKERY, "Achats"))
    assert achats.status == 403 and "standard" in achats.text
    assert tree_snapshot(demo) == before  # nothing went to the trash
    assert [node_at(demo, BAKERY, "Achats", "Lot de mars", n) is not None for n in names] == \
        [True] * 3

    # Once the document is closed (unlocked), the folder goes to the trash whole.
    assert secretaire("UNLOCK", f"{folder}/{quote('Ouverte.docx')}",
                      headers={"Lock-Token": lock.headers["Lock-Token"]}).status == 204
    assert expert("DELETE", folder).status == 204
    assert node_at(demo, BAKERY, "Achats", "Lot de mars") is None
    with demo.session() as session:
        trashed = session.scalars(select(Node).where(Node.name == "Lot de mars")).one()
        assert trashed.deleted_at is not None
        inside = session.scalars(select(Node.name).where(Node.parent_id == trashed.id)).all()
    assert sorted(inside) == names  # in the trash with its folder, restorable with it


def test_an_update_of_a_document_deleted_meanwhile_does_not_recreate_it(live_server, demo,
                                                                         client):
    """A client that writes with If-Match (the ETag it read) over a document someone else
    deleted meanwhile is told so (412), instead of creating it again unknowingly."""
    expert, secretaire = client(live_server, "expert"), client(live_server, "secretaire")
    url = live_server.dav(BAKERY, "Achats", "Partagé.pdf")
    assert expert("PUT", url, b"%PDF-1.4 v1").status == 201
    etag = expert("HEAD", url).headers["ETag"]
    assert secretaire("DELETE", url).status == 204
    refused = expert("PUT", url, b"%PDF-1.4 v2", headers={"If-Match": etag})
    assert refused.status == 412, refused.text
    assert node_at(demo, BAKERY, "Achats", "Partagé.pdf") is None
    # Without the condition, or while it still exists, the write goes through.
    assert expert("PUT", url, b"%PDF-1.4 v2").status == 201
    etag = expert("HEAD", url).headers["ETag"]
    assert expert("PUT", url, b"%PDF-1.4 v3", headers={"If-Match": etag}).status == 204
    # Where the request fails anyway (no such folder), it fails as it would.
    missing = live_server.dav(BAKERY, "Achats", "Absent", "x.pdf")
    assert expert("PUT", missing, b"x", headers={"If-Match": etag}).status == 409


# --- protection date ---------------------------------------------------------------------------

def test_documents_before_the_protection_date_are_read_only_for_everyone(live_server, demo,
                                                                        client, ctx_of):
    expert = client(live_server, "expert")
    assert expert("MKCOL", live_server.dav(BAKERY, "Achats", "Anciens")).status == 201
    assert expert("PUT", live_server.dav(BAKERY, "Achats", "Anciens", "a.pdf"),
                  b"ancien").status == 201
    with demo.transaction() as session:
        company = session.scalars(select(Company).where(Company.folder_name == BAKERY)).one()
        # Its documents so far were deposited during a period now closed...
        for node in session.scalars(select(Node).where(Node.company_id == company.id)):
            node.created_at -= timedelta(days=3)
        # ...which the firm closes as it does (CLI, web): an audited act, dated today.
        set_protection_date(session, ctx_of("expert", session), company,
                            today_in_paris())
    before = tree_snapshot(demo)

    for login in ("expert", "martin"):
        dav = client(live_server, login)
        old = live_server.dav(BAKERY, "Achats", INVOICE)
        refused = {
            "PUT": dav("PUT", old, b"nouvelle version"),
            "DELETE": dav("DELETE", old),
            "MOVE": dav("MOVE", old, headers={
                "Destination": live_server.dav(BAKERY, "Achats", "Renommée.pdf")}),
            "DELETE folder": dav("DELETE", live_server.dav(BAKERY, "Achats", "Anciens")),
            "MOVE folder": dav("MOVE", live_server.dav(BAKERY, "Achats", "Anciens"), headers={
                "Destination": live_server.dav(BAKERY, "Autres", "Anciens")}),
            "COPY over": dav("COPY", live_server.dav(BAKERY, "Banque", "Relevé octobre 2026.csv"),
                             headers={"Destination": old, "Overwrite": "T"}),
        }
        assert {k: r.status for k, r in refused.items()} == dict.fromkeys(refused, 403), login
        assert "date de protection" in refused["PUT"].text
    assert tree_snapshot(demo) == before
    assert expert("GET", live_server.dav(BAKERY, "Achats", INVOICE)).status == 200

    # New documents are still deposited (and reading or copying the old ones still works).
    assert client(live_server, "martin")("PUT", live_server.dav(BAKERY, "Achats", "Neuf.pdf"),
                                         b"neuf").status == 201
    assert expert("COPY", live_server.dav(BAKERY, "Achats", INVOICE), headers={
        "Destination": live_server.dav(BAKERY, "Autres", "Copie.pdf")}).status == 201
    assert node_at(demo, BAKERY, "Achats", "Neuf.pdf") is not None


# --- parallel clients -----------------------------------------------------------------------

def test_parallel_creations_of_one_name_never_fail(live_server, demo):
    """rclone and Explorer work in parallel: eight clients creating the same folder, then the
    same document, at the same moment: one creates it, the others find it there."""
    clients = 8
    barrier = threading.Barrier(clients)

    def together(method: str, url: str, body: bytes | None, numbered: bool = True,
                 **headers: str) -> list[int]:
        def one(i: int) -> int:
            dav = Dav(live_server.base_url, "expert", live_server.password)
            try:
                barrier.wait(timeout=30)
                return dav(method, url, body and body + str(i).encode() if numbered else body,
                           headers=headers).status
            finally:
                dav.close()

        with ThreadPoolExecutor(clients) as pool:
            return list(pool.map(one, range(clients)))

    folder = live_server.dav(BAKERY, "Achats", "Import parallèle")
    statuses = together("MKCOL", folder, None)
    assert sorted(statuses) == [201] + [405] * (clients - 1), statuses
    statuses = together("PUT", f"{folder}/{quote('Relevé commun.pdf')}", b"version ")
    assert set(statuses) <= {201, 204}, statuses  # 201: absent when that request began
    node = node_at(demo, BAKERY, "Achats", "Import parallèle", "Relevé commun.pdf")
    with demo.session() as session:
        versions = session.scalars(select(NodeVersion.id).where(
            NodeVersion.node_id == node.id)).all()
    assert len(versions) == clients - 1  # every body but the last is kept as a version
    # Explorer and davfs2 LOCK a name before they write it: one lock is granted (the
    # document is created empty), the others are told it is locked.
    lock = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>")
    statuses = together("LOCK", f"{folder}/{quote('Verrou commun.docx')}", lock,
                        numbered=False, Timeout="Second-60")
    assert sorted(statuses)[1:] == [423] * (clients - 1) and sorted(statuses)[0] in (200, 201), \
        statuses
    assert node_at(demo, BAKERY, "Achats", "Import parallèle", "Verrou commun.docx").size == 0


# --- PROPFIND depth ----------------------------------------------------------------------------

def test_propfind_depth_infinity_is_refused(world, client):
    live_server = world.server
    dav = client(live_server, "expert")
    for depth in ("infinity", "Infinity", None):  # no Depth header means infinity
        headers = {"Depth": depth} if depth else {}
        for url in ("/", live_server.dav_url, live_server.dav(BAKERY),
                    live_server.dav(BAKERY, "Achats")):
            reply = dav("PROPFIND", url, headers=headers)
            assert reply.status == 403, (depth, url)
            error = ET.fromstring(reply.body)
            assert error.tag == "{DAV:}error"
            assert [child.tag for child in error] == ["{DAV:}propfind-finite-depth"]
    assert dav("PROPFIND", live_server.dav(BAKERY), headers={"Depth": "1"}).status == 207


# --- no leak between companies --------------------------------------------------------------

def _normalised(reply: Reply, company: str) -> tuple:
    """Status, headers and body, with the probed company's name and the time blanked."""
    body = reply.text
    for form in (company, quote(company), quote(company).replace("%20", "+")):
        body = body.replace(form, "<company>")
    body = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?", "<time>", body)
    headers = sorted((k.lower(), v) for k, v in reply.headers.items()
                     if k.lower() not in ("date", "content-length"))
    return reply.status, headers, body


def test_another_companys_paths_answer_like_missing_ones(world, client):
    live_server, demo = world.server, world.db
    dupont = client(live_server, "dupont")
    assert names_in(dupont, live_server.dav_url) == [GARAGE]
    before = tree_snapshot(demo)

    def probes(company: str) -> list[tuple]:
        def url(*rest: str) -> str:
            return live_server.dav(company, *rest)

        dest = {"Destination": url("Achats", "copie.pdf")}
        out = []
        for target in (url(), url("Achats"), url("Fiscalité"), url("Achats", INVOICE),
                       url("Achats", "absent.pdf"), url("Achats", "Sous", "dossier")):
            for method, body, headers in (
                    ("GET", None, {}), ("HEAD", None, {}), ("OPTIONS", None, {}),
                    ("PROPFIND", None, {"Depth": "0"}), ("PROPFIND", None, {"Depth": "1"}),
                    ("PROPPATCH", PROPPATCH, {}), ("PUT", b"intrus", {}), ("MKCOL", None, {}),
                    ("DELETE", None, {}), ("LOCK", LOCKINFO, {}),
                    ("UNLOCK", None, {"Lock-Token": "<opaquelocktoken:0x1234>"}),
                    ("COPY", None, dest), ("MOVE", None, dest)):
                out.append((method, target.rsplit(quote(company), 1)[1],
                            _normalised(dupont(method, target, body, headers), company)))
        # From his own company towards the other one.
        for method in ("COPY", "MOVE"):
            reply = dupont(method, live_server.dav(GARAGE, "Ventes", "Facture 2026-0042.pdf"),
                           headers={"Destination": url("Achats", "x.pdf")})
            out.append((method, "→", _normalised(reply, company)))
        return out

    real, ghost = probes(BAKERY), probes("Entreprise Fantôme")
    for seen, expected in zip(real, ghost, strict=True):
        assert seen == expected
    assert tree_snapshot(demo) == before


# --- versions, trash, receipts --------------------------------------------------------------

def test_overwrite_keeps_the_previous_version_and_delete_goes_to_the_trash(live_server, demo,
                                                                          settings, client):
    martin = client(live_server, "martin")
    url = live_server.dav(BAKERY, "Ventes", "Chiffre d'affaires 2026.xlsx")
    first, second = b"PK version 1" * 100, b"PK version 2" * 120
    assert martin("PUT", url, first).status == 201
    assert martin("PUT", url, second).status == 204
    assert martin("GET", url).body == second

    node = node_at(demo, BAKERY, "Ventes", "Chiffre d'affaires 2026.xlsx")
    with demo.session() as session:
        versions = session.execute(select(NodeVersion.sha256, NodeVersion.size).where(
            NodeVersion.node_id == node.id)).all()
    assert versions == [(hashlib.sha256(first).hexdigest(), len(first))]

    assert martin("DELETE", url).status == 204
    assert martin("GET", url).status == 404
    assert "Chiffre d'affaires 2026.xlsx" not in names_in(martin,
                                                          live_server.dav(BAKERY, "Ventes"))
    with demo.session() as session:
        trashed = session.get(Node, node.id)
        assert trashed.deleted_at is not None
        assert trashed.deleted_by_id is not None
    blobs = settings.data_dir / "blobs"
    for body in (first, second):
        sha = hashlib.sha256(body).hexdigest()
        assert (blobs / sha[:2] / sha).read_bytes() == body


def receipt(dav: Dav, url: str) -> dict[str, str]:
    props = next(iter(responses(dav("PROPFIND", url, headers={"Depth": "0"})).values()))
    return {name.split("}")[1]: value for name, (_, value) in props.items()
            if name.startswith(f"{{{RECEIPT_NS}}}")}


def test_receipts_mark_the_first_complete_download_by_the_other_side(live_server, demo, client):
    martin, expert = client(live_server, "martin"), client(live_server, "expert")
    url = live_server.dav(BAKERY, "Achats", "Facture Minoterie.pdf")
    body = b"%PDF-1.7 " + bytes(range(256)) * 400
    assert martin("PUT", url, body).status == 201
    shown = receipt(expert, url)
    assert shown["deposited-by"] == "martin" and shown["deposited-at"]
    assert (shown["received-by"], shown["received-at"], shown["download-count"]) == ("", "", "0")

    # The depositor's own download is counted but is no receipt.
    assert martin("GET", url).body == body
    assert (receipt(martin, url)["received-by"], receipt(martin, url)["download-count"]) == (
        "", "1")
    # A partial download (Range) by the cabinet is neither.
    partial = expert("GET", url, headers={"Range": "bytes=0-99"})
    assert partial.status == 206 and partial.body == body[:100]
    shown = receipt(expert, url)
    assert (shown["received-by"], shown["received-at"], shown["download-count"]) == ("", "", "1")
    # The cabinet's complete download is the receipt (asked on the downloader's connection:
    # the receipt is handed over before the next request there, which waits for it).
    assert expert("GET", url).body == body
    shown = receipt(expert, url)
    assert shown["received-by"] == "expert" and shown["received-at"]
    assert shown["download-count"] == "2"
    assert receipt(martin, url) == shown  # what the depositor sees
    first_receipt = shown["received-at"]
    # Later downloads count, the receipt stays the first one.
    associe = client(live_server, "associe")
    assert associe("GET", url).body == body
    shown = receipt(associe, url)
    assert (shown["received-by"], shown["received-at"], shown["download-count"]) == (
        "expert", first_receipt, "3")

    node = node_at(demo, BAKERY, "Achats", "Facture Minoterie.pdf")
    with demo.session() as session:
        downloads = session.execute(select(Download.bytes_sent, Download.complete).where(
            Download.node_id == node.id).order_by(Download.id)).all()
    assert downloads == [(len(body), True), (100, False), (len(body), True), (len(body), True)]

    # Receipt properties are Liasse's, read-only.
    patch = (f'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:R="{RECEIPT_NS}">'
             "<D:set><D:prop><R:received-by>personne</R:received-by></D:prop></D:set>"
             "</D:propertyupdate>").encode()
    statuses = responses(martin("PROPPATCH", url, patch))
    assert [s for props in statuses.values() for s, _ in props.values()] == [
        "HTTP/1.1 403 Forbidden"]
    assert receipt(martin, url)["received-by"] == "expert"
