"""The blob store on a real file system (acl/documents/blobs.py): a body is filed whole under
its hash or not at all, in both ways the store makes temporary files: anonymous (`O_TMPFILE`, Linux)
and named under tmp/ (elsewhere)."""

from __future__ import annotations

import errno
import gc
import hashlib
import os
import time
from pathlib import Path

import pytest
from support.disk import record_fsyncs

from acl.documents.blobs import SPARES, FolderStore, flush_blobs

BODY = b"%PDF-1.4 " + os.urandom(70_000)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(params=["anonymous", "named"])
def store(request, tmp_path, monkeypatch) -> FolderStore:
    if request.param == "named":  # as on a system without O_TMPFILE
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    elif not hasattr(os, "O_TMPFILE"):
        pytest.skip("this system has no O_TMPFILE (Linux only)")
    return FolderStore(tmp_path / "blobs")


def visible_temporary_files(store: FolderStore) -> list[str]:
    return sorted(p.name for p in store.tmp.iterdir())


def stored(store: FolderStore, sha: str) -> bytes:
    with store.open(sha) as body:
        return body.read()


def test_a_body_is_filed_under_its_hash_once_complete(store, request):
    writer = store.writer()
    writer.write(BODY[:1000])
    writer.write(BODY[1000:])
    assert not store.exists(SHA)
    if request.node.callspec.params["store"] == "anonymous":
        assert visible_temporary_files(store) == []  # nothing has a name yet
    else:
        assert len(visible_temporary_files(store)) == 1
    assert writer.commit() == (SHA, len(BODY))
    assert stored(store, SHA) == BODY
    assert visible_temporary_files(store) == []
    assert store.all_hashes() == {SHA}


def test_a_discarded_body_leaves_nothing(store):
    writer = store.writer()
    writer.write(BODY)
    writer.discard()
    assert store.all_hashes() == set()
    assert visible_temporary_files(store) == []


def test_a_body_stored_again_replaces_a_damaged_copy(store):
    """The same body twice is one blob; filed again, it replaces a copy damaged since (as a
    rename over it always did)."""
    assert store.put_bytes(BODY) == (SHA, len(BODY))
    assert store.put_bytes(BODY) == (SHA, len(BODY))
    assert store.all_hashes() == {SHA}
    damaged = store.path(SHA)
    os.chmod(damaged, 0o600)
    damaged.write_bytes(b"bit rot")
    assert store.put_bytes(BODY) == (SHA, len(BODY))
    assert stored(store, SHA) == BODY
    assert visible_temporary_files(store) == []


def open_descriptors(below: Path) -> int:
    """The process's open descriptors on files and folders under `below` (other threads of
    the test process, another test's server or stores, open and close their own)."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        found += target.startswith(str(below))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
def test_a_dropped_store_closes_its_files(tmp_path):
    """The files a store makes ahead are closed with it: a process that makes stores (the
    tests, the CLI) does not run out of descriptors."""
    before = open_descriptors(tmp_path)
    store = FolderStore(tmp_path / "blobs")
    for _ in range(3):
        store.put_bytes(os.urandom(100))
    deadline = time.monotonic() + 30
    while store._refilling or len(store._spares) < SPARES:  # made on the store's thread
        assert time.monotonic() < deadline, "the spare files were not made"
        time.sleep(0.01)
    assert open_descriptors(tmp_path) > before
    del store
    gc.collect()
    assert open_descriptors(tmp_path) == before


@pytest.fixture
def synced(monkeypatch) -> list[int]:
    return record_fsyncs(monkeypatch)


def inode(store: FolderStore, sha: str) -> int:
    return os.stat(store.place(sha)).st_ino


def test_each_body_is_durable_before_it_is_named_by_default(store, synced):
    """The CLI's store (imports, the demo): no body is named before its fsync."""
    sha, _ = store.put_bytes(BODY)
    assert synced == [inode(store, sha)]


def test_the_servers_store_makes_small_bodies_durable_in_a_batch(tmp_path, synced):
    store = FolderStore(tmp_path / "blobs", sync_later=True)
    shas = [store.put_bytes(b"%PDF-1.4 " + os.urandom(500))[0] for _ in range(5)]
    assert all(store.exists(sha) for sha in shas)  # named (and readable) at once
    inodes = {inode(store, sha) for sha in shas}
    deadline = time.monotonic() + 60  # SYNC_DELAY after the first, on a busy machine more
    while not inodes <= set(synced) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert inodes <= set(synced)


def test_flushing_makes_every_body_named_so_far_durable(tmp_path, synced):
    """What the server does as it stops: then, every body it named is on disk."""
    store = FolderStore(tmp_path / "blobs", sync_later=True)
    sha, _ = store.put_bytes(BODY)
    flush_blobs()
    assert inode(store, sha) in synced


def test_a_large_body_is_durable_before_it_is_named_even_when_syncing_later(tmp_path, synced,
                                                                          monkeypatch):
    monkeypatch.setattr("acl.documents.blobs.WRITEBACK", 1000)  # BODY is "large"
    store = FolderStore(tmp_path / "blobs", sync_later=True)
    sha, _ = store.put_bytes(BODY)
    assert synced == [inode(store, sha)]


def test_a_failed_later_sync_is_logged(tmp_path, monkeypatch, caplog):
    """An fsync refused after the answer (a failing disk) cannot reach the uploader: it is
    in the server's error log, and the next start checks that body (test_recovery.py)."""
    def failing(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr("acl.documents.blobs.os.fsync", failing)  # only the later sync calls it
    store = FolderStore(tmp_path / "blobs", sync_later=True)
    sha, _ = store.put_bytes(BODY)
    flush_blobs()
    assert f"Corps {store.place(sha)} non synchronisé sur le disque" in caplog.text
