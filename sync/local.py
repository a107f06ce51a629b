"""What the local folder holds: one `LocalFile` per path "Entreprise/Dossier/.../nom" (NFC,
as the platform names it; the real path on disk is kept beside it, macOS writes NFD).

Left out: the tool's own folder `.liasse-sync`, helper files of Finder, Windows and Office,
`supp_` renames and conflict copies (`sync.rules.is_ignored`), links (never followed). A
folder that cannot be read is reported, not taken for empty (that would read as deletions).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from sync.rules import LocalFile, is_ignored

WORK_DIR = ".liasse-sync"


@dataclass
class LocalTree:
    files: dict[str, dict[str, LocalFile]] = field(default_factory=dict)  # company -> path ->
    real: dict[str, Path] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    unreadable: set[str] = field(default_factory=set)  # companies not fully read


def scan(root: Path) -> LocalTree:
    tree = LocalTree()
    try:
        companies = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as exc:
        tree.problems.append(("", f"dossier local illisible : {exc.strerror}"))
        return tree
    for entry in companies:
        if entry.name == WORK_DIR or entry.name.startswith(".") or is_ignored(entry.name) \
                or not entry.is_dir(follow_symlinks=False):
            continue
        company = unicodedata.normalize("NFC", entry.name)
        found: dict[str, LocalFile] = {}
        tree.files[company] = found
        _walk(Path(entry.path), company, found, tree)
    return tree


def _walk(folder: Path, prefix: str, found: dict[str, LocalFile], tree: LocalTree) -> None:
    pending = [(folder, prefix)]
    while pending:
        path, name = pending.pop()
        try:
            entries = list(os.scandir(path))
        except OSError as exc:
            tree.problems.append((name, f"dossier illisible localement ({exc.strerror}) : "
                                        "rien n'y est synchronisé"))
            tree.unreadable.add(name)
            continue
        for entry in entries:
            if is_ignored(entry.name) or entry.is_symlink():
                continue
            child = f"{name}/{unicodedata.normalize('NFC', entry.name)}"
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as exc:
                tree.problems.append((child, f"illisible localement ({exc.strerror})"))
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            found[child] = LocalFile(is_dir, 0 if is_dir else info.st_size, info.st_mtime_ns)
            tree.real[child] = Path(entry.path)
            if is_dir:
                pending.append((Path(entry.path), child))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as body:
        while chunk := body.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
