"""Streams of the drive: uploads bounded by size and quota, downloads that leave a receipt."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import BinaryIO

from wsgidav.dav_error import DAVError

from acl.blobs import BlobWriter

HTTP_INSUFFICIENT_STORAGE = 507
HTTP_CONTENT_TOO_LARGE = 413


class UploadWriter:
    """The file-like WsgiDAV writes a PUT body into; refuses past the limits as it goes."""

    def __init__(self, writer: BlobWriter, *, max_bytes: int | None,
                 quota_left: int | None) -> None:
        self._writer = writer
        self.max_bytes = max_bytes
        self.quota_left = quota_left

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        size = self._writer.size
        if self.max_bytes is not None and size > self.max_bytes:
            self._writer.discard()
            raise DAVError(HTTP_CONTENT_TOO_LARGE,
                           f"Document trop volumineux : {self.max_bytes // 2**20} Mio au plus.")
        if self.quota_left is not None and size > self.quota_left:
            self._writer.discard()
            raise DAVError(HTTP_INSUFFICIENT_STORAGE, "Espace de l'entreprise épuisé (quota).")
        return len(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        """WsgiDAV closes before end_write; the blob is filed by `commit`."""

    def commit(self) -> tuple[str, int]:
        return self._writer.commit()

    def discard(self) -> None:
        self._writer.discard()


class DownloadStream:
    """Wraps a blob; on close, reports (bytes sent, complete) to record the receipt.

    WsgiDAV reads the body in blocks and always closes the stream, also when the client
    disconnects (request_server `_send_resource`), so close is the one place to record it.
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
