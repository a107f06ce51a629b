"""Document bodies in an S3-compatible bucket (SeaweedFS, MinIO, Ceph RGW, a cloud provider):
`[storage] backend = "s3"`. Content-addressed as the local folder: key
`<prefix>blobs/<sha[:2]>/<sha>`, written once, never changed.

**Uploads are streamed**, never held whole in memory. A body smaller than one part (`PART`)
is buffered and sent as one PutObject once its hash is known. A larger one starts a
multipart upload to a temporary key (`<prefix>tmp/put-<random>`) as it arrives: each full
part is sent by a thread of the writer's own while the next one fills (two parts in memory
at most); at the end the upload is completed, copied by the server to its hashed key (unless
that body is stored already) and the temporary key deleted. `discard` aborts the multipart
upload. An upload interrupted by a killed process leaves a multipart upload or a temporary
key that `liasse fsck` lists, as the folder's tmp/ files.

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
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

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

PART = 8 * 1024 * 1024  # a multipart upload's part (S3's least is 5 MiB, but for the last)
FIRST_WINDOW = 1024 * 1024  # what `open` asks for first: a small body in one request
MAX_WINDOW = 64 * 1024 * 1024  # the widest ranged GET a reader makes
COPY_LIMIT = 5 * 1024**3  # CopyObject's largest source; beyond, a multipart copy
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

    def temporary_key(self) -> str:
        return f"{self._tmp}put-{os.urandom(8).hex()}"

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
        """Temporary keys, and multipart uploads never completed nor aborted."""
        names = [key[len(self._tmp):] for key in self._keys(self._tmp)]
        with _calls("LIST uploads"):
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self._tmp)
            for page in pages:
                names += [f"{upload['Key'][len(self._tmp):]} (envoi en plusieurs parties "
                          "inachevé)" for upload in page.get("Uploads", ())]
        return sorted(names)

    def file_as(self, source: str, sha256: str, size: int) -> None:
        """Copy the completed temporary key to the body's own (on the server), unless the
        body is stored already."""
        target = self.key(sha256)
        with _calls(f"COPY {sha256}"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=target)
                return
            except botocore.exceptions.ClientError as error:
                if str(error.response.get("Error", {}).get("Code", "")) not in MISSING:
                    raise
            if size < COPY_LIMIT:
                self.client.copy_object(Bucket=self.bucket, Key=target,
                                        CopySource={"Bucket": self.bucket, "Key": source})
            else:
                self.client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target,
                                 Config=TransferConfig(multipart_threshold=COPY_LIMIT,
                                                       multipart_chunksize=1024**3))

    def delete_key(self, key: str) -> None:
        with _calls(f"DELETE {key}"):
            self.client.delete_object(Bucket=self.bucket, Key=key)


class S3Writer:
    """Receives a body piece by piece (module docstring); `commit` files it under its hash,
    `discard` drops it."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self._digest = hashlib.sha256()
        self._buffer = bytearray()
        self.size = 0
        self._key: str | None = None  # the temporary key of a multipart upload
        self._upload_id: str | None = None
        self._parts: list[dict] = []
        self._sending: Future | None = None
        self._sender: ThreadPoolExecutor | None = None
        self._done = False

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> int:
        self._digest.update(data)
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= PART:
            self._send_part(bytes(self._buffer[:PART]))
            del self._buffer[:PART]
        return len(data)

    def _send_part(self, part: bytes) -> None:
        """Hand a full part to the sender thread once the previous one has gone."""
        store = self.store
        if self._upload_id is None:
            self._key = store.temporary_key()
            with _calls("CREATE multipart upload"):
                self._upload_id = store.client.create_multipart_upload(
                    Bucket=store.bucket, Key=self._key)["UploadId"]
            self._sender = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix="liasse-s3-part")
        self._wait_sent()
        number = len(self._parts) + 1
        self._parts.append({"PartNumber": number})
        self._sending = self._sender.submit(self._upload_part, number, part)

    def _upload_part(self, number: int, part: bytes) -> None:
        store = self.store
        with _calls(f"PUT part {number}"):
            answer = store.client.upload_part(Bucket=store.bucket, Key=self._key,
                                              UploadId=self._upload_id, PartNumber=number,
                                              Body=part)
        self._parts[number - 1]["ETag"] = answer["ETag"]

    def _wait_sent(self) -> None:
        if self._sending is not None:
            sending, self._sending = self._sending, None
            sending.result()  # its error, if any, is this write's

    def commit(self) -> tuple[str, int]:
        """Make the body visible under its hash (the multipart upload completed and copied
        first, then the temporary key deleted)."""
        try:
            sha, store = self._digest.hexdigest(), self.store
            if self._upload_id is None:
                with _calls(f"PUT {sha}"):
                    store.client.put_object(Bucket=store.bucket, Key=store.key(sha),
                                            Body=bytes(self._buffer))
            else:
                if self._buffer or not self._parts:
                    self._send_part(bytes(self._buffer))
                self._wait_sent()
                with _calls("COMPLETE multipart upload"):
                    store.client.complete_multipart_upload(
                        Bucket=store.bucket, Key=self._key, UploadId=self._upload_id,
                        MultipartUpload={"Parts": self._parts})
                self._upload_id = None  # completed: the temporary key is what is left
                store.file_as(self._key, sha, self.size)
                store.delete_key(self._key)
                self._key = None
            self._done = True
            self._finish()
            return sha, self.size
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        """Abort the multipart upload, or delete the temporary key of a completed one
        (nothing once committed). Best effort: a bucket gone away keeps them, and `fsck`
        lists them."""
        if self._done:
            return
        self._done = True
        store = self.store
        try:
            if self._sending is not None:
                self._sending.exception()  # let the part in flight end first
            if self._upload_id is not None:
                store.client.abort_multipart_upload(Bucket=store.bucket, Key=self._key,
                                                    UploadId=self._upload_id)
            elif self._key is not None:
                store.client.delete_object(Bucket=store.bucket, Key=self._key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            log.warning("S3 upload %s not cleaned up: %s", self._key, error)
        finally:
            self._finish()

    def _finish(self) -> None:
        self._buffer = bytearray()
        if self._sender is not None:
            self._sender.shutdown(wait=False)
            self._sender = None


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
