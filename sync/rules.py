"""Seed 000's rules, as one pure function: what the online tree, the local tree and what both
agreed at the last run (`sync.state`) make the tool do for one company.

- online and not local, never agreed → downloaded;
- local and not online, never agreed → uploaded (once it has stopped changing);
- agreed, still local, gone online → deleted online: the local file (or the topmost folder
  gone) is renamed `supp_<name>` and never copied again either way (`supp_` names are
  never sent);
- changed on both sides since the last run → both kept: the local one renamed
  "<nom> (conflit AAAA-MM-JJ HHhMM)<.ext>" (kept locally, never sent), the online one
  downloaded under the name; reported;
- changed on one side → that side's version is copied to the other (the platform keeps the
  previous version of an overwritten document);
- agreed, gone locally → not deleted online (the seed mirrors only the platform's
  deletions), reported once, not downloaded again unless it changes online;
- a standard folder the account no longer sees online is left as it is locally;
- names of one folder online equal but for case: one is kept, the others are reported and
  not copied (Windows cannot hold both; one would overwrite the other).

Nothing here deletes a local file; the engine (`sync.engine`) carries the actions out.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from config.names import InvalidName, check_segment
from sync.state import Agreed, Remote

SUPP_PREFIX = "supp_"
_CONFLICT = re.compile(r" \(conflit \d{4}-\d{2}-\d{2} \d{2}h\d{2}(?: \d+)?\)")
_HELPERS = re.compile(r"^(\._.*|\.DS_Store|Thumbs\.db|desktop\.ini|~\$.*)$", re.IGNORECASE)


class Do(enum.StrEnum):
    MKDIR_LOCAL = "mkdir_local"   # a folder online, made locally
    MKCOL = "mkcol"               # a local folder, made online
    DOWNLOAD = "download"
    UPLOAD = "upload"
    SUPP = "supp"                 # deleted online: renamed supp_ locally
    CONFLICT = "conflict"         # both changed: local renamed, online downloaded
    ADOPT = "adopt"               # both sides hold the same: record it
    LOCAL_GONE = "local_gone"     # deleted locally: not propagated, reported once
    FORGET = "forget"             # gone on both sides
    WAIT = "wait"                 # still being written locally: next run
    SKIP = "skip"                 # cannot be synchronised: reported with its reason


@dataclass(frozen=True)
class LocalFile:
    is_dir: bool
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Action:
    do: Do
    path: str
    reason: str = ""


def is_ignored(name: str) -> bool:
    """Names the tool never sends nor counts: helper files of Finder, Windows and Office, its
    own `supp_` renames and conflict copies."""
    return bool(_HELPERS.match(name)) or name.startswith(SUPP_PREFIX) or \
        bool(_CONFLICT.search(name))


def name_problem(path: str) -> str | None:
    """Why a path cannot be held by every client (Windows' rules, config.names), or None."""
    for segment in path.split("/"):
        try:
            check_segment(segment)
        except InvalidName as exc:
            return f"nom impossible sous Windows ou sur la plateforme : {exc}"
    return None


def supp_name(name: str, taken: Callable[[str], bool]) -> str:
    """`supp_Facture.pdf`, or `supp_Facture (2).pdf` if that is taken already."""
    candidate = SUPP_PREFIX + name
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    number = 2
    while taken(candidate):
        candidate = f"{SUPP_PREFIX}{stem} ({number}){dot}{ext}"
        number += 1
    return candidate


def conflict_name(name: str, when: datetime, taken: Callable[[str], bool]) -> str:
    """`Facture (conflit 2026-01-02 10h30).pdf`, numbered if taken."""
    stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    mark = when.strftime("%Y-%m-%d %Hh%M")
    candidate = f"{stem} (conflit {mark}){dot}{ext}"
    number = 2
    while taken(candidate):
        candidate = f"{stem} (conflit {mark} {number}){dot}{ext}"
        number += 1
    return candidate


def _under(path: str, roots: set[str]) -> bool:
    parts = path.split("/")
    return any("/".join(parts[:i]) in roots for i in range(1, len(parts)))


def plan(remote: dict[str, Remote], local: dict[str, LocalFile], agreed: dict[str, Agreed], *,
         hash_of: Callable[[str], str], now_ns: int, settle_ns: int) -> list[Action]:
    """The actions for one company (paths "Entreprise/Dossier/..."), folders to make first."""
    actions: list[Action] = []
    # A standard folder ("Entreprise/Achats") missing online is out of the account's reach
    # (they cannot be deleted): leave it as it is, never read as a deletion.
    untouched = {p for p in set(local) | set(agreed)
                 if p.count("/") == 1 and (local.get(p) or agreed[p]).is_dir and p not in remote}
    for path in sorted(untouched):
        if path in local:
            actions.append(Action(Do.SKIP, path, "dossier absent de la plateforme pour ce "
                                  "compte : conservé localement tel quel, rien n'est envoyé"))
    # Folders deleted online: the topmost one is renamed, its subtree goes with it.
    supp_dirs: set[str] = set()
    for path in sorted(p for p, a in agreed.items() if a.is_dir):
        if path in untouched or _under(path, untouched | supp_dirs):
            continue
        if path not in remote and path in local and local[path].is_dir:
            supp_dirs.add(path)
            actions.append(Action(Do.SUPP, path, "dossier supprimé en ligne"))
    skipped = untouched | supp_dirs
    for path, kept in sorted(_case_twins(remote, local, agreed).items()):
        actions.append(Action(Do.SKIP, path, f"« {kept.rsplit('/', 1)[-1]} » est dans le même "
                              "dossier en ligne, au même nom à la casse près : Windows ne peut "
                              "pas tenir les deux, celui-ci n'est pas copié ; renommez l'un des "
                              "deux sur la plateforme"))
        skipped.add(path)

    def live(path: str) -> bool:
        return path not in skipped and not _under(path, skipped)

    dirs = sorted(p for p in set(remote) | set(local) | set(agreed) if live(p) and (
        (p in remote and remote[p].is_dir) or (p in local and local[p].is_dir)
        or (p not in remote and p not in local and agreed[p].is_dir)))
    for path in dirs:
        r, loc, a = remote.get(path), local.get(path), agreed.get(path)
        if r is not None and loc is not None and r.is_dir != loc.is_dir:
            actions.append(Action(Do.SKIP, path, "un dossier et un fichier portent ce nom"))
            skipped.add(path)
        elif r is not None and loc is None:
            problem = name_problem(path)
            if problem:
                actions.append(Action(Do.SKIP, path, problem))
                skipped.add(path)
            elif a is None:
                actions.append(Action(Do.MKDIR_LOCAL, path))
        elif loc is not None and r is None:
            if a is None:
                actions.append(Action(Do.MKCOL, path))
        elif loc is not None and r is not None and a is None:
            actions.append(Action(Do.ADOPT, path))
        elif r is None and loc is None and a is not None:
            actions.append(Action(Do.FORGET, path))

    files = sorted(p for p in set(remote) | set(local) | set(agreed) if live(p)
                   and not _under(p, skipped) and not (
                       (p in remote and remote[p].is_dir) or (p in local and local[p].is_dir)
                       or (p not in remote and p not in local and agreed[p].is_dir)))
    for path in files:
        actions.extend(_file(path, remote.get(path), local.get(path), agreed.get(path),
                             hash_of=hash_of, now_ns=now_ns, settle_ns=settle_ns))
    return actions


def _case_twins(remote: dict[str, Remote], local: dict[str, LocalFile],
                agreed: dict[str, Agreed]) -> dict[str, str]:
    """Online names of one folder equal but for case ("Facture.pdf", "facture.pdf"), which
    Windows cannot hold side by side: each one left out -> the one kept (the one already
    agreed, else the one present locally, else the first in order)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for path in remote:
        parent, _, name = path.rpartition("/")
        groups.setdefault((parent.casefold(), name.casefold()), []).append(path)
    twins = {}
    for paths in groups.values():
        if len(paths) > 1:
            kept = min(paths, key=lambda p: (p not in agreed, p not in local, p))
            twins.update({p: kept for p in paths if p != kept})
    return twins


def _file(path: str, r: Remote | None, loc: LocalFile | None, a: Agreed | None, *,
          hash_of: Callable[[str], str], now_ns: int, settle_ns: int) -> list[Action]:
    def settled(action: Action) -> Action:
        assert loc is not None
        if now_ns - loc.mtime_ns < settle_ns:
            return Action(Do.WAIT, path, "fichier en cours d'écriture : il sera envoyé au "
                                         "prochain passage")
        return action

    if r is not None and (problem := name_problem(path)):
        return [Action(Do.SKIP, path, problem)]
    if r is not None and loc is None:
        if a is None or r.sha256 != a.sha256:
            return [Action(Do.DOWNLOAD, path, "nouveau en ligne" if a is None
                           else "modifié en ligne")]
        return [] if a.gone_local else [Action(Do.LOCAL_GONE, path)]
    if loc is not None and r is None:
        if a is None:
            problem = name_problem(path)
            if problem:
                return [Action(Do.SKIP, path, problem)]
            return [settled(Action(Do.UPLOAD, path, "nouveau localement"))]
        return [Action(Do.SUPP, path, "supprimé en ligne")]
    if loc is None or r is None:
        return [Action(Do.FORGET, path)] if a is not None else []
    if a is None:  # on both sides, never agreed (a first run, or a run killed midway)
        if hash_of(path) == r.sha256:
            return [Action(Do.ADOPT, path)]
        return [Action(Do.CONFLICT, path, "présent des deux côtés avec des contenus "
                                          "différents")]
    local_changed = (loc.size, loc.mtime_ns) != (a.size, a.mtime_ns)
    remote_changed = r.sha256 != a.sha256
    if not local_changed and not remote_changed:
        return []
    if local_changed:
        local_sha = hash_of(path)
        if local_sha == r.sha256:
            return [Action(Do.ADOPT, path)]
        if local_sha == a.sha256:  # touched, not changed
            return [Action(Do.ADOPT if not remote_changed else Do.DOWNLOAD, path,
                           "" if not remote_changed else "modifié en ligne")]
        if not remote_changed:
            return [settled(Action(Do.UPLOAD, path, "modifié localement"))]
        return [Action(Do.CONFLICT, path, "modifié des deux côtés depuis la dernière "
                                          "synchronisation")]
    return [Action(Do.DOWNLOAD, path, "modifié en ligne")]
