"""The domain as WsgiDAV takes it: a refusal as a WebDAV error, and the file-like WsgiDAV
writes a PUT body into.

The limits themselves (maximum size, quota, their sentences) are the operations layer's
(`acl.documents.limits`); a refusal's status is its own (`acl.errors`): here they are only
carried over to WsgiDAV.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from wsgidav.dav_error import DAVError

from acl.db import RETRY_AFTER_SECONDS
from acl.documents.limits import Body
from acl.errors import Refused, StorageUnavailable

RETRY_AFTER = ("Retry-After", str(RETRY_AFTER_SECONDS))


def dav_error(refusal: Refused) -> DAVError:
    """A domain refusal as WsgiDAV answers it: its status, its sentence."""
    return DAVError(refusal.status, refusal.reason)


@contextmanager
def refusals_as_dav_errors() -> Iterator[None]:
    """Around a call into the domain from WsgiDAV's resources."""
    try:
        yield
    except Refused as refusal:
        raise dav_error(refusal) from None
    except StorageUnavailable as trouble:  # logged where it was met (acl.documents.s3store)
        raise DAVError(503, trouble.reason, add_headers=[RETRY_AFTER]) from None


class UploadWriter:
    """The file-like WsgiDAV writes a PUT body into: the operations layer's `Body`, whose
    refusals (past the size or the quota, an incomplete body) become WebDAV errors."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def write(self, data: bytes) -> int:
        with refusals_as_dav_errors():
            return self.body.write(data)

    def writelines(self, chunks: Iterable[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def close(self) -> None:
        """WsgiDAV closes before end_write; the body is filed by `commit`."""

    def commit(self) -> tuple[str, int]:
        """File the body, if it has its announced length: WsgiDAV ends an upload whose
        client went away after part of the body as if it were complete."""
        with refusals_as_dav_errors():
            return self.body.commit()

    def discard(self) -> None:
        self.body.discard()
