"""What a power cut can leave, repaired at the next start
(`acl.documents.integrity.recover_recent`).

The server makes small bodies durable in batches (acl/documents/blobs.py, "Durability"): a power cut
may lose the bodies of the last moments while the database kept the rows pointing at them.
Here a lost body is a blob removed or damaged after its deposit, as the disk would show it."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from acl.documents import store
from acl.documents.blobs import DURABLE_WITHIN, BlobStore
from acl.documents.integrity import recover_recent
from acl.documents.models import Node, NodeVersion
from acl.events.models import Event
from acl.people.models import Company, User

EMPTY = hashlib.sha256(b"").hexdigest()


def achats(session) -> store.Location:
    bakery = session.scalars(select(Company).where(
        Company.folder_name == "Boulangerie Martin")).one()
    return store.resolve(session, bakery, ["Achats"])


def deposit(demo, blobs: BlobStore, name: str, body: bytes) -> str:
    sha, size = blobs.put_bytes(body)
    with demo.transaction() as tx:
        actor = tx.scalars(select(User).where(User.login == "secretaire")).one()
        store.store_body(tx, achats(tx), name, sha, size, actor.id)
    return sha


def lose(blobs: BlobStore, sha: str) -> None:
    Path(blobs.place(sha)).unlink()


def damage(blobs: BlobStore, sha: str) -> None:
    Path(blobs.place(sha)).write_bytes(b"\0" * 100)


def recover(demo, blobs: BlobStore) -> list[str]:
    with demo.transaction() as tx:
        return recover_recent(tx, blobs)


def document(demo, name: str) -> tuple[Node, list[NodeVersion]]:
    with demo.session() as s:
        node = s.scalars(select(Node).where(Node.name == name)).one()
        versions = s.scalars(select(NodeVersion).where(NodeVersion.node_id == node.id)
                             .order_by(NodeVersion.id)).all()
        return node, list(versions)


def test_after_a_clean_stop_nothing_is_changed(demo, blobs):
    deposit(demo, blobs, "sain.pdf", b"%PDF-1.4 sain")
    assert recover(demo, blobs) == []
    node, _ = document(demo, "sain.pdf")
    assert node.sha256 == hashlib.sha256(b"%PDF-1.4 sain").hexdigest()


def test_a_lost_new_body_leaves_an_empty_document_named_in_the_report(demo, blobs):
    sha = deposit(demo, blobs, "perdu.pdf", b"%PDF-1.4 perdu")
    lose(blobs, sha)
    report = recover(demo, blobs)
    assert report == ["« Boulangerie Martin/Achats/perdu.pdf » : son contenu n'avait pas "
                      "atteint le disque ; le document est vide, à déposer de nouveau."]
    node, _ = document(demo, "perdu.pdf")
    assert (node.sha256, node.size) == (EMPTY, 0)
    assert blobs.exists(EMPTY)
    assert recover(demo, blobs) == []  # repaired once


def test_a_damaged_overwrite_gets_its_previous_version_back(demo, blobs):
    first = deposit(demo, blobs, "releve.pdf", b"%PDF-1.4 janvier")
    second = deposit(demo, blobs, "releve.pdf", b"%PDF-1.4 janvier corrige")
    damage(blobs, second)
    report = recover(demo, blobs)
    assert report == ["« Boulangerie Martin/Achats/releve.pdf » : son dernier dépôt n'avait "
                      "pas atteint le disque ; la version précédente est rétablie."]
    node, versions = document(demo, "releve.pdf")
    assert (node.sha256, node.size) == (first, len(b"%PDF-1.4 janvier"))
    assert versions == []  # the version became the document again
    with demo.session() as s:  # for the feeds: what changed, and what was lost
        event = s.scalars(select(Event).where(Event.kind == "repaired")).one()
        assert (event.node_id, event.path, event.actor_id) == (
            node.id, "Boulangerie Martin/Achats/releve.pdf", None)
        assert json.loads(event.detail) == {"lost_sha256": second, "sha256": first,
                                            "size": len(b"%PDF-1.4 janvier")}
    with blobs.open(node.sha256) as body:
        assert body.read() == b"%PDF-1.4 janvier"


def test_a_lost_version_is_dropped_and_the_newest_sound_one_restored(demo, blobs):
    first = deposit(demo, blobs, "paie.pdf", b"%PDF-1.4 v1")
    second = deposit(demo, blobs, "paie.pdf", b"%PDF-1.4 v2")
    third = deposit(demo, blobs, "paie.pdf", b"%PDF-1.4 v3")
    lose(blobs, second)
    lose(blobs, third)
    assert len(recover(demo, blobs)) == 1
    node, versions = document(demo, "paie.pdf")
    assert node.sha256 == first
    assert versions == []


def test_bodies_older_than_the_window_are_left_to_fsck(demo, blobs):
    """Only the last moments before the latest deposit can have been lost by a cut; an older
    missing body is another failure, that `liasse fsck` reports, not this repair's."""
    old = deposit(demo, blobs, "ancien.pdf", b"%PDF-1.4 ancien")
    with demo.transaction() as tx:
        node = tx.scalars(select(Node).where(Node.name == "ancien.pdf")).one()
        node.modified_at -= timedelta(seconds=DURABLE_WITHIN + 60)
    deposit(demo, blobs, "recent.pdf", b"%PDF-1.4 recent")
    lose(blobs, old)
    assert recover(demo, blobs) == []
    node, _ = document(demo, "ancien.pdf")
    assert node.sha256 == old


def test_a_lost_version_of_a_sound_document_is_dropped_and_named(demo, blobs):
    first = deposit(demo, blobs, "bilan.pdf", b"%PDF-1.4 b1")
    second = deposit(demo, blobs, "bilan.pdf", b"%PDF-1.4 b2")
    third = deposit(demo, blobs, "bilan.pdf", b"%PDF-1.4 b3")
    lose(blobs, second)
    assert recover(demo, blobs) == ["« Boulangerie Martin/Achats/bilan.pdf » : une version "
                                    "antérieure n'avait pas atteint le disque ; elle est "
                                    "retirée de son historique."]
    node, versions = document(demo, "bilan.pdf")
    assert node.sha256 == third
    assert [v.sha256 for v in versions] == [first]
