"""Content-addressed blob stores: the interface (`BlobStore`), the factory that picks the
backend from the settings (`open_store`), and the local folder (`FolderStore`): immutable
files under `<data>/blobs/ab/<sha256>`. The S3 backend is `acl.documents.s3store`.

A body is streamed to a temporary file in the same file system while it is hashed, fsynced,
then given its name: a killed write never leaves a partial blob. Where the system allows it
(Linux, on ext4, XFS, Btrfs, tmpfs), the temporary file is anonymous (`O_TMPFILE`): it has no
name until it is complete, and the system reclaims it when the process ends, whatever way
(a killed server leaves nothing to clean). Elsewhere it is a named file under `tmp/`,
renamed into place, that `liasse fsck` lists if an upload was interrupted.

Making a file can be the dearest step of a small upload (0.2–0.7 ms on this project's
machines, as much as writing and fsyncing 64 KiB): the store keeps a few empty anonymous
files made ahead, on a thread of its own, so that an upload starts on one at once.

One level of 256 folders, as git's objects: each is made once, by one of the store's first
few hundred bodies (ext4 and XFS index large folders; a million bodies are ~4,000 a folder).
Earlier versions used two levels (`ab/cd/<sha256>`): a young store then made a new folder
for nearly every body it received, a metadata write that cost as much as the fsync itself.
Bodies they stored stay where they are and are still found, listed and checked there.

**Durability.** A store made with `sync_later=True` (the server's, `open_store(serving=True)`,
unless `[storage] sync_each_upload`) names a small body once it is complete and leaves its
fsync to a thread of its own, which makes the bodies of the last moments durable in batches,
at most `SYNC_DELAY` seconds later; bodies of `WRITEBACK` bytes or more, and every body of a
store made without it (the CLI's imports), are fsynced before they are named. An fsync costs
as much as the rest of a small upload (0.2–0.3 ms here): the database does the same (SQLite
in WAL mode with `synchronous=NORMAL` makes its last commits durable at its next
checkpoint). A process killed at any moment loses nothing (the system keeps what it was
given); a power cut may lose the bodies of the last second, and the server checks them when
it starts again (`acl.documents.integrity.recover_recent`): a document whose body did not reach the
disk gets its previous version back, or an empty body, and is named in the server's output.
The database never points at a missing blob once the server has started.
"""

from __future__ import annotations

import atexit
import errno
import hashlib
import io
import logging
import os
import shutil
import tempfile
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from config.settings import Settings

CHUNK = 1024 * 1024
WRITEBACK = 8 * 1024 * 1024
SPARES = 4  # empty anonymous files kept ready (each an open descriptor)
SYNC_DELAY = 0.5  # seconds a batch of small bodies waits for others before its fsyncs
SYNC_BATCH = 256  # a batch this large is synced at once
# How long after its deposit a body may still be only in memory, with a wide margin (the
# batches are synced SYNC_DELAY seconds apart): what the recovery check at start-up covers.
DURABLE_WITHIN = 30.0

log = logging.getLogger("liasse.blobs")


@contextmanager
def full_disk_refused(refusal: Callable[[], BaseException]) -> Iterator[None]:
    """A write refused for lack of space (the disk, or the user's disk quota) raises
    `refusal()` instead (`acl.errors.DiskFull`: the uploader is told so); any other failure
    stays the server's."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise refusal() from None
        raise


class BlobWriter:
    """Receives a body piece by piece; `commit` files it under its hash, `discard` drops it."""

    def __init__(self, store: FolderStore) -> None:
        self.store = store
        self._tmp_name, fd = store.temporary_file()  # no name (None): an anonymous file
        # The descriptor itself, written with os.write: the body comes in large blocks (a
        # buffer would copy them), and a file object's set-up costs a system call per upload
        # (each one a hand-over of the interpreter lock when other threads wait for it).
        # Closed by `commit` or `discard`, else when the writer is collected.
        self._fd = fd
        self._close = weakref.finalize(self, os.close, fd)
        self._digest = hashlib.sha256()
        self.size = 0
        self._synced = 0
        self._committed = False

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        view = memoryview(data)
        while view:  # a write may take only a part (rare, on a regular file)
            view = view[os.write(self._fd, view):]
        self.size += len(data)
        if self.size - self._synced >= WRITEBACK:
            # Start writing the body out while the rest arrives (Linux starts writeback of
            # the range, then drops it from the page cache): the fsync at the end has only
            # the last part left to wait for, and a big upload does not fill the cache.
            os.posix_fadvise(self._fd, self._synced, self.size - self._synced,
                             os.POSIX_FADV_DONTNEED)
            self._synced = self.size
        return len(data)

    @property
    def sha256(self) -> str:
        """The hash of what was written so far."""
        return self._digest.hexdigest()

    def commit(self) -> tuple[str, int]:
        """Make the body visible under its hash: durable first (fsync), or, for a small body
        of a store that syncs later, durable within SYNC_DELAY seconds (module docstring)."""
        try:
            syncer = self.store.syncer if self.size < WRITEBACK else None
            if syncer is None:
                os.fsync(self._fd)
            sha = self._digest.hexdigest()
            target = self.store.place(sha)
            folder = target.rpartition("/")[0]
            self.store.ensure_folder(folder)
            try:
                self._file_as(target)
            except FileNotFoundError:  # its folder was removed since it was made
                os.makedirs(folder, exist_ok=True)
                self._file_as(target)
            self._close()
            self._committed = True
            if syncer is not None:
                syncer.add(target)
            return sha, self.size
        except BaseException:
            self.discard()
            raise

    def _file_as(self, target: str) -> None:
        """Give the complete body its place: the named temporary file is renamed there; the
        anonymous one is linked there, or, when that body is stored already, linked under a
        temporary name that replaces it (as a rename would: a copy damaged since is
        replaced)."""
        if self._tmp_name is not None:
            os.replace(self._tmp_name, target)
            return
        try:
            self.store.link_anonymous(self._fd, target)
        except FileExistsError:
            name = self.store.temporary_name()
            self.store.link_anonymous(self._fd, name)
            os.replace(name, target)

    def discard(self) -> None:
        """Drop the temporary file (nothing once committed: the blob is filed). An anonymous
        one disappears as it is closed."""
        if self._committed:
            return
        self._close()  # once: a finalizer runs at most once
        if self._tmp_name is not None:
            Path(self._tmp_name).unlink(missing_ok=True)


def _close_descriptors(*descriptors: Iterable[int]) -> None:
    """Close a collected store's spare files (then gone) and its folder."""
    for fd in (fd for group in descriptors for fd in group):
        try:
            os.close(fd)
        except OSError:
            pass


class _Syncer:
    """Makes named bodies durable in batches, on a thread of its own (one per process: the
    stores that sync later, the drive's and the web app's, share it)."""

    def __init__(self) -> None:
        self._pending: list[str] = []
        self._changed = threading.Condition()
        # Held by whoever takes a batch, until it is synced: `flush` waits for a batch the
        # thread took, so that everything added before the flush is durable after it.
        self._syncing = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, path: str) -> None:
        with self._changed:
            self._pending.append(path)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="liasse-blob-sync",
                                                daemon=True)
                self._thread.start()
            if len(self._pending) in (1, SYNC_BATCH):  # one wake-up per batch
                self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending:
                    self._changed.wait()
                # Gather the batch: the uploads of the next moments join it.
                self._changed.wait_for(lambda: len(self._pending) >= SYNC_BATCH,
                                       timeout=SYNC_DELAY)
            self.flush()

    def flush(self) -> None:
        """Make every body added so far durable (the server calls it as it stops)."""
        with self._syncing:
            with self._changed:
                batch, self._pending = self._pending, []
            for path in batch:
                _sync_file(path)


_SYNCER = _Syncer()
atexit.register(_SYNCER.flush)


def flush_blobs() -> None:
    """Make every body named so far in this process durable (the server calls it as it
    stops; an interpreter that exits calls it too)."""
    _SYNCER.flush()


def _sync_file(path: str) -> None:
    """fsync a named body (an fsync is of the file, whichever descriptor asks)."""
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except FileNotFoundError:
        pass  # purged meanwhile
    except OSError as error:
        log.error("Corps %s non synchronisé sur le disque : %s", path, error)


class BlobStore:
    """What every backend offers (the local folder, `FolderStore`; an S3 bucket,
    `acl.documents.s3store.S3Store`): bodies filed under their sha256, never changed."""

    # The local folder holding the bodies; None when they live elsewhere (a bucket).
    folder: Path | None = None

    def writer(self) -> Writer:
        """A new body, received piece by piece (`write`, then `commit` or `discard`)."""
        raise NotImplementedError

    def put(self, stream: BinaryIO) -> tuple[str, int]:
        """Store the stream's bytes; return (sha256, size)."""
        writer = self.writer()
        try:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
        except BaseException:
            writer.discard()
            raise
        return writer.commit()

    def put_bytes(self, data: bytes) -> tuple[str, int]:
        return self.put(io.BytesIO(data))

    def open(self, sha256: str) -> BinaryIO:
        """The body, a readable and seekable stream (FileNotFoundError when missing)."""
        raise NotImplementedError

    def exists(self, sha256: str) -> bool:
        raise NotImplementedError

    def all_hashes(self) -> set[str]:
        raise NotImplementedError

    def size_of(self, sha256: str) -> int | None:
        """The stored body's size, None when it is missing."""
        raise NotImplementedError

    def hash_of(self, sha256: str) -> str | None:
        """The sha256 of what is stored under that name (read in full), None when missing."""
        digest = hashlib.sha256()
        try:
            with self.open(sha256) as stream:
                while chunk := stream.read(CHUNK):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest()

    def sound(self, sha256: str, size: int) -> bool:
        """Whether the body is there, whole (its size) and intact (its hash)."""
        return self.size_of(sha256) == size and self.hash_of(sha256) == sha256

    def temporary_names(self) -> list[str]:
        """What interrupted uploads left behind (`liasse fsck` lists them)."""
        raise NotImplementedError

    def scratch_file(self) -> BinaryIO:
        """An anonymous temporary file for work in progress (a zip being built)."""
        return tempfile.TemporaryFile(prefix="liasse-")  # noqa: SIM115

    def free_bytes(self) -> int | None:
        """Room left for bodies, None when the storage does not say (a bucket)."""
        return None


class Writer(Protocol):
    size: int

    def write(self, data: bytes) -> int: ...

    def commit(self) -> tuple[str, int]: ...

    def discard(self) -> None: ...


def open_store(settings: Settings, *, serving: bool = False) -> BlobStore:
    """The store the settings name ([storage] backend). `serving`: a server process's (the
    drive's and the web app's), whose small local bodies are made durable in batches unless
    the settings ask for each one before its answer (module docstring). A bucket that cannot
    be used raises `SettingsError` naming the key."""
    storage = settings.storage
    if storage.backend == "s3":
        from acl.documents.s3store import S3Store  # boto3 only where it is used

        return S3Store.from_settings(storage, where=f"{settings.source}, section [storage]")
    return FolderStore(settings.data_dir / "blobs",
                       sync_later=serving and not storage.sync_each_upload)


class FolderStore(BlobStore):
    def __init__(self, root: Path, *, sync_later: bool = False) -> None:
        self.root = Path(root)
        self.folder = self.root
        self.tmp = self.root / "tmp"
        self._root_text = str(self.root)
        self._tmp_text = str(self.tmp)
        self._folders: set[str] = set()  # made (or found) already: no mkdir per upload
        # Anonymous temporary files: whether they work here (tried on first use), the
        # store's folder (they are named relative to it), the ones made ahead.
        self._anonymous: bool | None = None
        self._root_fd = -1
        self._spares: deque[int] = deque()
        self._refilling = False
        self._spare_maker: ThreadPoolExecutor | None = None  # its thread, made on first use
        self._spares_lock = threading.Lock()
        self._folder_fds: list[int] = []  # the store's folder, opened by the first upload
        # Small bodies made durable in batches (module docstring), or each before it is named.
        self.syncer = _SYNCER if sync_later else None
        weakref.finalize(self, _close_descriptors, self._spares, self._folder_fds)

    def ensure_folder(self, folder: Path | str) -> None:
        folder = str(folder)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)  # at most the 256 folders and tmp

    def temporary_file(self) -> tuple[str | None, int]:
        """A new empty file under tmp/, open for writing: (None, its descriptor) for an
        anonymous one, (its path, its descriptor) for a named one."""
        self.ensure_folder(self.tmp)
        if self._anonymous is None:
            self._anonymous = self._anonymous_files_work()
        if not self._anonymous:
            return self._named_file()
        try:
            fd = self._spares.popleft()
        except IndexError:  # a burst of uploads took them all
            fd = self._anonymous_file()
        self._refill_spares()
        return None, fd

    def temporary_name(self) -> str:
        """A free name under tmp/ (from the system's random source in one call: tempfile's
        name generator costs more than the system calls of a small upload)."""
        return f"{self._tmp_text}/put-{os.urandom(8).hex()}"

    def _named_file(self) -> tuple[str, int]:
        for _ in range(100):
            name = self.temporary_name()
            try:
                return name, os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(self.tmp))

    def _anonymous_file(self) -> int:
        return os.open(self._tmp_text, os.O_WRONLY | os.O_TMPFILE, 0o600)

    def link_anonymous(self, fd: int, target: str) -> None:
        """Name an anonymous file (linkat through /proc, which needs no privilege; the
        store's folder as the target's folder makes Python call linkat)."""
        os.link(f"/proc/self/fd/{fd}", target, dst_dir_fd=self._root_fd)

    def _anonymous_files_work(self) -> bool:
        """Whether this system makes anonymous files in tmp/ and names them (one try)."""
        if not hasattr(os, "O_TMPFILE"):
            return False
        try:
            root_fd = os.open(self._root_text, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return False
        self._root_fd = root_fd
        self._folder_fds.append(root_fd)
        name = self.temporary_name()
        try:
            fd = self._anonymous_file()
            try:
                self.link_anonymous(fd, name)
            finally:
                os.close(fd)
            os.unlink(name)
        except OSError:
            return False
        return True

    def _refill_spares(self) -> None:
        """Make spare anonymous files on the store's own thread, up to SPARES."""
        with self._spares_lock:
            if self._refilling or len(self._spares) >= SPARES:
                return
            self._refilling = True
            if self._spare_maker is None:
                self._spare_maker = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="liasse-blob-spares")
        self._spare_maker.submit(self._make_spares)

    def _make_spares(self) -> None:
        try:
            while len(self._spares) < SPARES:
                self._spares.append(self._anonymous_file())
        except OSError:
            pass  # a full disk, say: the next upload makes its file itself, and is told
        finally:
            with self._spares_lock:
                self._refilling = False

    def place(self, sha256: str) -> str:
        """Where a body is filed (a plain string: pathlib's joins cost more than the system
        calls on the upload and download paths)."""
        return f"{self._root_text}/{sha256[:2]}/{sha256}"

    def path(self, sha256: str) -> Path:
        """Where the body is: its place, or where an earlier version put it."""
        path = Path(self.place(sha256))
        if not path.exists():
            earlier = self._earlier_path(sha256)
            if earlier.exists():
                return earlier
        return path

    def _earlier_path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def writer(self) -> BlobWriter:
        return BlobWriter(self)

    def open(self, sha256: str) -> BinaryIO:
        """The body, unbuffered: its readers ask for large blocks (a buffer would only copy
        them), and opening costs two system calls less."""
        try:
            return open(self.place(sha256), "rb", buffering=0)  # noqa: SIM115
        except FileNotFoundError:
            return self._earlier_path(sha256).open("rb", buffering=0)  # raises if missing too

    def all_hashes(self) -> set[str]:
        return {p.name for pattern in ("??/*", "??/??/*") for p in self.root.glob(pattern)
                if p.is_file()}

    def size_of(self, sha256: str) -> int | None:
        try:
            return self.path(sha256).stat().st_size
        except OSError:
            return None

    def temporary_names(self) -> list[str]:
        return sorted(p.name for p in self.tmp.iterdir()) if self.tmp.exists() else []

    def scratch_file(self) -> BinaryIO:
        """In the store's tmp/, on the bodies' file system (a large zip fits where they do)."""
        self.ensure_folder(self.tmp)
        return tempfile.TemporaryFile(dir=self.tmp, prefix="zip-")  # noqa: SIM115

    def free_bytes(self) -> int | None:
        return shutil.disk_usage(self.root if self.root.exists() else self.root.parent).free


class DownloadStream:
    """Wraps a blob; on close, reports (bytes sent, complete) to record the receipt.

    WsgiDAV (request_server `_send_resource`) and WSGI servers running the web app (PEP 3333:
    the iterable's close) always close the stream, also when the client disconnects, so close
    is the one place to record it.
    """

    def __init__(self, stream: BinaryIO, size: int, *,
                 on_close: Callable[[int, bool], None], partial: bool) -> None:
        self._stream = stream
        self._size = size
        self._on_close = on_close
        self._partial = partial
        self._sent = 0
        self._closed = False

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._sent += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if offset:
            self._partial = True
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stream.close()
        complete = not self._partial and self._sent >= self._size
        self._on_close(self._sent, complete)
