"""The blob store on a real file system (acl/blobs.py): a body is filed whole under its hash
or not at all, in both ways the store makes temporary files: anonymous (`O_TMPFILE`, Linux)
and named under tmp/ (elsewhere)."""

from __future__ import annotations

import gc
import hashlib
import os
import time

import pytest

from acl.blobs import SPARES, BlobStore

BODY = b"%PDF-1.4 " + os.urandom(70_000)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(params=["anonymous", "named"])
def store(request, tmp_path, monkeypatch) -> BlobStore:
    if request.param == "named":  # as on a system without O_TMPFILE
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    elif not hasattr(os, "O_TMPFILE"):
        pytest.skip("this system has no O_TMPFILE (Linux only)")
    return BlobStore(tmp_path / "blobs")


def visible_temporary_files(store: BlobStore) -> list[str]:
    return sorted(p.name for p in store.tmp.iterdir())


def stored(store: BlobStore, sha: str) -> bytes:
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


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux's /proc")
def test_a_dropped_store_closes_its_files(tmp_path):
    """The files a store makes ahead are closed with it: a process that makes stores (the
    tests, the CLI) does not run out of descriptors."""
    before = open_descriptors()
    store = BlobStore(tmp_path / "blobs")
    for _ in range(3):
        store.put_bytes(os.urandom(100))
    deadline = time.monotonic() + 30
    while store._refilling or len(store._spares) < SPARES:  # made on the store's thread
        assert time.monotonic() < deadline, "the spare files were not made"
        time.sleep(0.01)
    assert open_descriptors() > before
    del store
    gc.collect()
    assert open_descriptors() == before
