"""Uploads of the drive, bounded by size and quota (downloads:
`acl.documents.blobs.DownloadStream`)."""

from __future__ import annotations

from collections.abc import Iterable

from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError

from acl.documents.blobs import DISK_FULL, BlobWriter, full_disk_refused
from config.numbers import whole_number

HTTP_INSUFFICIENT_STORAGE = 507
HTTP_CONTENT_TOO_LARGE = 413
INCOMPLETE_BODY = "Le corps de la requête est incomplet."


def header_number(value: str) -> int | None:
    """A header's non-negative number, or None (ASCII digits only: "²".isdigit() is true)."""
    return whole_number(value)


def announced_length(environ: dict) -> int | None:
    """The body's length the request announced (None: chunked, or not said)."""
    if environ.get("wsgi.input_terminated"):
        return None
    return header_number(environ.get("CONTENT_LENGTH", ""))


def expected_length(environ: dict) -> int | None:
    """The length the body must have: its Content-Length or, for a chunked body, the length
    macOS Finder announces in X-Expected-Entity-Length (None: not said)."""
    if environ.get("wsgi.input_terminated"):
        return header_number(environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH", ""))
    return announced_length(environ)


def check_size(size: int, *, max_bytes: int | None, quota_left: int | None) -> None:
    """Refuse a body of `size` bytes past the maximum size, or past what the company's quota
    leaves (None: no limit)."""
    if max_bytes is not None and size > max_bytes:
        raise DAVError(HTTP_CONTENT_TOO_LARGE,
                       f"Document trop volumineux : {max_bytes // 2**20} Mio au plus.")
    if quota_left is not None and size > quota_left:
        raise DAVError(HTTP_INSUFFICIENT_STORAGE, "Espace de l'entreprise épuisé (quota).")


def disk_full_refused():
    """A write the server's disk refuses for lack of space is refused with a 507, as past a
    quota (`acl.documents.blobs.full_disk_refused`)."""
    return full_disk_refused(lambda: DAVError(HTTP_INSUFFICIENT_STORAGE, DISK_FULL))


class UploadWriter:
    """The file-like WsgiDAV writes a PUT body into; refuses past the limits as it goes."""

    def __init__(self, writer: BlobWriter, *, max_bytes: int | None,
                 quota_left: int | None, expected: int | None) -> None:
        self._writer = writer
        self.max_bytes = max_bytes
        self.quota_left = quota_left
        self.expected = expected  # `expected_length`, checked at `commit`

    def write(self, data: bytes) -> int:
        try:
            with disk_full_refused():
                self._writer.write(data)
            check_size(self._writer.size, max_bytes=self.max_bytes, quota_left=self.quota_left)
        except BaseException:
            self._writer.discard()
            raise
        return len(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        """WsgiDAV closes before end_write; the blob is filed by `commit`."""

    def commit(self) -> tuple[str, int]:
        """File the body, if it has its announced length: WsgiDAV ends an upload whose
        client went away after part of the body as if it were complete."""
        if self.expected is not None and self._writer.size != self.expected:
            self._writer.discard()
            raise DAVError(HTTP_BAD_REQUEST, INCOMPLETE_BODY)
        with disk_full_refused():
            return self._writer.commit()  # discards the body if it fails

    def discard(self) -> None:
        self._writer.discard()
