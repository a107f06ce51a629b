"""Taking a backup (`liasse backup DESTINATION`): a snapshot of the database, then the
bodies it names.

Every table is read in one read transaction (REPEATABLE READ on PostgreSQL, one WAL
snapshot on SQLite), so the snapshot is the database at one instant, while the server goes
on serving. The bodies are read after it: they are immutable, and every body the snapshot
names exists whatever has been deposited since. They are copied content-addressed into the
folder's `blobs/`, through the store's public interface only, each checked against its name
as it is written: a second backup into the same folder copies only the new ones.

Nothing a backup writes is mistaken for a complete one before it is (`acl.backup.manifest`):
bodies are named once complete (the blob store's own writer), the snapshot's folder once its
manifest is on disk. Two backups into one folder wait for neither: the second is refused.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from acl.backup import rows
from acl.backup.manifest import (
    BLOBS,
    BODIES_FILE,
    MANIFEST,
    PARTIAL_PREFIX,
    SETTINGS_COPY,
    SHA256,
    SNAPSHOT_NAME,
    SNAPSHOTS,
    FileEntry,
    Manifest,
    TableEntry,
    sync_folder,
    write_bytes,
    write_lines,
)
from acl.db import schema_revision
from acl.documents.blobs import CHUNK, BlobStore, FolderStore
from acl.documents.integrity import referenced_hashes
from acl.errors import Refused, describe_os_error

try:
    import fcntl
except ImportError:  # Windows: no lock between two backups into one folder
    fcntl = None

Progress = Callable[[str, int, int], None]  # (stage, done, total)
LOCK_FILE = ".liasse-sauvegarde.lock"


@dataclass(frozen=True)
class Taken:
    folder: Path
    manifest: Manifest
    copied: int  # bodies copied by this backup (the others were there already)
    copied_bytes: int


def liasse_version() -> str:
    try:
        return package_metadata.version("liasse")
    except package_metadata.PackageNotFoundError:
        return "inconnue"


def take(engine: Engine, store: BlobStore, destination: Path, *,
         settings_file: Path | None = None, progress: Progress | None = None) -> Taken:
    """A complete snapshot of the installation into `destination` (made if need be)."""
    progress = progress or (lambda *_: None)
    snapshots = destination / SNAPSHOTS
    _make_folders(destination, snapshots)
    with _exclusive(destination):
        _drop_partial(snapshots)
        created = datetime.now(UTC)
        partial = snapshots / f"{PARTIAL_PREFIX}{created:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"
        try:
            partial.mkdir(mode=0o700)
            (partial / "tables").mkdir(mode=0o700)
            revision, dialect, tables, files, hashes = _dump_database(engine, partial,
                                                                      progress)
            backup_store = FolderStore(destination / BLOBS)
            bodies, unavailable, copied = _copy_bodies(store, backup_store, sorted(hashes),
                                                       progress)
            files[BODIES_FILE], _ = write_lines(
                partial / BODIES_FILE, (json.dumps([sha, size]) for sha, size in bodies))
            if settings_file is not None and settings_file.is_file():
                files[SETTINGS_COPY] = write_bytes(partial / SETTINGS_COPY,
                                                   settings_file.read_bytes())
            name = _free_name(snapshots, created)
            manifest = Manifest(
                name=name, created_at=created.isoformat(), liasse_version=liasse_version(),
                revision=revision, database=dialect, tables=tables, files=files,
                bodies=len(bodies), bodies_bytes=sum(size for _, size in bodies),
                unavailable=unavailable)
            write_bytes(partial / MANIFEST, manifest.to_json().encode("utf-8"))
            sync_folder(partial)
            os.rename(partial, snapshots / name)
            sync_folder(snapshots)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise Refused(f"Sauvegarde impossible dans {destination} : "
                          f"{describe_os_error(exc)} ; aucune sauvegarde partielle n'est "
                          "gardée.") from None
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return Taken(snapshots / name, manifest, copied[0], copied[1])


def _make_folders(destination: Path, snapshots: Path) -> None:
    try:
        destination.mkdir(parents=True, exist_ok=True, mode=0o700)
        snapshots.mkdir(exist_ok=True, mode=0o700)
    except FileExistsError:
        raise Refused(f"{destination} n'est pas un dossier.") from None
    except OSError as exc:
        raise Refused(f"Impossible de créer le dossier de sauvegarde {destination} : "
                      f"{describe_os_error(exc)}.") from None


@contextmanager
def _exclusive(destination: Path) -> Iterator[None]:
    """One backup at a time into a folder (a lock the system lifts if the process dies)."""
    try:
        fd = os.open(destination / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise Refused(f"Impossible d'écrire dans le dossier de sauvegarde {destination} : "
                      f"{describe_os_error(exc)}.") from None
    try:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused(f"Une autre sauvegarde est en cours dans {destination} ; "
                          "réessayez quand elle sera finie.") from None
        yield
    finally:
        os.close(fd)


def _drop_partial(snapshots: Path) -> None:
    """What interrupted backups left (never a complete snapshot: those have their name)."""
    for leftover in snapshots.glob(f"{PARTIAL_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _free_name(snapshots: Path, created: datetime) -> str:
    base = f"{created:%Y-%m-%dT%H-%M-%SZ}"
    name, n = base, 1
    while (snapshots / name).exists():
        n += 1
        name = f"{base}-{n}"
    assert SNAPSHOT_NAME.match(name)
    return name


def _dump_database(engine: Engine, folder: Path, progress: Progress):
    """Every table, in one read transaction; (revision, dialect, tables, files, the
    bodies the rows name)."""
    connection = engine.connect()
    if engine.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="REPEATABLE READ",
                                                  postgresql_readonly=True)
    tables: list[TableEntry] = []
    files: dict[str, FileEntry] = {}
    try:
        with connection.begin():
            revision = schema_revision(connection)
            if revision is None:
                raise Refused("La base de données n'a pas de schéma Liasse : rien à "
                              "sauvegarder.")
            ordered = rows.ordered_tables(rows.reflect(connection))
            for done, table in enumerate(ordered):
                progress("tables", done, len(ordered))
                columns, lines = rows.dump_rows(connection, table)
                relative = f"tables/{table.name}.jsonl.gz"
                files[relative], count = write_lines(folder / relative, lines)
                tables.append(TableEntry(table.name, relative, count,
                                         [list(c) for c in columns]))
            progress("tables", len(ordered), len(ordered))
            with Session(bind=connection) as session:
                hashes = {sha for sha in referenced_hashes(session) if SHA256.match(sha)}
    finally:
        connection.close()
    return revision, engine.dialect.name, tables, files, hashes


def _copy_bodies(source: BlobStore, target: BlobStore, hashes: list[str],
                 progress: Progress) -> tuple[list[tuple[str, int]], list[str], list[int]]:
    """Each body not in `target` yet, checked against its name as it is written; returns
    ([sha, size] of the bodies now in the backup, those the installation lacks or holds
    altered, [bodies copied, bytes copied])."""
    bodies: list[tuple[str, int]] = []
    unavailable: list[str] = []
    copied = [0, 0]
    for done, sha in enumerate(hashes):
        if done % 100 == 0:
            progress("bodies", done, len(hashes))
        if target.exists(sha):
            bodies.append((sha, target.path(sha).stat().st_size))
            continue
        size = copy_body(source, target, sha)
        if size is None:
            unavailable.append(sha)
            continue
        bodies.append((sha, size))
        copied[0] += 1
        copied[1] += size
    progress("bodies", len(hashes), len(hashes))
    return bodies, unavailable, copied


def copy_body(source: BlobStore, target: BlobStore, sha: str) -> int | None:
    """Copy one body through both stores' public interface; its size, or None when the
    source lacks it or holds it altered (nothing is then filed in `target`)."""
    try:
        stream = source.open(sha)
    except FileNotFoundError:
        return None
    writer = target.writer()
    try:
        with stream:
            while block := stream.read(CHUNK):
                writer.write(block)
        if writer.sha256 != sha:
            writer.discard()
            return None
        return writer.commit()[1]
    except BaseException:
        writer.discard()
        raise
