"""What the blob store asks of the disk, seen from the tests."""

from __future__ import annotations

import os


def record_fsyncs(monkeypatch) -> list[int]:
    """The inode of every file `acl.documents.blobs` fsyncs from now on, in order (the fsyncs still
    happen)."""
    inodes: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        inodes.append(os.fstat(fd).st_ino)

    monkeypatch.setattr("acl.documents.blobs.os.fsync", fsync)
    return inodes
