#!/usr/bin/env python3
"""Sync benchmark: `liasse sync` against `rclone bisync`, side by side in one run, against the
same real `liasse demo` server (the demo world plus companies and documents of the bench).

    .venv/bin/python bench/sync_bench.py [--quick] [--markdown PATH] [--rclone-large]

Not a test. Everything runs on 127.0.0.1 in a temporary folder, removed at the end; the
server is stopped, also on error or Ctrl+C. Both tools sign in as `expert` (who reaches every
company) into a local folder of their own, with their default settings. Measured:

- `liasse sync` is run as `python -m sync` (the package alone, as on a firm's file server;
  `liasse sync` first imports the server's command line, 1–2 s more, printed apart);
- first sync of the small world (5,000 documents across 50 companies; --quick: 500 across
  10), then a run with nothing new (median of 3), then a run after 10 new documents were
  PUT online, in 10 companies;
- a run with nothing new on the large world (50,000 documents; --quick: 5,000): the server
  is stopped, the documents are added in-process through the acl layer
  (`acl.documents.tree.add_document`), the server started again; `liasse sync` catches up
  (timed, for information), then runs with nothing new. rclone is left out at that size
  unless --rclone-large (its catch-up alone, 45,000 downloads, takes minutes).

The documents are made in-process through the acl layer, server stopped, in both worlds:
PUTting 50,000 documents through the drive would take longer than everything measured.
See bench/README.md, "The sync tool".
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from drive_bench import PASSWORD, Server, _basic, liasse_command, start_liasse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

USER = "expert"
FOLDERS = ("Achats", "Ventes", "Banque", "Fiscalité", "Social", "Juridique", "Autres")
DOC_SIZE = 1024
RUN_TIMEOUT = 3600  # seconds: a bound on each tool's run, never reached in practice
NOTHING_NEW_RUNS = 3
# rclone 1.60's bisync refuses a remote without modification times ("modification time
# support is missing on path1"), which WebDAV vendor "other" is. Vendor "owncloud" reads them
# from getlastmodified (1 s precision) as "other" does; what it adds (X-OC-Mtime on uploads,
# oc:checksums asked in listings) Liasse ignores, and this bench uploads nothing with rclone.
VENDOR = "owncloud"
AFTER_DOWNLOADS = ("liasse: each company its downloads touched is listed again once (their "
                   "receipts moved its tree version)")


@dataclass(frozen=True)
class Plan:
    companies: int  # companies of the world (the demo's two included)
    small: int  # documents added for the first sync
    large: int  # documents in all for the "nothing new" comparison of sizes
    new: int  # documents PUT online before the third run


FULL = Plan(companies=50, small=5_000, large=50_000, new=10)
QUICK = Plan(companies=10, small=500, large=5_000, new=10)


def doc_name(i: int) -> str:
    return f"piece-{i:06d}.pdf"


def doc_body(i: int) -> bytes:
    head = f"%PDF-1.4 document de banc d'essai {i}\n".encode()
    return head + bytes((i * 7 + k) % 251 for k in range(DOC_SIZE - len(head)))


def siren(n: int) -> str:
    """A valid SIREN (Luhn) that the demo does not use."""
    from stdnum import luhn

    base = f"{90_000_000 + n:08d}"
    return base + luhn.calc_check_digit(base)


# --- the world, in-process, server stopped ----------------------------------------------------


def _open(data: Path):
    from config.settings import SETTINGS_FILENAME, load_settings
    from liasse.cli.runtime import open_database

    settings = load_settings(data / SETTINGS_FILENAME)
    return settings, open_database(settings)


def add_companies(data: Path, total: int) -> None:
    """Companies "Société Banc NN" up to `total` companies in all, through
    `acl.people.companies.create_company` as the expert (their whole standard tree)."""
    from sqlalchemy import func, select

    from acl.people import companies
    from acl.people.companies import CompanyInput
    from acl.people.models import Company, User
    from acl.rights.audit import Context
    from acl.rights.passwords import PasswordHasher
    from acl.rights.principals import load_principal

    settings, db = _open(data)
    # The interlocuteurs are never signed in: cheap hashes.
    hasher = PasswordHasher(replace(settings.security, argon2_time_cost=1,
                                    argon2_memory_kib=64, argon2_parallelism=1))
    try:
        with db.transaction() as s:
            have = s.scalar(select(func.count()).select_from(Company))
            expert = s.scalars(select(User).where(User.login == USER)).one()
            ctx = Context(load_principal(s, expert), "bench")
            for n in range(have, total):
                companies.create_company(
                    s, ctx, hasher, settings.folders,
                    CompanyInput(name=f"Société Banc {n:02d}", siren=siren(n)),
                    interlocuteur_login=f"banc{n:02d}", interlocuteur_name=f"Banc {n:02d}")
    finally:
        db.dispose()


def add_documents(data: Path, start: int, stop: int) -> None:
    """Documents `start`..`stop`-1, document i in company i % N, folder (i // N) % 7, through
    `acl.documents.tree.add_document` (bodies made durable in batches, flushed at the end)."""
    from sqlalchemy import select

    from acl.documents import store
    from acl.documents.blobs import flush_blobs, open_store
    from acl.documents.tree import add_document
    from acl.people.models import Company, User

    settings, db = _open(data)
    blobs = open_store(settings, serving=True)
    try:
        with db.transaction() as s:
            everyone = list(s.scalars(select(Company).order_by(Company.id)))
            expert = s.scalars(select(User).where(User.login == USER)).one()
            parents = {}
            for company in everyone:
                for folder in FOLDERS:
                    location = store.resolve(s, company, [folder])
                    if location is None:
                        raise RuntimeError(f"no {folder} folder in {company.name}")
                    parents[company.id, folder] = location.node
            n = len(everyone)
            for i in range(start, stop):
                parent = parents[everyone[i % n].id, FOLDERS[(i // n) % len(FOLDERS)]]
                add_document(s, blobs, parent, doc_name(i), io.BytesIO(doc_body(i)),
                             deposited_by_id=expert.id)
        flush_blobs()
    finally:
        db.dispose()


def online_counts(data: Path) -> tuple[int, int]:
    """(companies, live documents) in the database."""
    from sqlalchemy import func, select

    from acl.documents.models import Node
    from acl.people.models import Company

    _, db = _open(data)
    try:
        with db.session() as s:
            return (s.scalar(select(func.count()).select_from(Company)),
                    s.scalar(select(func.count()).select_from(Node).where(
                        Node.kind == "file", Node.deleted_at.is_(None))))
    finally:
        db.dispose()


def company_folders(server: Server) -> list[str]:
    """The company folders the expert sees (the drive's root, Depth 1)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        conn.request("PROPFIND", "/dav/", headers={"Depth": "1", "Authorization": _basic(USER)})
        data = conn.getresponse().read().decode()
    finally:
        conn.close()
    from urllib.parse import unquote

    hrefs = [unquote(h) for h in re.findall(r"<D:href>([^<]*)</D:href>", data, re.I)]
    return sorted(h.strip("/").split("/", 1)[1] for h in hrefs if h.strip("/") != "dav")


def put_new(server: Server, folders: list[str], count: int, stamp: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        for k in range(count):
            company = folders[k % len(folders)]
            path = "/dav/" + "/".join(quote(s) for s in (company, "Achats",
                                                         f"nouveau-{stamp}-{k:02d}.pdf"))
            body = doc_body(10_000_000 + k) + stamp.encode()
            conn.request("PUT", path, body=body, headers={"Authorization": _basic(USER)})
            answer = conn.getresponse()
            answer.read()
            if answer.status not in (201, 204):
                raise RuntimeError(f"PUT {path}: {answer.status}")
    finally:
        conn.close()


# --- the two tools ----------------------------------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    requests: int | None = None  # as the tool counts them (liasse sync's report)
    downloaded: int | None = None


@dataclass
class Tools:
    tmp: Path
    server: Server | None = None
    obscured: str = ""

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def liasse(self, local: Path) -> Outcome:
        local.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
        env["LIASSE_SYNC_PASSWORD"] = PASSWORD
        env["PYTHONPATH"] = str(REPO)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sync", "--server", self.url, "--user",
                               USER, "--local", str(local), "--quiet"], env=env, cwd=str(REPO),
                              capture_output=True, text=True, timeout=RUN_TIMEOUT)
        seconds = time.perf_counter() - started
        report = (local / ".liasse-sync" / "dernier-rapport.txt").read_text(encoding="utf-8")
        if done.returncode != 0:
            raise RuntimeError(f"liasse sync exited {done.returncode}:\n{done.stderr}\n{report}")
        requests = int(re.search(r"Requêtes au serveur : (\d+)", report).group(1))
        downloaded = re.search(r"Totaux : (\d+) téléchargé", report)
        return Outcome(seconds, requests, int(downloaded.group(1)) if downloaded else 0)

    def rclone(self, local: Path, *, resync: bool = False) -> Outcome:
        local.mkdir(exist_ok=True)
        if not self.obscured:  # once: bisync names its listings after the remote's
            # settings, and each `rclone obscure` gives another text for the same password
            self.obscured = subprocess.run(["rclone", "obscure", PASSWORD],
                                           capture_output=True, text=True, check=True,
                                           timeout=60).stdout.strip()
        config = self.tmp / "rclone.conf"
        config.touch()
        env = {**os.environ, "RCLONE_CONFIG_LIASSE_TYPE": "webdav",
               "RCLONE_CONFIG_LIASSE_URL": f"{self.url}/dav/",
               "RCLONE_CONFIG_LIASSE_VENDOR": VENDOR, "RCLONE_CONFIG_LIASSE_USER": USER,
               "RCLONE_CONFIG_LIASSE_PASS": self.obscured}
        command = ["rclone", "--config", str(config), "bisync", "liasse:", str(local),
                   "--workdir", str(self.tmp / "rclone-bisync"), "--stats", "0",
                   *(["--resync"] if resync else [])]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"rclone bisync exited {done.returncode}:\n{done.stderr[-4000:]}")
        return Outcome(seconds)


def start_up() -> tuple[float, float]:
    """Median seconds of `python -m sync --help` and of `liasse sync --help` (3 each)."""
    def seconds(command: list[str]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=str(REPO))
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return (seconds([sys.executable, "-m", "sync", "--help"]),
            seconds([*liasse_command(), "sync", "--help"]))


def count_files(local: Path) -> int:
    return sum(1 for p in local.rglob("*") if p.is_file()
               and ".liasse-sync" not in p.relative_to(local).parts)


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    liasse: Outcome | None
    rclone: Outcome | None
    note: str = ""


def fmt_s(outcome: Outcome | None) -> str:
    return "—" if outcome is None else f"{outcome.seconds:.2f} s"


def ratio(row: Row) -> str:
    if row.liasse is None or row.rclone is None:
        return "—"
    return f"{row.liasse.seconds / row.rclone.seconds:.2f}"


def median_outcome(outcomes: list[Outcome]) -> Outcome:
    middle = statistics.median(o.seconds for o in outcomes)
    chosen = min(outcomes, key=lambda o: abs(o.seconds - middle))
    return Outcome(middle, chosen.requests, chosen.downloaded)


HEADER = ["run", "liasse sync", "requests (liasse)", "rclone bisync", "ratio liasse/rclone",
          "note"]


def table(rows: list[Row], markdown: bool) -> str:
    cells = [[r.label, fmt_s(r.liasse),
              "—" if r.liasse is None or r.liasse.requests is None else str(r.liasse.requests),
              fmt_s(r.rclone), ratio(r), r.note] for r in rows]
    if markdown:
        out = ["| " + " | ".join(HEADER) + " |", "|---|---:|---:|---:|---:|---|"]
        return "\n".join(out + ["| " + " | ".join(c) + " |" for c in cells])
    widths = [max(len(c[i]) for c in [HEADER, *cells]) for i in range(len(HEADER))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(HEADER)))
                     for c in [HEADER, *cells])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="500 / 5,000 documents across 10 companies (~2 min)")
    parser.add_argument("--rclone-large", action="store_true",
                        help="run rclone bisync on the large world too (slow)")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table there")
    args = parser.parse_args(argv)
    if shutil.which("rclone") is None:
        print("rclone is not installed (Debian package rclone)", file=sys.stderr)
        return 2
    plan = QUICK if args.quick else FULL
    began = time.monotonic()
    load_before = os.getloadavg()[0]

    def log(message: str) -> None:
        print(f"[{time.monotonic() - began:6.1f} s] {message}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="liasse-sync-bench-"))
    tools = Tools(tmp)
    data = tmp / "liasse-data"
    rows: list[Row] = []
    notes: list[str] = []
    try:
        first = start_liasse(data, "", tmp / "liasse-first.log")  # creates the demo world
        first.stop()
        t = time.monotonic()
        add_companies(data, plan.companies)
        add_documents(data, 0, plan.small)
        companies, documents = online_counts(data)
        log(f"world: {companies} companies, {documents} documents ({plan.small} added "
            f"in-process through acl.documents.tree.add_document, {time.monotonic() - t:.1f} s)")
        tools.server = start_liasse(data, "", tmp / "liasse.log")
        folders = company_folders(tools.server)
        a, b = tmp / "liasse-sync", tmp / "rclone-bisync-local"

        # 1. First sync of the small world.
        li = tools.liasse(a)
        log(f"liasse sync, first sync: {li.seconds:.1f} s, {li.requests} requests")
        rc = tools.rclone(b, resync=True)
        log(f"rclone bisync --resync, first sync: {rc.seconds:.1f} s")
        got_a, got_b = count_files(a), count_files(b)
        if got_a != documents or got_b != documents:
            raise RuntimeError(f"first sync incomplete: liasse {got_a}, rclone {got_b}, "
                               f"online {documents}")
        rows.append(Row(f"first sync, {documents:,} documents, {companies} companies", li, rc))

        # 2. Nothing new (the first of them for Liasse reads the trees the first sync's
        # receipts moved, if any: shown apart).
        li_runs, rc_runs = [], []
        for _ in range(NOTHING_NEW_RUNS + 1):
            li_runs.append(tools.liasse(a))
            rc_runs.append(tools.rclone(b))
        log("nothing new: liasse " + ", ".join(f"{o.seconds:.2f} s ({o.requests} req)"
                                               for o in li_runs)
            + "; rclone " + ", ".join(f"{o.seconds:.2f} s" for o in rc_runs))
        rows.append(Row("next run after the first sync (info)", li_runs[0], rc_runs[0],
                        AFTER_DOWNLOADS))
        small_idle = median_outcome(li_runs[1:])
        rows.append(Row(f"nothing new, {documents:,} documents (median of "
                        f"{NOTHING_NEW_RUNS})", small_idle, median_outcome(rc_runs[1:])))

        # 3. Ten new documents online, in ten companies.
        put_new(tools.server, folders, plan.new, "a")
        li = tools.liasse(a)
        rc = tools.rclone(b)
        if li.downloaded != plan.new or count_files(b) != documents + plan.new:
            raise RuntimeError(f"new documents: liasse {li.downloaded}, rclone "
                               f"{count_files(b) - documents}")
        log(f"{plan.new} new: liasse {li.seconds:.2f} s ({li.requests} req), "
            f"rclone {rc.seconds:.2f} s")
        rows.append(Row(f"{plan.new} new documents online", li, rc))

        # 4. The large world: nothing new must not grow with the size of the trees.
        tools.server.stop()
        t = time.monotonic()
        add_documents(data, plan.small, plan.large - (documents - plan.small) - plan.new)
        companies, large_documents = online_counts(data)
        log(f"large world: {large_documents} documents (added in-process, "
            f"{time.monotonic() - t:.1f} s)")
        tools.server = start_liasse(data, "", tmp / "liasse-large.log")
        li_catch = tools.liasse(a)
        log(f"liasse sync catch-up of {li_catch.downloaded} documents: "
            f"{li_catch.seconds:.1f} s")
        rc_catch = None
        if args.rclone_large:
            rc_catch = tools.rclone(b)
            log(f"rclone bisync catch-up: {rc_catch.seconds:.1f} s")
        rows.append(Row(f"catch-up: {li_catch.downloaded:,} more documents (info)", li_catch,
                        rc_catch))
        li_runs, rc_runs = [], []
        for _ in range(NOTHING_NEW_RUNS + 1):
            li_runs.append(tools.liasse(a))
            if args.rclone_large:
                rc_runs.append(tools.rclone(b))
        log("nothing new, large: liasse " + ", ".join(
            f"{o.seconds:.2f} s ({o.requests} req)" for o in li_runs)
            + ("; rclone " + ", ".join(f"{o.seconds:.2f} s" for o in rc_runs)
               if rc_runs else ""))
        rows.append(Row("next run after the catch-up (info)", li_runs[0],
                        rc_runs[0] if rc_runs else None, AFTER_DOWNLOADS))
        large_idle = median_outcome(li_runs[1:])
        rows.append(Row(f"nothing new, {large_documents:,} documents (median of "
                        f"{NOTHING_NEW_RUNS})", large_idle,
                        median_outcome(rc_runs[1:]) if rc_runs else None,
                        "" if rc_runs else "rclone left out (--rclone-large)"))
        plain, full = start_up()
        notes.append(f"Start-up: `python -m sync --help` {plain:.2f} s, `liasse sync --help` "
                     f"{full:.2f} s (the server's command line is imported first); the runs "
                     "above are `python -m sync`, as on a firm's file server.")
        grow = large_idle.seconds / small_idle.seconds
        notes.append(
            f"Nothing new, {large_documents:,} against {documents:,} documents "
            f"({large_documents / documents:.0f}× the trees): liasse sync "
            f"{large_idle.seconds:.2f} s against {small_idle.seconds:.2f} s ({grow:.2f}×), "
            f"{large_idle.requests} requests against {small_idle.requests}.")
    finally:
        if tools.server is not None:
            tools.server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    elapsed = time.monotonic() - began
    print()
    print(table(rows, markdown=False))
    rclone_version = subprocess.run(["rclone", "version"], capture_output=True,
                                    text=True).stdout.splitlines()[0]
    notes[:0] = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M')}, {'--quick' if args.quick else 'full'}, "
        f"{elapsed / 60:.1f} min; {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {rclone_version}; load average {load_before:.1f} at "
        f"the start, {os.getloadavg()[0]:.1f} at the end.",
        "Ratio: liasse sync time / rclone bisync time (lower is better for Liasse).",
    ]
    for line in notes:
        print(line)
    if args.markdown:
        Path(args.markdown).write_text(table(rows, markdown=True) + "\n\n" + "\n".join(
            f"- {line}" for line in notes) + "\n", encoding="utf-8")
        print(f"Markdown table written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
