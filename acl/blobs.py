"""Content-addressed blob store: immutable files under `<data>/blobs/ab/<sha256>`.

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
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
WRITEBACK = 8 * 1024 * 1024
SPARES = 4  # empty anonymous files kept ready (each an open descriptor)


DISK_FULL = "Le serveur n'a plus d'espace disque libre."


@contextmanager
def full_disk_refused(refusal: Callable[[], BaseException]) -> Iterator[None]:
    """A write refused for lack of space (the disk, or the user's disk quota) raises
    `refusal()` instead: the uploader is told so (HTTP 507, DISK_FULL); any other failure
    stays the server's."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise refusal() from None
        raise


class BlobWriter:
    """Receives a body piece by piece; `commit` files it under its hash, `discard` drops it."""

    def __init__(self, store: BlobStore) -> None:
        self.store = store
        self._tmp_name, fd = store.temporary_file()  # no name (None): an anonymous file
        # Unbuffered: the body comes in large blocks (a buffer would copy them), and the
        # buffered file's set-up costs two system calls per upload.
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._digest = hashlib.sha256()
        self.size = 0
        self._synced = 0
        self._committed = False

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        view = memoryview(data)
        while view:  # a raw write may take only a part (rare, on a regular file)
            view = view[self._file.write(view):]
        self.size += len(data)
        if self.size - self._synced >= WRITEBACK:
            # Start writing the body out while the rest arrives (Linux starts writeback of
            # the range, then drops it from the page cache): the fsync at the end has only
            # the last part left to wait for, and a big upload does not fill the cache.
            self._file.flush()
            os.posix_fadvise(self._file.fileno(), self._synced, self.size - self._synced,
                             os.POSIX_FADV_DONTNEED)
            self._synced = self.size
        return len(data)

    @property
    def sha256(self) -> str:
        """The hash of what was written so far."""
        return self._digest.hexdigest()

    def commit(self) -> tuple[str, int]:
        """Make the body durable (fsync), then visible under its hash."""
        try:
            os.fsync(self._file.fileno())
            sha = self._digest.hexdigest()
            target = self.store.place(sha)
            folder = target.rpartition("/")[0]
            self.store.ensure_folder(folder)
            try:
                self._file_as(target)
            except FileNotFoundError:  # its folder was removed since it was made
                os.makedirs(folder, exist_ok=True)
                self._file_as(target)
            self._file.close()
            self._committed = True
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
            self.store.link_anonymous(self._file.fileno(), target)
        except FileExistsError:
            name = self.store.temporary_name()
            self.store.link_anonymous(self._file.fileno(), name)
            os.replace(name, target)

    def discard(self) -> None:
        """Drop the temporary file (nothing once committed: the blob is filed). An anonymous
        one disappears as it is closed."""
        if self._committed:
            return
        if not self._file.closed:
            self._file.close()
        if self._tmp_name is not None:
            Path(self._tmp_name).unlink(missing_ok=True)


def _close_descriptors(*descriptors: Iterable[int]) -> None:
    """Close a collected store's spare files (then gone) and its folder."""
    for fd in (fd for group in descriptors for fd in group):
        try:
            os.close(fd)
        except OSError:
            pass


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
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
        """The body, unbuffered: its readers ask for large blocks (a buffer would only copy
        them), and opening costs two system calls less."""
        try:
            return open(self.place(sha256), "rb", buffering=0)  # noqa: SIM115
        except FileNotFoundError:
            return self._earlier_path(sha256).open("rb", buffering=0)  # raises if missing too

    def all_hashes(self) -> set[str]:
        return {p.name for pattern in ("??/*", "??/??/*") for p in self.root.glob(pattern)
                if p.is_file()}


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
