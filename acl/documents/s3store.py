"""Document bodies in an S3-compatible bucket (SeaweedFS, MinIO, Ceph RGW, a cloud provider):
`[storage] backend = "s3"`. Content-addressed as the local folder: key
`<prefix>blobs/<sha[:2]>/<sha>`, written once, never changed.

**Uploads are streamed**, never held whole in memory. A body of at most `PART` bytes is
buffered and sent as one PutObject once its hash is known. A larger one is spooled while it
arrives (and is hashed) to an anonymous local temporary file (`tempfile.TemporaryFile`: the
system's temporary folder, `TMPDIR`, which needs room for the large bodies being received;
`O_TMPFILE` on Linux, so the file disappears with the process, however it ends); at the end
it is sent under its hashed key as a multipart upload of several parts in flight (`UPLOAD`),
unless the bucket holds that body already. Nothing reaches the bucket before `commit`, and
no server-side copy is needed (SeaweedFS rewrites a copied object whole: it cost a quarter of
a 256 MiB upload). `discard` drops the spool; a failed upload is aborted by boto3's transfer
manager. A server killed while it sent a body leaves an unfinished multipart upload that
`liasse fsck` lists, as the folder's tmp/ files (the temporary keys `<prefix>tmp/put-…` of
earlier versions are listed too).

**Reads are ranged and lazy**: `open` asks for the first window of the body (which also
tells whether it exists and its size); a seek moves to another window without reading what
lies between, so the drive's and the web app's Range requests read only what they send.

**Faults**: a bucket unreachable, timing out or answering 5xx/refusing raises
`StorageUnavailable` (the edges answer 503 with Retry-After); a missing body raises
`FileNotFoundError`, as the folder does. botocore retries a failed call a few times first
(standard mode), within short connect and read timeouts.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
import botocore.exceptions
import urllib3.exceptions
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from acl.documents.blobs import BlobStore
from acl.errors import StorageUnavailable
from config.settings import SettingsError

if TYPE_CHECKING:
    from config.settings import StorageSettings

PART = 8 * 1024 * 1024  # the largest body sent in one PutObject, from memory
# A larger body's multipart upload, from its spool: parts of 16 MiB, four in flight, as many
# in memory at most (bench/README.md, "Bodies in the local folder against S3").
UPLOAD = TransferConfig(multipart_threshold=PART, multipart_chunksize=16 * 1024 * 1024,
                        max_concurrency=4)
UPLOAD.max_in_memory_upload_chunks = 4  # s3transfer's setting, which boto3's does not pass
FIRST_WINDOW = 1024 * 1024  # what `open` asks for first: a small body in one request
MAX_WINDOW = 64 * 1024 * 1024  # the widest ranged GET a reader makes
MISSING = {"404", "NoSuchKey", "NotFound"}

log = logging.getLogger("liasse.blobs")


@contextmanager
def _calls(what: str) -> Iterator[None]:
    """botocore's errors as the store's: a missing object is FileNotFoundError, any other
    failure of the bucket StorageUnavailable (logged once, here)."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in MISSING:
            raise FileNotFoundError(what) from None
        log.warning("S3 storage refused %s: %s", what, error)
        raise StorageUnavailable(f"{what}: {code}") from None
    except botocore.exceptions.BotoCoreError as error:  # unreachable, timed out, cut off
        log.warning("S3 storage unreachable for %s: %s", what, error)
        raise StorageUnavailable(f"{what}: {error}") from None


def make_client(storage: StorageSettings) -> Any:
    """A client for the settings' endpoint: path-style addressing (SeaweedFS, MinIO),
    short timeouts, a few retries; credentials from the environment (boto3's chain)."""
    return boto3.session.Session().client(
        "s3", endpoint_url=storage.s3_endpoint, region_name=storage.s3_region,
        config=Config(
            s3={"addressing_style": "path"}, connect_timeout=5, read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=64,
            # No extra CRC of each body (the bodies are named by their sha256, which fsck
            # checks); some S3-compatible servers do not take the newer checksum headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required"))


class S3Store(BlobStore):
    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self._blobs = f"{prefix}blobs/"
        self._tmp = f"{prefix}tmp/"

    @classmethod
    def from_settings(cls, storage: StorageSettings, *, where: str) -> S3Store:
        """The settings' bucket, checked once (credentials, reachable, exists): a problem
        is a `SettingsError` naming the key, at start."""
        session = boto3.session.Session()
        if session.get_credentials() is None:
            raise SettingsError(
                f"{where}, clé « backend » : le stockage S3 demande des identifiants "
                "(variables d'environnement AWS_ACCESS_KEY_ID et AWS_SECRET_ACCESS_KEY).")
        client = make_client(storage)
        try:
            client.head_bucket(Bucket=storage.s3_bucket)
        except botocore.exceptions.ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket", "NotFound"):
                raise SettingsError(f"{where}, clé « s3_bucket » : le compartiment "
                                    f"« {storage.s3_bucket} » n'existe pas.") from None
            if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise SettingsError(
                    f"{where}, clé « s3_bucket » : accès au compartiment "
                    f"« {storage.s3_bucket} » refusé (identifiants AWS_ACCESS_KEY_ID et "
                    "AWS_SECRET_ACCESS_KEY).") from None
            raise SettingsError(f"{where}, clé « s3_endpoint » : le serveur S3 "
                                f"{storage.s3_endpoint} répond une erreur ({code}).") from None
        except botocore.exceptions.BotoCoreError as error:
            raise SettingsError(f"{where}, clé « s3_endpoint » : serveur S3 injoignable "
                                f"({storage.s3_endpoint} : {error}).") from None
        return cls(client, storage.s3_bucket, storage.s3_prefix)

    def key(self, sha256: str) -> str:
        return f"{self._blobs}{sha256[:2]}/{sha256}"

    def writer(self) -> S3Writer:
        return S3Writer(self)

    def open(self, sha256: str) -> RangedReader:
        return RangedReader(self, self.key(sha256))

    def size_of(self, sha256: str) -> int | None:
        try:
            with _calls(f"HEAD {sha256}"):
                return self.client.head_object(Bucket=self.bucket,
                                               Key=self.key(sha256))["ContentLength"]
        except FileNotFoundError:
            return None

    def exists(self, sha256: str) -> bool:
        return self.size_of(sha256) is not None

    def _keys(self, prefix: str) -> Iterator[str]:
        with _calls(f"LIST {prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    yield item["Key"]

    def all_hashes(self) -> set[str]:
        return {key.rpartition("/")[2] for key in self._keys(self._blobs)
                if len(key.rpartition("/")[2]) == 64}

    def temporary_names(self) -> list[str]:
        """Multipart uploads never completed nor aborted (a server killed while it sent a
        large body), and the temporary keys earlier versions used."""
        names = [key[len(self._tmp):] for key in self._keys(self._tmp)]
        with _calls("LIST uploads"):
            for prefix in (self._blobs, self._tmp):
                pages = self.client.get_paginator("list_multipart_uploads").paginate(
                    Bucket=self.bucket, Prefix=prefix)
                for page in pages:
                    names += [f"{upload['Key'][len(self.prefix):]} (envoi en plusieurs "
                              "parties inachevé)" for upload in page.get("Uploads", ())]
        return sorted(names)


class S3Writer:
    """Receives a body piece by piece (module docstring); `commit` files it under its hash,
    `discard` drops it."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self.size = 0
        self._spool: BinaryIO | None = None  # a large body's anonymous local file
        self._done = False

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self.size += len(data)
        if self._spool is not None:
            self._spool.write(data)
        elif len(self._buffer) + len(data) <= PART:
            self._buffer += data
        else:  # too large for one request: to the spool, with what came before
            self._spool = tempfile.TemporaryFile(prefix="liasse-s3-")  # noqa: SIM115
            self._spool.write(self._buffer)
            self._spool.write(data)
            self._buffer = bytearray()
        return len(data)

    def commit(self) -> tuple[str, int]:
        """Make the body visible under its hash: one PutObject for a small body; a large
        one is sent from its spool as a multipart upload of parts in parallel, unless the
        bucket holds that body already."""
        try:
            sha, store = self._digest.hexdigest(), self.store
            if self._spool is None:
                with _calls(f"PUT {sha}"):
                    store.client.put_object(Bucket=store.bucket, Key=store.key(sha),
                                            Body=bytes(self._buffer))
            elif store.size_of(sha) != self.size:
                self._spool.seek(0)
                with _calls(f"PUT {sha}"):
                    store.client.upload_fileobj(self._spool, store.bucket, store.key(sha),
                                                Config=UPLOAD)
            self._done = True
            self._finish()
            return sha, self.size
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Drop what was received (nothing was sent to the bucket before `commit`; a failed
        multipart upload is aborted by boto3's transfer manager)."""
        self._done = True
        self._finish()

    def _finish(self) -> None:
        self._buffer = bytearray()
        if self._spool is not None:
            self._spool.close()  # an anonymous file: gone with its last descriptor
            self._spool = None


class RangedReader(io.RawIOBase):
    """A stored body read through ranged GETs (module docstring): read(n), seek, tell."""

    def __init__(self, store: S3Store, key: str) -> None:
        self._store = store
        self._key = key
        self._position = 0
        self._body: Any = None  # the current window's stream
        self._window_end = 0  # the window's end (excluded)
        self._window = FIRST_WINDOW
        self.size = 0
        self._fetch(0)  # FileNotFoundError now, as a missing file's open

    def _fetch(self, start: int) -> None:
        """Ask for the window starting at `start`."""
        self._drop()
        store = self._store
        with _calls(f"GET {self._key}"):
            try:
                answer = store.client.get_object(
                    Bucket=store.bucket, Key=self._key,
                    Range=f"bytes={start}-{start + self._window - 1}")
            except botocore.exceptions.ClientError as error:
                if error.response.get("Error", {}).get("Code") != "InvalidRange":
                    raise
                # Past the end (an empty body has no byte to range over).
                self.size = store.client.head_object(Bucket=store.bucket,
                                                     Key=self._key)["ContentLength"]
                self._window_end = start
                return
        total = answer.get("ContentRange", "").rpartition("/")[2]
        self.size = int(total) if total.isdigit() else answer["ContentLength"]
        self._body = answer["Body"]
        self._window_end = start + answer["ContentLength"]
        self._window = min(self._window * 2, MAX_WINDOW)

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = max(0, self.size - self._position)
        out = bytearray()
        while len(out) < n and self._position < self.size:
            if self._body is None or self._position >= self._window_end:
                self._fetch(self._position)
                if self._body is None:
                    break
            with _calls(f"GET {self._key}"):
                try:
                    data = self._body.read(min(n - len(out), self._window_end - self._position))
                except (OSError, ValueError, urllib3.exceptions.HTTPError) as error:  # cut off
                    raise StorageUnavailable(f"GET {self._key}: {error}") from None
            if not data:
                raise StorageUnavailable(f"GET {self._key}: body cut short")
            out += data
            self._position += len(data)
        return bytes(out)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def readall(self) -> bytes:
        return self.read(-1)

    def seek(self, offset: int, whence: int = 0) -> int:
        position = {0: offset, 1: self._position + offset, 2: self.size + offset}[whence]
        if position < 0:
            raise ValueError("negative seek position")
        if position != self._position:
            self._drop()  # the next read asks for a window from there
            self._window = FIRST_WINDOW
            self._position = position
        return position

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        self._drop()
        super().close()
