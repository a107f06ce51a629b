"""Content-addressed blob store: immutable files under `<data>/blobs/ab/<sha256>`.

A body is streamed to a temporary file in the same file system while it is hashed, fsynced,
then renamed into place: a killed write leaves only a temporary file, never a partial blob.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024
WRITEBACK = 8 * 1024 * 1024


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
        store.ensure_folder(store.tmp)
        self._tmp_name, fd = store.temporary_file()
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

    def commit_in_background(self) -> Future[tuple[str, int]]:
        """`commit` on one of the store's threads, so that the caller's own work overlaps
        the fsync (a deposit's statements: they need only the hash and the size). The caller
        waits for the result before it makes the blob referenced (before its COMMIT)."""
        return self.store.background().submit(self.commit)

    def commit(self) -> tuple[str, int]:
        """Make the body durable (fsync), then visible under its hash."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            sha = self._digest.hexdigest()
            target = self.store.place(sha)
            folder = target.rpartition("/")[0]
            self.store.ensure_folder(folder)
            try:
                os.replace(self._tmp_name, target)
            except FileNotFoundError:  # its folder was removed since it was made
                os.makedirs(folder, exist_ok=True)
                os.replace(self._tmp_name, target)
            self._committed = True
            return sha, self.size
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Drop the temporary file (nothing once committed: the blob is filed)."""
        if self._committed:
            return
        if not self._file.closed:
            self._file.close()
        Path(self._tmp_name).unlink(missing_ok=True)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self._root_text = str(self.root)
        self._tmp_text = str(self.tmp)
        self._folders: set[str] = set()  # made (or found) already: no mkdir per upload
        self._background: ThreadPoolExecutor | None = None
        self._background_lock = threading.Lock()

    def background(self) -> ThreadPoolExecutor:
        """The threads that commit bodies for `BlobWriter.commit_in_background` (made on
        first use; os.fsync releases the GIL, so they wait on the disk in parallel)."""
        if self._background is None:
            with self._background_lock:
                if self._background is None:
                    self._background = ThreadPoolExecutor(
                        max_workers=8, thread_name_prefix="liasse-blob-commit")
        return self._background

    def ensure_folder(self, folder: Path | str) -> None:
        folder = str(folder)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)  # at most the 256 folders and tmp

    def temporary_file(self) -> tuple[str, int]:
        """A new file under tmp/, opened for writing: (its path, its descriptor). As
        tempfile.mkstemp, with a name from the system's random source in one call
        (mkstemp's name generator costs more than the system calls of a small upload)."""
        for _ in range(100):
            name = f"{self._tmp_text}/put-{os.urandom(8).hex()}"
            try:
                return name, os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(self.tmp))

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
