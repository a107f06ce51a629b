"""An installation on an S3 bucket (a real SeaweedFS server, tests/support/seaweed.py), as
its administrator meets it through the CLI: `liasse storage migrate` from the local folder
(verified, resumable), `liasse fsck` on the bucket, and the one French sentence that a
misconfigured backend gets."""

from __future__ import annotations

import os
import re

import pytest
from support.server import free_port

from acl.documents.blobs import FolderStore
from acl.documents.s3store import S3Store
from config.settings import StorageSettings
from tests.integration.test_cli import Cli
from tests.integration.test_storage_cli import (
    ALL_GOOD,
    MISSING,
    ORPHANS,
    ORPHANS_ONLY,
    TEMPORARY,
    document,
    fsck,
    referenced_bodies,
    section,
)

BAKERY_INVOICE = "Facture Moulin Giraud octobre.pdf"


@pytest.fixture
def bucket_only(s3_storage) -> dict[str, str]:
    """The bucket's keys with the backend still local: the settings before a migration."""
    return {key: value for key, value in s3_storage.items() if key != "backend"}


@pytest.fixture
def cli(demo, settings, capsys, monkeypatch) -> Cli:
    return Cli(settings.source, capsys, monkeypatch)


def bucket_store(s3_storage) -> S3Store:
    return S3Store.from_settings(StorageSettings(**s3_storage), where="test")


def migrated(out: str) -> tuple[int, int]:
    """(copied, already there) from the last line of `liasse storage migrate`."""
    found = re.search(r"Migration terminée : (\d+) contenu\(s\) copié\(s\) et vérifié\(s\) "
                      r"\([\d.]+ Mio\), (\d+) déjà présent\(s\)\.", out)
    assert found, out
    return int(found[1]), int(found[2])


def test_migrate_copies_every_body_resumes_and_fsck_is_clean_on_the_bucket(
        demo, settings, settings_file, cli, s3_storage, bucket_only):
    local = FolderStore(settings.data_dir / "blobs").all_hashes()
    assert len(local) >= 4
    settings_file(storage=bucket_only)
    code, out, err = cli("storage", "migrate")
    assert (code, err) == (0, ""), err
    assert migrated(out) == (len(local), 0)
    assert f"{len(local)}/{len(local)} contenus" in out  # progress
    bucket = bucket_store(s3_storage)
    assert bucket.all_hashes() == local
    # A run interrupted before its last bodies: the next one copies only those.
    for sha in sorted(local)[:2]:
        bucket.client.delete_object(Bucket=bucket.bucket, Key=bucket.key(sha))
    code, out, err = cli("storage", "migrate")
    assert (code, err) == (0, ""), err
    assert migrated(out) == (2, len(local) - 2)
    # Switched to the bucket: every document is there, whole.
    settings_file(storage=s3_storage)
    assert fsck(cli) == (0, [f"{referenced_bodies(demo)} contenu(s) vérifié(s).", ALL_GOOD])


def test_migrate_stops_with_a_sentence_when_the_bucket_is_unreachable(cli, settings_file,
                                                                       bucket_only):
    settings_file(storage={**bucket_only, "s3_endpoint": f"http://127.0.0.1:{free_port()}"})
    code, out, err = cli("storage", "migrate")
    assert code == 1
    assert err.startswith("liasse : ") and "clé « s3_endpoint » : serveur S3 injoignable" in err
    assert "Traceback" not in err + out


def test_migrate_needs_the_bucket_in_the_settings(cli):
    code, out, err = cli("storage", "migrate")
    assert code == 1
    assert "clé « s3_endpoint » : à renseigner avant « liasse storage migrate »" in err


def test_fsck_on_the_bucket_finds_missing_orphan_and_interrupted_bodies(
        demo, settings, settings_file, cli, s3_storage, bucket_only):
    settings_file(storage=bucket_only)
    assert cli("storage", "migrate")[0] == 0
    settings_file(storage=s3_storage)
    bucket = bucket_store(s3_storage)
    node_id, sha = document(demo, BAKERY_INVOICE)
    bucket.client.delete_object(Bucket=bucket.bucket, Key=bucket.key(sha))
    orphan, _ = bucket.put_bytes(b"%PDF-1.4 deposit whose transaction failed")
    # What a server killed while it sent a large body leaves: an unfinished multipart upload
    # under the body's key (tests/integration/test_blob_store.py kills one for real).
    unfinished = bucket.key("ab" * 32)
    upload_id = bucket.client.create_multipart_upload(Bucket=bucket.bucket,
                                                      Key=unfinished)["UploadId"]
    bucket.client.upload_part(Bucket=bucket.bucket, Key=unfinished, UploadId=upload_id,
                              PartNumber=1, Body=os.urandom(6 * 1024 * 1024))
    code, lines = fsck(cli)
    assert code == 1
    assert section(lines, MISSING) == [f"{sha} (document n°{node_id} « {BAKERY_INVOICE} »)"]
    assert section(lines, ORPHANS) == [orphan]
    assert len(section(lines, TEMPORARY)) == 1
    bucket.client.abort_multipart_upload(Bucket=bucket.bucket, Key=unfinished,
                                         UploadId=upload_id)
    with FolderStore(settings.data_dir / "blobs").open(sha) as body:
        bucket.put(body)
    code, lines = fsck(cli)
    assert (code, lines[-1]) == (0, ORPHANS_ONLY)


@pytest.mark.parametrize("storage, sentence", [
    ({"backend": "swift"}, "clé « backend » : doit valoir « local » ou « s3 »."),
    ({"backend": "s3", "s3_bucket": "liasse"},
     "clé « s3_endpoint » : obligatoire quand backend = \"s3\"."),
    ({"backend": "s3", "s3_endpoint": "http://127.0.0.1:8333"},
     "clé « s3_bucket » : obligatoire quand backend = \"s3\"."),
    ({"backend": "s3", "s3_endpoint": "127.0.0.1:8333", "s3_bucket": "liasse"},
     "clé « s3_endpoint » : doit être une adresse http:// ou https://."),
])
def test_a_misconfigured_backend_is_one_sentence_naming_the_key(cli, settings_file, storage,
                                                                sentence):
    path = settings_file(storage=storage)
    code, out, err = cli("fsck")
    assert code == 1
    assert err == f"liasse : {path}, section [storage], {sentence}\n"


def test_a_bucket_that_does_not_exist_or_no_credentials_stop_the_cli(
        cli, settings_file, s3_storage, monkeypatch):
    path = settings_file(storage={**s3_storage, "s3_bucket": "nothing-here"})
    code, out, err = cli("fsck")
    assert code == 1
    assert err == (f"liasse : {path}, section [storage], clé « s3_bucket » : le compartiment "
                   "« nothing-here » n'existe pas.\n")
    settings_file(storage=s3_storage)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = cli("fsck")
    assert code == 1
    assert "clé « backend » : le stockage S3 demande des identifiants" in err
