"""The blob stores: the folder on a real file system (acl/documents/blobs.py), a body filed
whole under its hash or not at all, in both ways it makes temporary files: anonymous
(`O_TMPFILE`, Linux) and named under tmp/ (elsewhere); and the contract every backend keeps,
on the folder and on a real S3 server (SeaweedFS, acl/documents/s3store.py)."""

from __future__ import annotations

import errno
import gc
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.disk import record_fsyncs

from acl.documents.blobs import SPARES, BlobStore, FolderStore, flush_blobs
from acl.documents.s3store import S3Store
from config.settings import StorageSettings

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


# --- the contract every backend keeps: the folder and an S3 bucket (SeaweedFS) -------------

@pytest.fixture(params=["folder", "s3"])
def any_store(request, tmp_path) -> BlobStore:
    if request.param == "folder":
        return FolderStore(tmp_path / "blobs")
    storage = request.getfixturevalue("s3_storage")
    return S3Store.from_settings(StorageSettings(**storage), where="test")


def test_every_store_files_reads_and_lists_a_body(any_store):
    assert not any_store.exists(SHA)
    assert any_store.put_bytes(BODY) == (SHA, len(BODY))
    assert any_store.put_bytes(BODY) == (SHA, len(BODY))  # the same body is one blob
    assert any_store.exists(SHA)
    assert stored(any_store, SHA) == BODY
    assert any_store.all_hashes() == {SHA}
    assert any_store.size_of(SHA) == len(BODY)
    assert any_store.hash_of(SHA) == SHA
    assert any_store.sound(SHA, len(BODY))
    assert not any_store.sound(SHA, len(BODY) + 1)
    assert any_store.temporary_names() == []


def test_every_store_serves_ranges_without_reading_the_rest(any_store):
    sha, size = any_store.put_bytes(BODY)
    with any_store.open(sha) as body:
        assert body.seek(60_000) == 60_000
        assert body.read(100) == BODY[60_000:60_100]
        assert body.tell() == 60_100
        body.seek(-10, 2)
        assert body.read() == BODY[-10:]
        body.seek(5)
        assert body.read(4) == BODY[5:9]


def test_every_store_keeps_an_empty_body(any_store):
    sha, size = any_store.put_bytes(b"")
    assert (sha, size) == (hashlib.sha256(b"").hexdigest(), 0)
    with any_store.open(sha) as body:
        assert body.read() == b""
    assert any_store.sound(sha, 0)


def test_a_missing_body_is_told_as_missing(any_store):
    with pytest.raises(FileNotFoundError):
        any_store.open(SHA)
    assert any_store.size_of(SHA) is None
    assert any_store.hash_of(SHA) is None
    assert not any_store.sound(SHA, len(BODY))


LARGE = os.urandom(20 * 1024 * 1024 + 12345)  # over two S3 parts: a multipart upload


def test_every_store_takes_a_large_body_in_pieces(any_store):
    writer = any_store.writer()
    for start in range(0, len(LARGE), 256 * 1024):
        writer.write(LARGE[start:start + 256 * 1024])
    sha, size = writer.commit()
    assert (sha, size) == (hashlib.sha256(LARGE).hexdigest(), len(LARGE))
    assert any_store.hash_of(sha) == sha
    with any_store.open(sha) as body:
        body.seek(len(LARGE) - 3_000_000)
        assert body.read(2_000_000) == LARGE[-3_000_000:-1_000_000]
    assert any_store.all_hashes() == {sha}
    assert any_store.temporary_names() == []  # the temporary key is gone


def test_a_discarded_large_body_leaves_nothing(any_store):
    writer = any_store.writer()
    writer.write(LARGE)
    writer.discard()
    assert any_store.all_hashes() == set()
    assert any_store.temporary_names() == []


KILLED_UPLOAD = """
import os, sys
from acl.documents.s3store import S3Store
from config.settings import StorageSettings
store = S3Store.from_settings(StorageSettings(backend="s3", s3_endpoint=sys.argv[1],
                                              s3_bucket=sys.argv[2]), where="test")
writer = store.writer()
for _ in range(256):
    writer.write(os.urandom(1024 * 1024))
print(writer.sha256, flush=True)
writer.commit()
"""


def test_a_server_killed_while_it_sends_a_large_body_leaves_only_what_fsck_lists(
        s3_storage):
    """A process killed while it sends a large body to the bucket: its local spool goes with
    it, the body's key stays absent, and the unfinished multipart upload is listed by
    `liasse fsck` (`temporary_names`), as the folder's tmp/ files."""
    store = S3Store.from_settings(StorageSettings(**s3_storage), where="test")
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_UPLOAD, s3_storage["s3_endpoint"],
         s3_storage["s3_bucket"]], stdout=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2])
    try:
        sha = child.stdout.readline().strip()  # its body is complete: the upload starts
        uploads: list = []
        for _ in range(10_000):  # bounded: until the multipart upload shows
            uploads = store.client.list_multipart_uploads(
                Bucket=store.bucket).get("Uploads", [])
            if uploads or child.poll() is not None:
                break
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert len(sha) == 64 and uploads, "the upload ended before it was seen"
    assert store.size_of(sha) is None
    assert store.temporary_names() == [
        f"blobs/{sha[:2]}/{sha} (envoi en plusieurs parties inachevé)"]
    for upload in uploads:
        store.client.abort_multipart_upload(Bucket=store.bucket, Key=upload["Key"],
                                            UploadId=upload["UploadId"])
    assert store.temporary_names() == []


def test_a_large_body_already_in_the_bucket_is_not_sent_again(s3_storage):
    """The second upload of a large body finds it in the bucket and sends nothing: the
    bucket's object keeps its first upload's date and identity (ETag)."""
    store = S3Store.from_settings(StorageSettings(**s3_storage), where="test")
    sha, _ = store.put_bytes(LARGE)
    first = store.client.head_object(Bucket=store.bucket, Key=store.key(sha))
    assert store.put_bytes(LARGE) == (sha, len(LARGE))
    again = store.client.head_object(Bucket=store.bucket, Key=store.key(sha))
    assert (again["ETag"], again["LastModified"]) == (first["ETag"], first["LastModified"])
    assert store.hash_of(sha) == sha


def test_a_large_body_is_spooled_to_an_anonymous_file_not_to_the_bucket(s3_storage):
    """While a large body arrives nothing is in the bucket (no temporary key, no upload)
    and the spool is a file without a name; a discard leaves nothing anywhere."""
    store = S3Store.from_settings(StorageSettings(**s3_storage), where="test")
    writer = store.writer()
    writer.write(LARGE)
    spool = Path(f"/proc/self/fd/{writer._spool.fileno()}")
    assert os.readlink(spool).endswith("(deleted)")
    assert store.temporary_names() == [] and store.all_hashes() == set()
    writer.discard()
    assert not spool.exists()
    assert store.temporary_names() == [] and store.all_hashes() == set()


def test_the_folder_tells_its_free_space_and_a_bucket_does_not(any_store):
    free = any_store.free_bytes()
    assert (free is None) == isinstance(any_store, S3Store)
    with any_store.scratch_file() as scratch:
        scratch.write(b"zip")
        scratch.seek(0)
        assert scratch.read() == b"zip"
