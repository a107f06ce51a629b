"""One run of the sync tool: ask the drive what changed (the RFC 6578 token), list the
companies that moved, read the local tree, plan by the rules (`sync.rules`), carry the plan
out safely, record each step, report.

Safety (issue 21, "safe transfers"):
- a download goes to `.liasse-sync/tmp/` (same file system: the rename is atomic), is
  checked against the server's ETag (the document's sha256), gets the online modification
  time, and only then replaces its name; a killed run leaves only a `.part` in the tool's
  folder, removed at the next start;
- a local file whose size or time changed between the scan and its upload, or changed less
  than `settle_seconds` ago, is still being written: it waits for the next run;
- every step is committed to the state at once, so that a run killed anywhere resumes with
  nothing duplicated (a file on both sides with the same hash is recognised, not copied);
- before renaming more than `max_supp_percent` % (and more than `max_supp_floor`) of a
  company's files to `supp_`, the run stops for that company, unless forced;
- a full disk stops the run cleanly: the partial download is removed, the report says so.
"""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sync.local import LocalTree, scan, sha256_of
from sync.remote import (
    ChangedOnline,
    Changes,
    Drive,
    LocalFault,
    RemoteError,
    SignInRefused,
    TokenRefused,
    Unreachable,
)
from sync.report import Report, append_journal
from sync.rules import Action, Do, LocalFile, conflict_name, is_ignored, plan, supp_name
from sync.settings import SyncSettings
from sync.state import Agreed, Remote, State

DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class Stop(Exception):
    """The run cannot go on (disk full): stop cleanly, report."""


Progress = Callable[[int, int, str], None]  # (done, total, current path)


def now() -> datetime:
    return datetime.now().astimezone()


class Run:
    def __init__(self, settings: SyncSettings, progress: Progress | None = None,
                 drive: Drive | None = None) -> None:
        self.settings = settings
        self.progress = progress
        self.drive = drive or Drive(settings.server, settings.user, settings.password,
                                    timeout=settings.timeout_seconds, retries=settings.retries,
                                    backoff=settings.backoff_seconds, ca_file=settings.ca_file)
        self.work = settings.work_dir
        self.tmp = self.work / "tmp"
        self.report = Report(started=now(), server=settings.server, user=settings.user,
                             local=str(settings.local))
        self.state: State | None = None
        self.local_tree = LocalTree()

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> Report:
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            for leftover in self.tmp.glob("*.part"):  # a killed run's partial downloads
                leftover.unlink()
            self.state = State(self.work / "state.db")
            self._check_pairing()
            self._run()
        except SignInRefused as exc:
            self.report.fatal = exc.message
        except Unreachable as exc:
            self.report.fatal = exc.message
        except Stop as exc:
            self.report.fatal = str(exc)
        except OSError as exc:
            self.report.fatal = f"dossier de travail {self.work} inutilisable : {exc.strerror}"
        finally:
            self.report.requests = self.drive.requests
            self.report.finished = now()
            self.drive.close()
            if self.state is not None:
                self.state.close()
        return self.report

    def _check_pairing(self) -> None:
        """One local folder, one account: what it agreed with another account would read as
        deletions and conflicts. (The address may change: a new name, HTTPS, a proxy.)"""
        assert self.state is not None
        recorded = self.state.get("account")
        if recorded and recorded != self.settings.user:
            raise Stop(f"ce dossier est synchronisé avec le compte « {recorded} », pas avec "
                       f"« {self.settings.user} » : choisissez un autre dossier local.")
        self.state.put("account", self.settings.user)

    def _run(self) -> None:
        state = self.state
        assert state is not None
        changes, complete = self._changes(state.get("token"))
        for name in changes.removed:
            state.set_company(name, False)
        listed_all = True
        for name in changes.changed:
            try:
                state.replace_remote(name, self._walk(name))
                state.set_company(name, True)
            except SignInRefused:
                raise
            except RemoteError as exc:
                if exc.status == 404:
                    state.set_company(name, False)
                    continue
                if isinstance(exc, Unreachable):
                    raise
                self.report.of(name).errors.append(f"lecture en ligne impossible : {exc.message}")
                listed_all = False
        companies = state.companies()
        if complete:  # a full comparison: companies not listed are gone for this account
            for name in set(companies) - set(changes.changed):
                state.set_company(name, False)
            companies = state.companies()
        self.local_tree = scan(self.settings.local)
        for path, reason in self.local_tree.problems:
            self.report.of(path.split("/", 1)[0] or "(dossier local)").errors.append(
                f"{path} : {reason}")
        for name in sorted(set(self.local_tree.files) - set(companies)):
            self.report.of(name).notes.append(
                "entreprise absente de la plateforme pour ce compte : dossier local conservé "
                "tel quel, rien n'est envoyé")
        for name, present in sorted(companies.items()):
            if not present:
                if name in self.local_tree.files:
                    self.report.of(name).notes.append(
                        "entreprise absente de la plateforme (supprimée, ou plus accessible à ce "
                        "compte) : son dossier local est conservé tel quel")
                continue
            self._company(name)
        if listed_all:
            state.put("token", changes.token)

    def _changes(self, token: str) -> tuple[Changes, bool]:
        """What changed, and whether it is a full listing (the token refused)."""
        try:
            return self.drive.changes(token), False
        except TokenRefused as exc:
            self.report.notes.append(f"{exc.message} : comparaison complète des arborescences")
        entries = self.drive.list_folder(())
        return Changes(tuple(e.name for e in entries if e.is_dir), (), ""), True

    def _walk(self, company: str) -> dict[str, Remote]:
        """Every folder and document of a company online (PROPFIND Depth 1, folder by folder:
        the drive refuses Depth infinity)."""
        found: dict[str, Remote] = {}
        pending = [(company,)]
        while pending:
            segments = pending.pop()
            try:
                entries = self.drive.list_folder(segments)
            except RemoteError as exc:
                if exc.status == 404 and len(segments) > 1:  # deleted while being read
                    continue
                raise
            for entry in entries:
                if is_ignored(entry.name):
                    continue
                path = "/".join((*segments, entry.name))
                found[path] = Remote(entry.is_dir, entry.sha256, entry.size, entry.mtime)
                if entry.is_dir:
                    pending.append((*segments, entry.name))
        return found

    # --- one company -----------------------------------------------------------------------

    def _company(self, company: str) -> None:
        state = self.state
        assert state is not None
        remote = state.remote(company)
        local = self.local_tree.files.get(company, {})
        agreed = state.agreed(company)
        report = self.report.of(company)
        if company not in self.local_tree.files:
            (self.settings.local / company).mkdir(exist_ok=True)
        hashes: dict[str, str] = {}

        def hash_of(path: str) -> str:
            if path not in hashes:
                try:
                    hashes[path] = sha256_of(self._real(path))
                except OSError as exc:
                    hashes[path] = f"illisible:{exc.strerror}"
            return hashes[path]

        actions = plan(remote, local, agreed, hash_of=hash_of, now_ns=time.time_ns(),
                       settle_ns=int(self.settings.settle_seconds * 1e9))
        unreadable = self.local_tree.unreadable
        actions = [a for a in actions if not any(
            a.path == u or a.path.startswith(u + "/") for u in unreadable)]
        supp = [a for a in actions if a.do == Do.SUPP]
        if supp and not self.settings.force and self._brakes(supp, agreed, company):
            actions = [a for a in actions if a.do != Do.SUPP]
        total = sum(1 for a in actions if a.do in (Do.DOWNLOAD, Do.UPLOAD, Do.CONFLICT))
        done = 0
        for action in actions:
            if self.progress and action.do in (Do.DOWNLOAD, Do.UPLOAD, Do.CONFLICT):
                done += 1
                self.progress(done, total, action.path)
            try:
                self._carry_out(action, remote, local, agreed, hashes)
            except (SignInRefused, Unreachable, Stop):
                raise
            except LocalFault as exc:
                self._stop_if_full(action, exc.error)
                report.errors.append(f"{action.path} : {_local_reason(exc.error)}")
            except RemoteError as exc:
                report.errors.append(f"{action.path} : {exc.message}")
            except OSError as exc:
                self._stop_if_full(action, exc)
                report.errors.append(f"{action.path} : {_local_reason(exc)}")

    def _brakes(self, supp: list[Action], agreed: dict[str, Agreed], company: str) -> bool:
        files = sum(1 for a in agreed.values() if not a.is_dir)
        renamed = sum(1 for path, a in agreed.items() if not a.is_dir and any(
            path == s.path or path.startswith(s.path + "/") for s in supp))
        limit = max(self.settings.max_supp_floor, files * self.settings.max_supp_percent / 100)
        if renamed <= limit:
            return False
        self.report.braked = True
        self.report.of(company).errors.append(
            f"frein : {renamed} document(s) sur {files} auraient été renommés « supp_ » "
            f"(supprimés en ligne), plus que la limite de {self.settings.max_supp_percent:g} % ; "
            "rien n'a été renommé. Vérifiez sur la plateforme, puis relancez avec --force "
            "pour les renommer.")
        return True

    @staticmethod
    def _stop_if_full(action: Action, error: OSError) -> None:
        if error.errno in DISK_FULL:
            raise Stop(f"disque local plein ({os.strerror(error.errno)}) pendant "
                       f"« {action.path} » : rien n'a été écrit à moitié ; libérez de la place "
                       "et relancez") from error

    def _real(self, path: str) -> Path:
        return self.local_tree.real.get(path) or self.settings.local.joinpath(*path.split("/"))

    def _carry_out(self, action: Action, remote: dict[str, Remote],
                   local: dict[str, LocalFile], agreed: dict[str, Agreed],
                   hashes: dict[str, str]) -> None:
        state = self.state
        assert state is not None
        report = self.report.of(action.path.split("/", 1)[0])
        path = action.path
        if action.do == Do.MKDIR_LOCAL:
            self._real(path).mkdir(parents=True, exist_ok=True)
            state.agree(path, Agreed(True, "", 0, 0))
        elif action.do == Do.MKCOL:
            self.drive.mkcol(tuple(path.split("/")))
            state.set_remote(path, Remote(True, "", 0, time.time()))
            state.agree(path, Agreed(True, "", 0, 0))
        elif action.do == Do.DOWNLOAD:
            self._download(path, remote[path], expect=local.get(path))
            report.downloaded.append(path + ("" if action.reason == "nouveau en ligne"
                                             else f" ({action.reason})"))
        elif action.do == Do.UPLOAD:
            self._upload(path, local[path], remote.get(path), report)
        elif action.do == Do.SUPP:
            real = self._real(path)
            target = real.with_name(supp_name(real.name, lambda n: real.with_name(n).exists()))
            os.rename(real, target)
            state.forget([path])
            report.supp.append(f"{path} → {target.name} ({action.reason})")
        elif action.do == Do.CONFLICT:
            self._conflict(path, remote[path], local[path], report)
        elif action.do == Do.ADOPT:
            loc = local[path]
            state.agree(path, Agreed(loc.is_dir, remote[path].sha256, loc.size, loc.mtime_ns))
        elif action.do == Do.LOCAL_GONE:
            a = agreed[path]
            state.agree(path, Agreed(a.is_dir, a.sha256, a.size, a.mtime_ns, gone_local=True))
            report.local_gone.append(f"{path} : toujours en ligne, pas recopié (il le sera "
                                     "s'il change en ligne)")
        elif action.do == Do.FORGET:
            state.forget([path])
        elif action.do == Do.WAIT:
            report.waiting.append(f"{path} : {action.reason}")
        elif action.do == Do.SKIP:
            report.errors.append(f"{path} : {action.reason}")

    # --- transfers -------------------------------------------------------------------------

    def _fetch(self, path: str, entry: Remote) -> Path:
        """The document downloaded into a temporary file, checked and dated."""
        part = self.tmp / f"{uuid.uuid4().hex}.part"
        try:
            with part.open("wb") as out:
                sha, size = self.drive.download(tuple(path.split("/")), out)
                try:
                    out.flush()
                    os.fsync(out.fileno())
                except OSError as exc:
                    raise LocalFault(exc) from exc
            if entry.sha256 and sha != entry.sha256:
                raise RemoteError(f"téléchargement incomplet ou altéré (empreinte {sha[:12]}… "
                                  f"au lieu de {entry.sha256[:12]}…) : réessayé au prochain "
                                  "passage")
            os.utime(part, (entry.mtime, entry.mtime))
            return part
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    def _download(self, path: str, entry: Remote, expect: LocalFile | None) -> None:
        state = self.state
        assert state is not None
        part = self._fetch(path, entry)
        target = self._real(path)
        try:
            if expect is not None:  # an update: the local copy must not have moved meanwhile
                info = target.stat()
                if (info.st_size, info.st_mtime_ns) != (expect.size, expect.mtime_ns):
                    raise RemoteError("modifié localement pendant la synchronisation : "
                                      "traité au prochain passage")
            elif target.exists():
                raise RemoteError("un fichier local de ce nom est apparu pendant la "
                                  "synchronisation : traité au prochain passage")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)
        info = target.stat()
        # Journal first: a run killed before the agreement finds the file in place, agrees
        # without downloading again, and writes no second line.
        when = now()
        self.report.journal.append((when, path, target))
        append_journal(self.settings.report_dir, when, path, target)
        state.agree(path, Agreed(False, entry.sha256, info.st_size, info.st_mtime_ns))

    def _upload(self, path: str, loc: LocalFile, listed: Remote | None, report) -> None:
        """Send a local document, on condition that the online one is still the one listed
        (`listed`, or none): a change online between the listing and now is a conflict, never
        overwritten."""
        state = self.state
        assert state is not None
        real = self._real(path)
        info = real.stat()  # the second look: still being written?
        if (info.st_size, info.st_mtime_ns) != (loc.size, loc.mtime_ns):
            report.waiting.append(f"{path} : fichier en cours d'écriture : il sera envoyé au "
                                  "prochain passage")
            return
        with real.open("rb"):  # permission denied is said here, not as a network fault
            pass
        segments = tuple(path.split("/"))
        try:
            etag = self.drive.upload(segments, lambda: real.open("rb"), loc.size,
                                     online=listed.sha256 if listed else None)
        except ChangedOnline as exc:
            self._changed_during_upload(path, loc, exc, report)
            return
        sha = etag or sha256_of(real)
        state.set_remote(path, Remote(False, sha, loc.size, time.time()))
        state.agree(path, Agreed(False, sha, loc.size, loc.mtime_ns))
        report.uploaded.append(path)

    def _changed_during_upload(self, path: str, loc: LocalFile, exc: ChangedOnline,
                               report) -> None:
        """The server refused the upload (412): someone changed, made or deleted the document
        online since the listing. The same content is agreed; another is a conflict (both
        kept); a document gone is left to the next run."""
        state = self.state
        assert state is not None
        now_online = self.drive.stat(tuple(path.split("/")))
        if now_online is None or now_online.is_dir:
            report.waiting.append(f"{path} : {exc.message} (supprimé ou remplacé par un "
                                  "dossier) : traité au prochain passage")
            return
        entry = Remote(False, now_online.sha256, now_online.size, now_online.mtime)
        state.set_remote(path, entry)
        if sha256_of(self._real(path)) == entry.sha256:
            state.agree(path, Agreed(False, entry.sha256, loc.size, loc.mtime_ns))
            return
        self._conflict(path, entry, loc, report, why=exc.message)

    def _conflict(self, path: str, entry: Remote, loc: LocalFile, report, why: str = "") -> None:
        """Both kept: the online version under the name, the local one renamed beside it."""
        state = self.state
        assert state is not None
        part = self._fetch(path, entry)
        real = self._real(path)
        try:
            kept = real.with_name(conflict_name(real.name, now(),
                                                lambda n: real.with_name(n).exists()))
            os.rename(real, kept)
            os.replace(part, real)
        finally:
            part.unlink(missing_ok=True)
        info = real.stat()
        state.agree(path, Agreed(False, entry.sha256, info.st_size, info.st_mtime_ns))
        report.conflicts.append(f"{path}{f' ({why})' if why else ''} : la version en ligne "
                                "est téléchargée sous ce nom, "
                                f"la version locale est gardée sous « {kept.name} » "
                                "(jamais envoyée)")
        when = now()
        self.report.journal.append((when, path, real))
        append_journal(self.settings.report_dir, when, path, real)


def _local_reason(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return f"permission refusée sur le fichier local ({exc.filename or ''})"
    if exc.errno == errno.ENAMETOOLONG:
        return "nom trop long pour le disque local"
    return f"erreur locale : {exc.strerror or exc}"
