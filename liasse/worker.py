"""The background worker of `liasse serve`: deposit alerts, calendar alerts, the outbox,
e-invoices received in Achats, trash upkeep.

One thread, started and stopped with the server. Each job runs in its own try block, so a
failing job is logged and retried at the next tick without stopping the others. When several
server processes share a database, only the one holding the election lock works: a
PostgreSQL advisory lock (held by a dedicated connection), or an exclusive file lock next to
a SQLite database.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from acl.calendar import alerts as calendar_alerts
from acl.db import Database, utcnow
from acl.documents.blobs import open_store
from acl.documents.store import purge_before
from acl.events import alerts, outbox
from acl.invoicing import received
from config.settings import Settings

log = logging.getLogger("liasse.worker")
ADVISORY_KEY = 0x11A55E  # "liasse"
UPKEEP_EVERY = timedelta(hours=6)


class Election:
    """Whether this process is the one that runs the jobs."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir
        self._connection = None
        self._file = None

    def held(self) -> bool:
        if self.db.engine.dialect.name == "postgresql":
            return self._hold_advisory_lock()
        return self._hold_file_lock()

    def _hold_advisory_lock(self) -> bool:
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the connection died, and the lock with it
                self.release()
        connection = self.db.engine.connect()
        # Advisory locks are per database: the schema in the key keeps two installations
        # that share one database in separate schemas from electing a single sender.
        got = connection.execute(text(
            "SELECT pg_try_advisory_lock(:k, hashtext(coalesce(current_schema(), '')))"),
            {"k": ADVISORY_KEY}).scalar()
        connection.commit()
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def _hold_file_lock(self) -> bool:
        if self._file is not None:
            return True
        handle = (self.data_dir / "worker.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._file = handle
        return True

    def release(self) -> None:
        if self._connection is not None:
            try:
                # Unlock before the connection goes back to the pool, where it lives on.
                self._connection.execute(text(
                    "SELECT pg_advisory_unlock(:k, hashtext(coalesce(current_schema(), '')))"),
                    {"k": ADVISORY_KEY})
                self._connection.commit()
                self._connection.close()
            except Exception:
                log.debug("closing the election connection failed", exc_info=True)
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None


class Worker:
    def __init__(self, settings: Settings, db: Database, base_url: str) -> None:
        self.settings = settings
        self.db = db
        self.base_url = settings.server.public_url.rstrip("/") or base_url
        self.election = Election(db, settings.data_dir)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="liasse-worker", daemon=True)
        self._elected = False
        self._next_upkeep: datetime | None = None
        self._said_no_smtp = False
        self.blobs = open_store(settings)  # the mails' attachments

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.election.release()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.settings.alerts.poll_seconds)

    def tick(self, now: datetime | None = None) -> None:
        try:
            if not self.election.held():
                return
        except Exception:
            log.exception("worker election failed")
            return
        now = now or utcnow()
        if not self._elected:
            self._elected = True
            self._job("outbox recovery", self._recover)
        self._job("deposit alerts", self._alerts, now)
        self._job("calendar alerts", self._calendar_alerts, now)
        self._job("outbox", self._send, now)
        self._job("received e-invoices", self._received)
        if self._next_upkeep is None or now >= self._next_upkeep:
            self._next_upkeep = now + UPKEEP_EVERY
            self._job("trash upkeep", self._upkeep, now)

    def _job(self, name: str, job, *args) -> None:
        try:
            job(*args)
        except Exception:  # one failing job must not stop the worker
            log.exception("worker job %r failed", name)

    def _recover(self) -> None:
        with self.db.transaction() as session:
            released = outbox.release_unconfirmed(session)
        if released:
            log.warning("%d mail(s) interrupted by a stop are queued again", released)

    def _alerts(self, now: datetime) -> None:
        config = self.settings.alerts
        with self.db.transaction() as session:
            while alerts.queue_new_deposits(session, base_url=self.base_url) \
                    == alerts.DEPOSIT_BATCH:
                pass
            alerts.flush_digests(session, now,
                                 quiet=timedelta(seconds=config.quiet_delay_seconds),
                                 max_hold=timedelta(seconds=config.max_hold_seconds),
                                 base_url=self.base_url)

    def _calendar_alerts(self, now: datetime) -> None:
        with self.db.transaction() as session:
            calendar_alerts.mail_due(session, now, base_url=self.base_url)

    def _received(self) -> None:
        with self.db.transaction() as session:
            while received.scan_deposits(session, self.blobs) == received.BATCH:
                pass

    def _send(self, now: datetime) -> None:
        if not self.settings.smtp.host:
            if not self._said_no_smtp:
                self._said_no_smtp = True
                log.warning("no SMTP server configured ([smtp] host): mails stay in the "
                            "outbox (liasse outbox list)")
            return
        outbox.send_due(self.db, self.settings.smtp, now, blobs=self.blobs)

    def _upkeep(self, now: datetime) -> None:
        cutoff = now - timedelta(days=self.settings.storage.trash_days)
        with self.db.transaction() as session:
            purged = purge_before(session, cutoff)
        if purged:
            log.info("trash: %d item(s) older than %d days forgotten", purged,
                     self.settings.storage.trash_days)
