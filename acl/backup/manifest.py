"""The layout of a backup folder and the manifest of each snapshot.

```
DESTINATION/
  blobs/ab/<sha256>                 the bodies, content-addressed (shared by every snapshot)
  snapshots/2026-05-04T02-30-00Z/   one snapshot of the database
    manifest.json                   written last: what the snapshot holds, with the SHA-256
                                    of every other file
    tables/<table>.jsonl.gz         each table, one JSON array per row
    bodies.jsonl.gz                 the bodies the snapshot names: [sha256, size]
    liasse.toml                     the installation's settings, for reference
```

A snapshot is built under `snapshots/.en-cours-…` and renamed to its name once its
manifest is on disk: a folder with a snapshot's name is complete, whatever stopped a backup
midway. `check` reads a snapshot whole against its manifest before anything is restored.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from acl.backup.rows import KINDS
from acl.errors import Refused

FORMAT = "liasse-sauvegarde"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SNAPSHOTS = "snapshots"
BLOBS = "blobs"
BODIES_FILE = "bodies.jsonl.gz"
SETTINGS_COPY = "liasse.toml"
PARTIAL_PREFIX = ".en-cours-"
SNAPSHOT_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z(-\d{1,4})?$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
READ_BLOCK = 1024 * 1024


class DamagedBackup(Refused):
    """A backup that cannot be trusted (missing, altered or truncated): one French sentence."""


@dataclass(frozen=True)
class TableEntry:
    name: str
    file: str
    rows: int
    columns: list[list[str]]  # [name, kind]


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Manifest:
    name: str
    created_at: str
    liasse_version: str
    revision: str
    database: str
    tables: list[TableEntry]
    files: dict[str, FileEntry]
    bodies: int
    bodies_bytes: int
    # Bodies the installation's own store lacked or held altered when the backup was taken
    # (`liasse fsck` names them): the snapshot is as faithful as the installation was.
    unavailable: list[str] = field(default_factory=list)
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> Manifest:
        def damaged() -> DamagedBackup:
            return DamagedBackup(f"Sauvegarde endommagée : {where} est illisible ou incomplet ; "
                                 "choisissez une autre sauvegarde (--snapshot).")
        try:
            raw = json.loads(text)
        except ValueError:
            raise damaged() from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise damaged()
        if raw.get("format_version") != FORMAT_VERSION:
            raise DamagedBackup(f"{where} est d'un format de sauvegarde que cette version de "
                                "Liasse ne connaît pas : mettez Liasse à jour.")
        try:
            manifest = cls(
                **{**raw,
                   "tables": [TableEntry(**t) for t in raw["tables"]],
                   "files": {k: FileEntry(**v) for k, v in raw["files"].items()}})
        except (TypeError, KeyError, AttributeError):
            raise damaged() from None
        if not _sound(manifest):
            raise damaged()
        return manifest


def _sound(m: Manifest) -> bool:
    """The manifest's own shape: names that cannot leave the snapshot's folder, known
    kinds, counts that are counts."""
    strings = (m.name, m.created_at, m.liasse_version, m.revision, m.database)
    if not all(isinstance(s, str) for s in strings) or not SNAPSHOT_NAME.match(m.name):
        return False
    if not all(isinstance(n, int) and n >= 0 for n in (m.bodies, m.bodies_bytes)):
        return False
    for path, entry in m.files.items():
        if not _safe_relative(path) or not SHA256.match(str(entry.sha256)) \
                or not isinstance(entry.bytes, int):
            return False
    for table in m.tables:
        if not (isinstance(table.name, str) and table.file in m.files
                and isinstance(table.rows, int) and table.rows >= 0
                and isinstance(table.columns, list)
                and all(isinstance(c, list) and len(c) == 2 and isinstance(c[0], str)
                        and c[1] in KINDS for c in table.columns)):
            return False
    return BODIES_FILE in m.files and all(isinstance(s, str) and SHA256.match(s)
                                          for s in m.unavailable)


def _safe_relative(path: str) -> bool:
    parts = path.split("/")
    return isinstance(path, str) and all(re.fullmatch(r"[A-Za-z0-9_.-]+", p) and p not in
                                         (".", "..") for p in parts)


# --- writing -----------------------------------------------------------------------------

class _HashingFile:
    """A file being written, with the SHA-256 and size of what reached it."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "xb")  # noqa: SIM115  (closed by close())
        os.chmod(path, 0o600)  # a backup holds password hashes and the settings' secret
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._file.write(data)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> FileEntry:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return FileEntry(self.digest.hexdigest(), self.size)


def write_lines(path: Path, lines: Iterable[str]) -> tuple[FileEntry, int]:
    """`lines` gzip-compressed into a new file, made durable; (its entry, lines written)."""
    target = _HashingFile(path)
    count = 0
    try:
        with gzip.GzipFile(fileobj=target, mode="wb", mtime=0, compresslevel=6) as out:
            for line in lines:
                out.write(line.encode("utf-8") + b"\n")
                count += 1
    finally:
        entry = target.close()
    return entry, count


def write_bytes(path: Path, data: bytes) -> FileEntry:
    target = _HashingFile(path)
    try:
        target.write(data)
    finally:
        entry = target.close()
    return entry


def sync_folder(folder: Path) -> None:
    """Make a folder's new names durable (a rename is durable once its folder is synced)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading -----------------------------------------------------------------------------

def snapshot_names(source: Path) -> list[str]:
    """The complete snapshots of a backup folder, oldest first."""
    folder = source / SNAPSHOTS
    try:
        names = [p.name for p in folder.iterdir()
                 if SNAPSHOT_NAME.match(p.name) and (p / MANIFEST).is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(names)


def read_manifest(source: Path, name: str | None) -> tuple[Path, Manifest]:
    """The folder and manifest of snapshot `name` (else the newest complete one)."""
    names = snapshot_names(source)
    if name is None:
        if not names:
            raise Refused(f"Aucune sauvegarde complète dans {source} (dossier {SNAPSHOTS}/ "
                          "absent ou vide).")
        name = names[-1]
    elif name not in names:
        raise Refused(f"Aucune sauvegarde complète « {name} » dans {source} ; disponibles : "
                      f"{', '.join(names) or 'aucune'}.")
    folder = source / SNAPSHOTS / name
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    manifest = Manifest.from_json(text, path)
    if manifest.name != name:
        raise DamagedBackup(f"Sauvegarde endommagée : {path} décrit une autre sauvegarde "
                            f"({manifest.name}).")
    return folder, manifest


def file_sha256(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while block := stream.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
    return FileEntry(digest.hexdigest(), size)


def check_files(folder: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there, whole and unaltered."""
    for relative, expected in sorted(manifest.files.items()):
        path = folder / relative
        try:
            found = file_sha256(path)
        except OSError:
            raise DamagedBackup(f"Sauvegarde incomplète : le fichier {path} manque ou est "
                                "illisible.") from None
        if found != expected:
            raise DamagedBackup(f"Sauvegarde altérée : le fichier {path} ne correspond pas à "
                                "son empreinte dans le manifeste (tronqué ou modifié).")


def read_lines(path: Path) -> Iterator[str]:
    """The lines of a gzip-compressed JSON lines file; DamagedBackup if it cannot be read."""
    try:
        with gzip.open(path, "rt", encoding="utf-8", newline="\n") as lines:
            for line in lines:
                yield line.rstrip("\n")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        raise DamagedBackup(f"Sauvegarde endommagée : {path} n'est pas un fichier compressé "
                            "lisible (tronqué ou modifié).") from None


def body_entries(folder: Path, manifest: Manifest) -> Iterator[tuple[str, int]]:
    """(sha256, size) of every body the snapshot names."""
    path = folder / BODIES_FILE
    count = 0
    for line in read_lines(path):
        try:
            sha, size = json.loads(line)
            valid = SHA256.match(sha) and isinstance(size, int) and size >= 0
        except (ValueError, TypeError):
            valid = False
        if not valid:
            raise DamagedBackup(f"Sauvegarde endommagée : {path} contient une ligne illisible.")
        count += 1
        yield sha, size
    if count != manifest.bodies:
        raise DamagedBackup(f"Sauvegarde incomplète : {path} nomme {count} contenu(s), le "
                            f"manifeste {manifest.bodies}.")
