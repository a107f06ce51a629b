"""What may be deposited, in size: the maximum size of one document, the company's quota, and
a body being received within them (the operations layer's limits, `acl.documents.operations`).

One limits object, one quota, one set of sentences for every channel: the drive's fast path
and WsgiDAV's PUT, the web app's uploads, and whatever files a document later (invoicing's
"send to the accountant", messaging attachments, the sync tool over the drive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from acl.documents.blobs import BlobStore, BlobWriter, full_disk_refused
from acl.errors import DiskFull, IncompleteBody, OverQuota, TooLarge
from acl.people.models import Company
from config.settings import DriveSettings

MIB = 2**20


def mib(size: int) -> str:
    """A size in French binary megabytes: 1,5 Mio, 20 Mio."""
    return f"{size / MIB:.1f}".replace(".", ",").removesuffix(",0") + " Mio"


@dataclass(frozen=True)
class Limits:
    """The maximum size of one document and the quota of a company without its own."""

    max_upload_bytes: int | None  # None: no limit
    default_quota_bytes: int | None

    @classmethod
    def from_settings(cls, drive: DriveSettings) -> Limits:
        return cls(drive.max_upload_mib * MIB if drive.max_upload_mib else None,
                   drive.quota_mib * MIB if drive.quota_mib else None)

    def quota(self, company: Company) -> int | None:
        return company.quota_bytes if company.quota_bytes is not None \
            else self.default_quota_bytes

    def room(self, company: Company, used: Callable[[], int], replacing: int = 0
             ) -> Room | None:
        """What the company's quota leaves for a deposit that replaces `replacing` bytes
        (an overwrite frees them), or None without a quota. `used` reads the company's
        total, only when it has a quota (one query saved on every upload of the others)."""
        quota = self.quota(company)
        return None if quota is None else Room(quota, quota - used() + replacing)

    def check(self, size: int, room: Room | None, name: str = "") -> None:
        """Refuse `size` bytes past the maximum size of a document, or past the room the
        quota leaves."""
        if self.max_upload_bytes is not None and size > self.max_upload_bytes:
            what = f"« {name} »" if name else "Le document"
            raise TooLarge(f"{what} est trop volumineux : {mib(self.max_upload_bytes)} au plus "
                           "par document. Rien n'a été déposé.")
        if room is not None and size > room.left:
            by = f" par « {name} »" if name else ""
            raise OverQuota(f"Espace de l'entreprise épuisé : le quota de {mib(room.quota)} "
                            f"serait dépassé{by}. Rien n'a été déposé.")


@dataclass(frozen=True)
class Room:
    """A company's quota, and the bytes it leaves for one deposit."""

    quota: int
    left: int

    def after(self, received: int) -> Room:
        """What is left once `received` bytes of the same deposit are taken."""
        return Room(self.quota, self.left - received)


class Body:
    """A body being received for a deposit, into a blob writer: refused as soon as it passes
    the maximum size or the room left, and, at `commit`, unless it has the length its request
    announced (a client that went away mid-upload). A refused body is discarded: nothing
    half-written stays."""

    def __init__(self, writer: BlobWriter, limits: Limits, *, room: Room | None,
                 name: str = "", expected: int | None = None) -> None:
        self._writer = writer
        self.limits = limits
        self.room = room
        self.name = name
        self.expected = expected

    @classmethod
    def start(cls, blobs: BlobStore, limits: Limits, *, room: Room | None, name: str = "",
              expected: int | None = None) -> Body:
        """A body received into a new blob of `blobs` (DiskFull: no file can be made)."""
        with full_disk_refused(DiskFull):
            writer = blobs.writer()
        return cls(writer, limits, room=room, name=name, expected=expected)

    @property
    def size(self) -> int:
        return self._writer.size

    def write(self, data: bytes) -> int:
        try:
            with full_disk_refused(DiskFull):
                self._writer.write(data)
            self.limits.check(self._writer.size, self.room, self.name)
        except BaseException:
            self._writer.discard()
            raise
        return len(data)

    def commit(self) -> tuple[str, int]:
        """File the body under its hash: (sha256, size)."""
        if self.expected is not None and self._writer.size != self.expected:
            self._writer.discard()
            raise IncompleteBody()
        with full_disk_refused(DiskFull):
            return self._writer.commit()  # discards the body if it fails

    def discard(self) -> None:
        self._writer.discard()  # a no-op once committed
