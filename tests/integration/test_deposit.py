"""One deposit routine (`acl.documents.store.deposit`), two ways to run it: in an ORM session
(`store_body`: the web app, imports, WsgiDAV's COPY) and on the drive's plain DBAPI
connection (`acl.documents.operations.file_body`, on `acl.documents.hot`, as the drive files
a PUT). Both must write the same rows, and a
deposit refused halfway must leave nothing behind and the connection usable."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from wsgidav.dav_error import DAVError

from acl.documents import store
from acl.documents.models import Download, Node, NodeVersion
from acl.events.models import Event
from acl.people.models import Company, User
from acl.rights.principals import load_principal
from davserver.app import build_drive


@pytest.fixture
def provider(demo, settings, hasher):
    return build_drive(settings, demo, hasher).fast.provider


def achats(session, *below: str) -> store.Location:
    bakery = session.scalars(select(Company).where(
        Company.folder_name == "Boulangerie Martin")).one()
    return store.resolve(session, bakery, ["Achats", *below])


def user(session, login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


def deposit_hot(demo, provider, blobs, name: str, body: bytes, *below: str) -> None:
    """As the drive files a PUT: the path resolved first, then the hot transaction."""
    sha, size = blobs.put_bytes(body)
    with demo.session() as s:
        parent, actor = achats(s, *below), load_principal(s, user(s, "secretaire"))
    provider.deposit({"liasse.principal": actor}, parent, name, sha, size)


def deposit_orm(demo, blobs, name: str, body: bytes) -> None:
    sha, size = blobs.put_bytes(body)
    with demo.transaction() as tx:
        store.store_body(tx, achats(tx), name, sha, size, user(tx, "secretaire").id)


def written(demo, name: str) -> dict:
    """What a deposit wrote about `name`, without ids and times (checked apart)."""
    with demo.session() as s:
        node = s.scalars(select(Node).where(Node.name == name)).one()
        versions = s.scalars(select(NodeVersion).where(NodeVersion.node_id == node.id)
                             .order_by(NodeVersion.id)).all()
        events = s.scalars(select(Event).where(Event.node_id == node.id)
                           .order_by(Event.id)).all()
        times = [node.created_at, node.modified_at, *(v.replaced_at for v in versions),
                 *(e.at for e in events)]
        assert all(t.tzinfo is not None and abs(datetime.now(UTC) - t).total_seconds() < 600
                   for t in times)
        return {
            "node": (node.kind, node.size, node.sha256, node.deposited_by_id,
                     node.is_client_file, node.is_standard, node.download_count,
                     node.received_at, node.deleted_at, node.created_at == node.modified_at),
            "versions": [(v.size, v.sha256, v.deposited_by_id) for v in versions],
            "events": [(e.kind, e.folder, e.path.rsplit("/", 1)[-1], e.actor_id,
                        json.loads(e.detail)) for e in events],
        }


@pytest.mark.parametrize("bodies", [
    [b"%PDF-1.4 un"],
    [b"%PDF-1.4 un", b"%PDF-1.4 deux", b"%PDF-1.4 trois"],  # versions kept
    [b"", b"%PDF-1.4 corps"],  # Explorer: 0 bytes first, then the body (no version)
])
def test_hot_and_orm_deposits_write_the_same_rows(demo, provider, blobs, bodies):
    for body in bodies:
        deposit_hot(demo, provider, blobs, "par-le-lecteur.pdf", body)
        deposit_orm(demo, blobs, "par-le-web.pdf", body)
    hot, orm = written(demo, "par-le-lecteur.pdf"), written(demo, "par-le-web.pdf")
    assert hot == {**orm, "events": [(*e[:2], "par-le-lecteur.pdf", *e[3:])
                                     for e in orm["events"]]}
    assert len(hot["versions"]) == len([b for b in bodies[:-1] if b])
    assert [e[4] for e in hot["events"]] == [
        {"size": len(b), **({"replaced": i > 0 and bool(bodies[i - 1])} if i else {})}
        for i, b in enumerate(bodies) if b]


def test_client_files_are_stored_without_event(demo, provider, blobs):
    deposit_hot(demo, provider, blobs, ".DS_Store", b"\0\0\0\1Bud1")
    assert written(demo, ".DS_Store")["node"][4] is True
    assert written(demo, ".DS_Store")["events"] == []


def test_a_folder_trashed_meanwhile_refuses_and_stores_nothing(demo, provider, blobs):
    with demo.transaction() as tx:
        store.create_folder(tx, achats(tx), "2026", None)
    sha, size = blobs.put_bytes(b"%PDF-1.4 tard")
    with demo.session() as s:
        parent, actor = achats(s, "2026"), load_principal(s, user(s, "secretaire"))
    with demo.transaction() as tx:  # another request trashes the folder
        store.trash(tx, achats(tx, "2026"), None)
    with pytest.raises(DAVError) as refused:
        provider.deposit({"liasse.principal": actor}, parent, "tard.pdf", sha, size)
    assert refused.value.value == 409
    with demo.session() as s:
        assert s.scalars(select(Node).where(Node.name == "tard.pdf")).first() is None
    deposit_hot(demo, provider, blobs, "ensuite.pdf", b"%PDF-1.4 ensuite")  # still works
    assert written(demo, "ensuite.pdf")["node"][1] == len(b"%PDF-1.4 ensuite")


def test_a_folder_of_that_name_refuses_and_stores_nothing(demo, provider, blobs):
    with demo.transaction() as tx:
        store.create_folder(tx, achats(tx), "Factures", None)
    with pytest.raises(DAVError) as refused:
        deposit_hot(demo, provider, blobs, "Factures", b"%PDF-1.4")
    assert refused.value.value == 405
    with demo.session() as s:
        assert [n.kind for n in s.scalars(select(Node).where(Node.name == "Factures"))] == \
            ["folder"]
        assert s.scalars(select(Event).where(Event.path.endswith("/Factures"),
                                             Event.kind == "deposited")).first() is None
    deposit_hot(demo, provider, blobs, "après.pdf", "%PDF-1.4 après".encode())
    assert written(demo, "après.pdf")["events"][0][0] == "deposited"


def test_hot_and_orm_deposits_store_times_alike(demo, provider, blobs):
    """Times are compared as stored (text on SQLite): the hot path writes them itself, and a
    different text (no microseconds, an offset) would sort wrong against the ORM's."""
    deposit_hot(demo, provider, blobs, "heure-lecteur.pdf", b"%PDF-1.4 h")
    deposit_orm(demo, blobs, "heure-web.pdf", b"%PDF-1.4 h")
    with demo.session() as s:
        stored = s.execute(text(
            "SELECT n.name, n.created_at, n.modified_at, e.at FROM node n "
            "JOIN event e ON e.node_id = n.id WHERE n.name LIKE 'heure-%' ORDER BY n.name")
        ).all()
    shapes = {tuple(_shape(value) for value in row[1:]) for row in stored}
    assert len(stored) == 2 and len(shapes) == 1



def test_downloads_are_stored_with_times_like_the_rest(demo, provider, blobs):
    """The download history is written by the driver's executemany, its time converted
    once per batch: the same stored text as the ORM's times."""
    deposit_orm(demo, blobs, "lu.pdf", b"%PDF-1.4 lu")
    with demo.session() as s:
        node = s.scalars(select(Node).where(Node.name == "lu.pdf")).one()
        reader = user(s, "expert")
    for sent in (11, 5):
        provider.record_download({"liasse.user": reader, "HTTP_USER_AGENT": "rclone/v1.60"},
                                 node, sent, sent == 11)
    provider.receipts.wait()
    with demo.session() as s:
        stored = s.execute(text(
            "SELECT d.at, n.created_at, d.bytes_sent, d.complete, d.client FROM download d "
            "JOIN node n ON n.id = d.node_id WHERE n.name = 'lu.pdf' ORDER BY d.id")).all()
        downloads = s.scalars(select(Download).where(Download.node_id == node.id)
                              .order_by(Download.id)).all()
    assert [(_shape(r[0]), r[2], bool(r[3]), r[4]) for r in stored] == [
        (_shape(r[1]), sent, sent == 11, "rclone/v1.60")
        for r, sent in zip(stored, (11, 5), strict=True)]
    assert all(abs(datetime.now(UTC) - d.at).total_seconds() < 600 for d in downloads)

def _shape(value) -> str:
    """The stored time with its digits masked: 'dddd-dd-dd dd:dd:dd.dddddd' on SQLite."""
    return re.sub(r"\d", "d", value) if isinstance(value, str) else type(value).__name__
