"""Cached folder listings (davserver/propfind.py ListingCache): served again only while
nothing they show has changed — whoever changed it, through the drive or not."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from support.wsgi import InProcessDrive

from acl.documents import store
from acl.documents.blobs import open_store
from acl.documents.hot import HotQueries
from acl.documents.models import Node, NodeProperty
from acl.documents.tree import add_document
from acl.people.models import Company, User
from davserver import propfind
from davserver.app import build_drive

FOLDER = "/Boulangerie Martin/Achats/"
LOCK = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        b"</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>moi</D:owner>"
        b"</D:lockinfo>")


@pytest.fixture
def drive(demo, settings, hasher, demo_password) -> InProcessDrive:
    drive = InProcessDrive(build_drive(settings, demo, hasher), demo_password)
    assert drive("PUT", FOLDER + "facture.pdf", b"%PDF-1.4 a", user="secretaire")[0] \
        .startswith("201")
    return drive


def listing(drive: InProcessDrive, path: str = FOLDER, user: str = "secretaire") -> str:
    status, body = drive("PROPFIND", path, user=user, depth="1")
    assert status.startswith("207")
    return body.decode("utf-8")


def company_version(demo, name: str = "Boulangerie Martin") -> int:
    with demo.session() as s:
        return s.scalar(select(Company.tree_version).where(Company.name == name))


def test_an_unchanged_folder_is_listed_from_the_cache(drive, monkeypatch):
    first = listing(drive)
    monkeypatch.setattr(HotQueries, "children",
                        lambda *a: pytest.fail("listed again although nothing changed"))
    assert listing(drive) == first


@pytest.mark.parametrize("change, shows", [
    (lambda d: d("PUT", FOLDER + "nouveau.pdf", b"%PDF-1.4 b", user="secretaire"),
     "nouveau.pdf"),
    (lambda d: d("PUT", FOLDER + "facture.pdf", b"%PDF-1.4 version 2", user="secretaire"),
     "<D:getcontentlength>18</D:getcontentlength>"),
    (lambda d: d("DELETE", FOLDER + "facture.pdf", user="secretaire"), "!facture.pdf"),
    (lambda d: d("MOVE", FOLDER + "facture.pdf", user="secretaire",
                 destination="/dav/Boulangerie%20Martin/Achats/renomm%C3%A9e.pdf"),
     "renommée.pdf"),
    (lambda d: d("PROPPATCH", FOLDER + "facture.pdf", (
        b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:test:">'
        b"<D:set><D:prop><Z:couleur>rouge</Z:couleur></D:prop></D:set>"
        b"</D:propertyupdate>"), user="secretaire"), "rouge"),
    (lambda d: d("MKCOL", FOLDER + "Sous-dossier", user="secretaire"), "Sous-dossier"),
])
def test_a_change_through_the_drive_shows_at_once(drive, change, shows):
    before = listing(drive)
    assert change(drive)[0][0] in "2"
    after = listing(drive)
    if shows.startswith("!"):
        assert shows[1:] in before and shows[1:] not in after
    else:
        assert shows not in before and shows in after


def test_a_download_by_the_other_side_shows_the_receipt(drive):
    before = listing(drive)
    assert ">1</L:download-count>" not in before
    assert drive("GET", FOLDER + "facture.pdf", user="expert")[0] == "200 OK"
    after = listing(drive)  # (waits for the receipt recorder, then lists)
    assert ">1</L:download-count>" in after and "expert</L:received-by>" in after


def test_a_change_made_outside_the_drive_shows_at_once(drive, demo, settings):
    """The web app, the CLI or another server write the database directly: the triggers
    move the company's tree version, the drive's cache does not need to be told."""
    before = listing(drive)
    with demo.transaction() as tx:
        company = tx.scalars(select(Company).where(Company.name == "Boulangerie Martin")).one()
        achats = store.resolve(tx, company, ["Achats"])
        user = tx.scalars(select(User).where(User.login == "expert")).one()
        add_document(tx, open_store(settings), achats.node, "du-web.pdf",
                     io.BytesIO(b"%PDF-1.4 web"), deposited_by_id=user.id)
    assert "du-web.pdf" not in before and "du-web.pdf" in listing(drive)


def test_each_user_gets_their_own_listing(drive):
    root = "/Boulangerie Martin/"
    assert "Fiscalit" not in listing(drive, root, user="secretaire")
    assert "Fiscalit" in listing(drive, root, user="expert")
    assert "Fiscalit" not in listing(drive, root, user="secretaire")


def test_locks_show_in_the_listing_and_go_with_unlock(drive):
    assert "activelock" not in listing(drive)
    status, _ = drive("LOCK", FOLDER + "facture.pdf", LOCK, user="secretaire",
                      timeout="Second-60")
    assert status.startswith("200")
    token = dict(drive.headers)["Lock-Token"]
    assert "activelock" in listing(drive) and "activelock" in listing(drive)
    assert drive("UNLOCK", FOLDER + "facture.pdf", user="secretaire",
                 lock_token=token)[0].startswith("204")
    assert "activelock" not in listing(drive)


def test_cache_off_lists_every_time(demo, settings, hasher, demo_password, monkeypatch):
    import dataclasses
    settings = dataclasses.replace(settings, drive=dataclasses.replace(
        settings.drive, listing_cache_mib=0))
    drive = InProcessDrive(build_drive(settings, demo, hasher), demo_password)
    listing(drive)
    calls = []
    real = HotQueries.children
    monkeypatch.setattr(HotQueries, "children", lambda *a: calls.append(1) or real(*a))
    listing(drive)
    assert calls == [1]


def test_the_cache_keeps_to_its_size():
    cache = propfind.ListingCache(1600)
    for i in range(20):
        cache.put(("k", i), [b"x" * 100])
    assert cache.get(("k", 19)) == [b"x" * 100]
    assert cache.get(("k", 0)) is None  # the oldest went first
    cache.put(("big",), [b"x" * 200])  # over a sixteenth of the whole: not kept
    assert cache.get(("big",)) is None


def test_triggers_move_the_tree_version(demo, settings):
    """Every write to a company's nodes and their dead properties, on SQLite and
    PostgreSQL alike."""
    seen = [company_version(demo)]

    def moved() -> bool:
        seen.append(company_version(demo))
        return seen[-1] > seen[-2]

    with demo.transaction() as tx:
        company = tx.scalars(select(Company).where(Company.name == "Boulangerie Martin")).one()
        achats = store.resolve(tx, company, ["Achats"])
        folder = store.create_folder(tx, achats, "Lot", None)
        folder_id = folder.id
    assert moved()
    with demo.transaction() as tx:
        tx.get(Node, folder_id).name = "Lot 2"
    assert moved()
    with demo.transaction() as tx:
        tx.add(NodeProperty(node_id=folder_id, name="{urn:x:}a", value="<a/>"))
    assert moved()
    with demo.transaction() as tx:
        tx.get(NodeProperty, (folder_id, "{urn:x:}a")).value = "<b/>"
    assert moved()
    with demo.transaction() as tx:
        tx.delete(tx.get(NodeProperty, (folder_id, "{urn:x:}a")))
    assert moved()
    other = company_version(demo, "Garage Dupont")
    with demo.transaction() as tx:
        tx.delete(tx.get(Node, folder_id))
    assert moved()
    assert company_version(demo, "Garage Dupont") == other  # only its own company's


def test_a_cached_listing_is_served_before_wsgidav_with_the_same_rights(drive):
    fiscal = "/Boulangerie Martin/Fiscalité/"
    first = listing(drive, fiscal, user="expert")
    wsgidav = drive.app.app
    drive.app.app = lambda environ, start_response: pytest.fail("reached WsgiDAV")
    assert listing(drive, fiscal, user="expert") == first
    drive.app.app = wsgidav
    status, body = drive("PROPFIND", fiscal, user="secretaire", depth="1")
    assert status.startswith("404") and b"multistatus" not in body


def test_used_bytes_follows_every_change(drive, demo):
    """company.used_bytes (kept by triggers) always equals the sum it stands for."""
    def check() -> None:
        with demo.session() as s:
            for company in s.scalars(select(Company)):
                total = s.scalar(select(func.coalesce(func.sum(Node.size), 0)).where(
                    Node.company_id == company.id, Node.kind == "file",
                    Node.deleted_at.is_(None)))
                assert company.used_bytes == total, company.name

    check()
    other = "/dav/Boulangerie%20Martin/Ventes/"  # a document stays in its company (issue 14)
    steps = [
        ("PUT", FOLDER + "a.pdf", b"x" * 1000, {}),
        ("PUT", FOLDER + "a.pdf", b"x" * 10, {}),            # a new version
        ("MKCOL", FOLDER + "Lot", b"", {}),
        ("PUT", FOLDER + "Lot/b.pdf", b"y" * 500, {}),
        ("COPY", FOLDER + "Lot/b.pdf", b"", {"destination": other + "b.pdf"}),
        ("MOVE", FOLDER + "a.pdf", b"", {"destination": other + "a.pdf"}),
        ("DELETE", FOLDER + "Lot/b.pdf", b"", {}),             # to the trash
        ("DELETE", FOLDER + "Lot", b"", {}),
    ]
    for method, path, body, headers in steps:
        status, _ = drive(method, path, body, user="expert", **headers)
        assert status[0] == "2", (method, path, status)
        check()
    for name in ("Lot", "b.pdf"):  # restore from the trash, then purge it
        with demo.transaction() as tx:
            trashed = tx.scalars(select(Node).where(Node.name == name,
                                                    Node.deleted_at.is_not(None))).one()
            store.restore(tx, trashed, None)
        check()
    assert drive("DELETE", FOLDER + "Lot", user="expert")[0].startswith("204")
    with demo.transaction() as tx:
        store.purge_before(tx, store.utcnow() + timedelta(days=1))
    check()
