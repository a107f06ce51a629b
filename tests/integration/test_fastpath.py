"""GET and HEAD of a document answered before WsgiDAV (davserver/fastpath.py): the same
answer as WsgiDAV's, the same rights, the same receipts; everything else still WsgiDAV's."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest
from sqlalchemy import func, select
from support.disk import record_fsyncs
from support.wsgi import InProcessDrive

from acl.documents.blobs import BlobWriter, FolderStore
from acl.documents.models import Download, Node, NodeVersion
from acl.documents.store import used_bytes
from acl.events.models import Event
from acl.people.models import Company
from davserver.app import build_drive

DOC = "/Boulangerie Martin/Achats/Relevé d'août n°3.pdf"
BODY = b"%PDF-1.4 " + bytes(range(256)) * 40


@pytest.fixture
def drive(demo, settings, hasher, demo_password) -> InProcessDrive:
    drive = InProcessDrive(build_drive(settings, demo, hasher), demo_password)
    assert drive("PUT", DOC, BODY, user="secretaire")[0].startswith("201")
    return drive


def without_wsgidav(drive: InProcessDrive) -> None:
    """Any request reaching WsgiDAV now fails the test."""
    def refuse(environ, start_response):
        pytest.fail(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} reached WsgiDAV")
    drive.app.app = refuse


def without_fast_path(drive: InProcessDrive) -> None:
    drive.app.fast = None


def downloads(demo) -> list[tuple[int, bool]]:
    with demo.session() as s:
        return [tuple(r) for r in s.execute(select(Download.bytes_sent, Download.complete)
                                            .join(Node).where(Node.name == DOC.rsplit("/")[-1]))]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_same_answer_as_wsgidav(drive, method):
    drive(method, DOC, user="expert")  # the company is now cached: the fast path answers
    wrapped = drive.app.app
    without_wsgidav(drive)
    status, fast_body = drive(method, DOC, user="expert")
    fast_headers = dict(drive.headers)
    drive.app.app = wrapped
    without_fast_path(drive)
    assert drive(method, DOC, user="expert") == (status, fast_body)
    generic_headers = dict(drive.headers)
    assert status == "200 OK"
    assert fast_body == (BODY if method == "GET" else b"")
    fast_headers.pop("Date"), generic_headers.pop("Date")
    assert fast_headers == generic_headers
    assert fast_headers["Content-Length"] == str(len(BODY))
    assert fast_headers["Content-Type"] == "application/pdf"


def test_get_records_the_receipt(drive, demo):
    drive("HEAD", DOC, user="expert")
    without_wsgidav(drive)
    assert drive("GET", DOC, user="expert")[0] == "200 OK"
    drive.app.fast.provider.receipts.wait()
    assert downloads(demo) == [(len(BODY), True)]
    with demo.session() as s:
        node = s.scalars(select(Node).where(Node.name == DOC.rsplit("/")[-1])).one()
        assert node.download_count == 1 and node.received_at is not None  # cabinet received


def test_head_records_nothing(drive, demo):
    drive("HEAD", DOC, user="expert")
    without_wsgidav(drive)
    assert drive("HEAD", DOC, user="expert")[0] == "200 OK"
    drive.app.fast.provider.receipts.wait()
    assert downloads(demo) == []


@pytest.mark.parametrize("path, user", [
    ("/Boulangerie Martin/Fiscalité/liasse.pdf", "secretaire"),  # no right on the folder
    ("/Boulangerie Martin/Achats/absent.pdf", "secretaire"),     # missing
    (DOC, "dupont"),                                             # another company's user
    ("/Boulangerie Martin/Achats/", "secretaire"),               # a folder
])
def test_what_the_fast_path_cannot_serve_gets_wsgidavs_answer(drive, path, user):
    drive("HEAD", DOC, user=user)  # warm the company cache for this user's generation
    status, body = drive("GET", path, user=user)
    without_fast_path(drive)
    assert drive("GET", path, user=user)[0] == status  # (WsgiDAV's error pages hold the time)
    assert BODY not in body
    if path.endswith(".pdf"):
        assert status.startswith("404")


def test_refused_document_is_not_served(drive, demo):
    with demo.transaction() as tx:  # a document in a folder secretaire cannot read
        doc = tx.scalars(select(Node).where(Node.name == DOC.rsplit("/")[-1])).one()
        fiscal = tx.scalars(select(Node).where(Node.name == "Fiscalité",
                                               Node.company_id == doc.company_id)).one()
        tx.add(Node(company_id=doc.company_id, parent_id=fiscal.id, name="secret.pdf",
                    kind="file", size=doc.size, sha256=doc.sha256))
    path = "/Boulangerie Martin/Fiscalité/secret.pdf"
    assert drive("GET", path, user="expert")[0] == "200 OK"
    status, body = drive("GET", path, user="secretaire")
    assert status.startswith("404") and BODY not in body


@pytest.mark.parametrize("headers, expected", [
    ({"range": "bytes=0-9"}, "206 Partial Content"),
    ({"if_none_match": "*"}, "304 Not Modified"),
])
def test_conditions_and_ranges_go_to_wsgidav(drive, headers, expected):
    drive("HEAD", DOC, user="expert")
    fast, answers = drive.app.fast, []
    drive.app.fast = lambda *args: answers.append(fast(*args)) or answers[-1]
    assert drive("GET", DOC, user="expert", **headers)[0] == expected
    assert answers == [None]  # declined: WsgiDAV answered


def count_deposits(demo, name: str) -> int:
    with demo.session() as s:
        return s.scalar(select(func.count()).select_from(Event).where(
            Event.kind == "deposited", Event.path.endswith(name)))


def test_put_is_stored_before_wsgidav_and_answers_like_it(drive, demo, settings):
    drive("HEAD", DOC, user="secretaire")
    wsgidav = drive.app.app
    without_wsgidav(drive)
    new = "/Boulangerie Martin/Achats/nouveau.pdf"
    status, body = drive("PUT", new, b"%PDF-1.4 neuf", user="secretaire")
    created = dict(drive.headers)
    assert status == "201 Created"
    assert drive("PUT", new, b"%PDF-1.4 version 2", user="secretaire")[0] == "204 No Content"
    assert drive("GET", new, user="secretaire")[1] == b"%PDF-1.4 version 2"
    assert count_deposits(demo, "nouveau.pdf") == 2
    with demo.session() as s:
        node = s.scalars(select(Node).where(Node.name == "nouveau.pdf")).one()
        assert created["ETag"] == f'"{hashlib.sha256(b"%PDF-1.4 neuf").hexdigest()}"'
        assert [v.size for v in s.scalars(select(NodeVersion).where(
            NodeVersion.node_id == node.id))] == [len(b"%PDF-1.4 neuf")]
    drive.app.app = wsgidav
    without_fast_path(drive)
    generic_status, generic_body = drive("PUT", "/Boulangerie Martin/Achats/autre.pdf",
                                         b"%PDF-1.4 neuf", user="secretaire")
    assert generic_status == status and b"<h1>201 Created</h1>" in body and \
        b"<h1>201 Created</h1>" in generic_body  # (WsgiDAV's pages hold the time)
    generic = dict(drive.headers)
    for varying in ("Date", "Content-Length"):
        created.pop(varying), generic.pop(varying)
    assert created == generic


@pytest.mark.parametrize("path, user, extra", [
    ("/Boulangerie Martin/Fiscalité/refus.pdf", "secretaire", {}),  # no right there
    ("/Boulangerie Martin/Achats/", "secretaire", {}),               # a folder
    ("/Boulangerie Martin/Achats/a|b.pdf", "secretaire", {}),         # a name Windows refuses
    ("/Boulangerie Martin/Achats/x.pdf", "secretaire", {"content_range": "bytes 0-3/9"}),
])
def test_what_put_cannot_take_goes_to_wsgidav(drive, path, user, extra):
    drive("HEAD", DOC, user=user)
    fast, answers = drive.app.fast, []
    drive.app.fast = lambda *args: answers.append(fast(*args)) or answers[-1]
    status, _ = drive("PUT", path, b"%PDF-1.4", user=user, **extra)
    assert answers == [None] and status[0] == "4"


LOCK = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>")


def lock_token(drive: InProcessDrive) -> str:
    return dict(drive.headers)["Lock-Token"]


def test_put_on_a_locked_document_goes_to_wsgidav(drive):
    assert drive("LOCK", DOC, LOCK, user="secretaire")[0].startswith("200")
    assert drive("PUT", DOC, b"%PDF-1.4 other", user="expert")[0].startswith("423")
    assert drive("GET", DOC, user="expert")[1] == BODY


def test_once_unlocked_a_document_takes_uploads_again(drive):
    """The lock storage says at once that it holds no lock (davserver/locks.py): set by a
    LOCK, it must follow the UNLOCK, and a lock on a folder covers what is below it."""
    assert drive("LOCK", DOC, LOCK, user="secretaire")[0].startswith("200")
    token = lock_token(drive)
    assert drive("UNLOCK", DOC, user="secretaire", lock_token=token)[0].startswith("204")
    wsgidav = drive.app.app
    without_wsgidav(drive)  # the fast path takes it: no lock left
    assert drive("PUT", DOC, b"%PDF-1.4 after", user="expert")[0].startswith("204")
    drive.app.app = wsgidav
    folder = DOC.rsplit("/", 1)[0]
    below = f"{folder}/Lot"  # a standard folder is never locked (issue 15): a folder below
    assert drive("MKCOL", below, user="secretaire")[0].startswith("201")
    assert drive("PUT", f"{below}/doc.pdf", b"%PDF", user="secretaire")[0].startswith("201")
    assert drive("LOCK", below, LOCK, user="secretaire", depth="infinity")[0] \
        .startswith("200")
    assert drive("PUT", f"{below}/doc.pdf", b"%PDF-1.4 again", user="expert")[0] \
        .startswith("423")
    assert drive("GET", f"{below}/doc.pdf", user="expert")[1] == b"%PDF"


def test_a_lock_kept_over_a_restart_still_stops_other_writers(drive, demo, settings, hasher,
                                                              demo_password):
    assert drive("LOCK", DOC, LOCK, user="secretaire", timeout="Second-3600")[0] \
        .startswith("200")
    drive.app.fast.provider.lock_manager.storage.close()  # the server stops
    restarted = InProcessDrive(build_drive(settings, demo, hasher), demo_password)
    try:
        restarted("HEAD", DOC, user="expert")  # the company is known: the fast path decides
        assert restarted("PUT", DOC, b"%PDF-1.4 other", user="expert")[0].startswith("423")
        assert restarted("GET", DOC, user="expert")[1] == BODY
    finally:
        restarted.app.fast.provider.lock_manager.storage.close()


def test_incomplete_put_stores_nothing(drive, demo):
    drive("HEAD", DOC, user="secretaire")
    status, _ = drive("PUT", "/Boulangerie Martin/Achats/court.pdf", b"%PDF-1.4",
                      user="secretaire", content_length=1000)
    assert status.startswith("400")
    with demo.session() as s:
        assert s.scalars(select(Node).where(Node.name == "court.pdf")).first() is None


@pytest.mark.parametrize("through", ["fast path", "WsgiDAV"])
@pytest.mark.parametrize("failing", ["create", "write", "fsync"])
@pytest.mark.parametrize("failure, expected", [
    (errno.ENOSPC, "507"),  # the disk is full: the client is told, as for a quota
    (errno.EIO, "500"),     # the disk fails: a server error
])
def test_put_whose_body_cannot_be_stored_files_nothing(drive, demo, blobs, monkeypatch,
                                                       through, failing, failure, expected):
    """A body the disk refuses, as its file is made (no spare file left, no inode free),
    while it is written, or made durable (a body the store syncs before naming it: one of
    WRITEBACK bytes or more, here lowered): there is no document, no event, no blob, no
    temporary file left."""
    drive("HEAD", DOC, user="secretaire")
    if through == "fast path":
        without_wsgidav(drive)
    else:
        without_fast_path(drive)
    blobs_before = blobs.all_hashes()

    def fail(*args):
        raise OSError(failure, os.strerror(failure))

    if failing == "create":
        monkeypatch.setattr(FolderStore, "temporary_file", fail)
    elif failing == "fsync":
        monkeypatch.setattr("acl.documents.blobs.WRITEBACK", 4)
        monkeypatch.setattr("acl.documents.blobs.os.fsync", fail)
    else:
        monkeypatch.setattr(BlobWriter, "write", fail)
    name = "/Boulangerie Martin/Achats/perdu.pdf"
    try:
        status, body = drive("PUT", name, b"%PDF-1.4 perdu", user="secretaire")
    except OSError as raised:  # to cheroot, which answers 500
        status, body = "500", str(raised).encode()
    assert status.startswith(expected)
    if expected == "507":
        assert b"Le serveur n" in body and b"a plus d" in body and b"espace disque libre" in body
    monkeypatch.undo()
    assert count_deposits(demo, "perdu.pdf") == 0
    with demo.session() as s:
        assert s.scalars(select(Node).where(Node.name == "perdu.pdf")).first() is None
    assert blobs.all_hashes() == blobs_before
    assert not blobs.tmp.exists() or list(blobs.tmp.iterdir()) == []
    # The thread's connection is usable: the next upload is filed.
    assert drive("PUT", name, b"%PDF-1.4 ok", user="secretaire")[0] == "201 Created"
    assert drive("GET", name, user="secretaire")[1] == b"%PDF-1.4 ok"


def test_put_past_the_quota_is_refused_before_wsgidav(demo, settings_file, hasher,
                                                      demo_password, blobs):
    """With a quota, the fast path reads the company's total and refuses at once what would
    pass it (what a replaced document held is freed); nothing is stored."""
    from config.settings import load_settings

    drive = InProcessDrive(build_drive(load_settings(settings_file(drive={"quota_mib": 1})),
                                       demo, hasher), demo_password)
    with demo.session() as s:  # what the demo bakery already holds (its invoice PDF...)
        room = 2**20 - used_bytes(s, s.scalar(select(Company.id).where(
            Company.name == "Boulangerie Martin")))
    assert drive("PUT", DOC, b"%" * (room - 400_000), user="secretaire")[0] == "201 Created"
    without_wsgidav(drive)  # the company is cached: every PUT below is the fast path's
    blobs_before = len(blobs.all_hashes())
    status, body = drive("PUT", "/Boulangerie Martin/Achats/gros.pdf", b"%" * 400_001,
                         user="secretaire")
    assert status.startswith("507") and b"quota" in body
    assert count_deposits(demo, "gros.pdf") == 0 and len(blobs.all_hashes()) == blobs_before
    # Replacing that document with one 300,000 bytes larger fits: its old body is freed.
    assert drive("PUT", DOC, b"&" * (room - 100_000), user="secretaire")[0] == "204 No Content"
    assert drive("PUT", "/Boulangerie Martin/Achats/petit.pdf", b"%" * 100_000,
                 user="secretaire")[0] == "201 Created"
    assert drive("PUT", "/Boulangerie Martin/Achats/un octet.pdf", b"%",
                 user="secretaire")[0].startswith("507")  # full to the byte


@pytest.mark.parametrize("through", ["fast path", "WsgiDAV"])
def test_with_sync_each_upload_a_body_is_on_disk_before_the_answer(
        demo, settings_file, hasher, demo_password, blobs, monkeypatch, through):
    """`[storage] sync_each_upload = true`: no batch, the body is fsynced before the 201."""
    from config.settings import load_settings

    synced = record_fsyncs(monkeypatch)
    settings = load_settings(settings_file(storage={"sync_each_upload": True}))
    drive = InProcessDrive(build_drive(settings, demo, hasher), demo_password)
    drive("HEAD", DOC, user="secretaire")  # the company is cached: the fast path may answer
    if through == "fast path":
        without_wsgidav(drive)
    else:
        without_fast_path(drive)
    body = b"%PDF-1.4 durable " + os.urandom(100)
    status, _ = drive("PUT", "/Boulangerie Martin/Achats/durable.pdf", body,
                      user="secretaire")
    assert status == "201 Created"
    assert os.stat(blobs.place(hashlib.sha256(body).hexdigest())).st_ino in synced
