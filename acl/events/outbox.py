"""The outbox: mails are rows, sent by the background worker with retries and backoff.

An SMTP outage never fails or slows an upload: the upload only writes a row. A message is
claimed ("sending") and committed before the SMTP conversation and marked "sent" right after
the server accepts it, so a restart resends only what was never confirmed. The rare mail
accepted by the server in the instant before a crash could go twice; each carries a stable
Message-ID so that receiving systems can drop the duplicate.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from acl.db import Database, utcnow
from acl.documents.blobs import BlobStore
from acl.events.models import OutboxMessage
from acl.people.models import Cabinet
from config.settings import SmtpSettings

log = logging.getLogger("liasse.outbox")
MAX_BACKOFF = timedelta(hours=1)


def build_message(message: OutboxMessage, smtp: SmtpSettings, cabinet_name: str,
                  blobs: BlobStore | None = None) -> EmailMessage:
    mail = EmailMessage()
    address = parseaddr(smtp.sender)[1] if smtp.sender else "liasse@localhost"
    if message.sender_name:  # a company's own mail: its name, the firm's sending address
        mail["From"] = formataddr((" ".join(message.sender_name.split()), address))
    else:
        mail["From"] = smtp.sender or formataddr((cabinet_name, address))
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    mail["To"] = message.recipient
    mail["Subject"] = " ".join(message.subject.split())  # no header injection
    domain = (smtp.sender.rsplit("@", 1)[-1].strip("> ") if "@" in smtp.sender
              else "liasse.localhost")
    # The same on every attempt (make_msgid is random), so a receiving system can drop the
    # copy of a mail resent after a crash between the server's acceptance and our record.
    stamp = message.created_at.strftime("%Y%m%d%H%M%S") if message.created_at else "0"
    mail["Message-ID"] = f"<liasse.outbox{message.id}.{stamp}@{domain}>"
    mail.set_content(message.text_body)
    if message.html_body:
        mail.add_alternative(message.html_body, subtype="html")
    if message.attachment_sha256:
        if blobs is None:
            raise ValueError("a mail with an attachment needs the blob store")
        with blobs.open(message.attachment_sha256) as body:
            maintype, _, subtype = message.attachment_type.partition("/")
            mail.add_attachment(body.read(), maintype=maintype, subtype=subtype,
                                filename=message.attachment_name)
    return mail


def release_unconfirmed(session: Session) -> int:
    """At start-up: messages left "sending" by a stopped process go back to the queue."""
    result = session.execute(update(OutboxMessage).where(OutboxMessage.status == "sending")
                             .values(status="pending"))
    return result.rowcount or 0


def backoff(attempts: int, base_seconds: float) -> timedelta:
    return min(timedelta(seconds=base_seconds * 2 ** max(0, attempts - 1)), MAX_BACKOFF)


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    if smtp.security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port,
                                                 timeout=smtp.timeout_seconds,
                                                 context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        if smtp.security == "starttls":
            client.starttls(context=ssl.create_default_context())
    if smtp.username:
        client.login(smtp.username, smtp.password)
    return client


def send_due(db: Database, smtp: SmtpSettings, now: datetime | None = None,
             *, limit: int = 50, blobs: BlobStore | None = None) -> tuple[int, int]:
    """Send the messages that are due; return (sent, failed attempts)."""
    now = now or utcnow()
    with db.transaction() as session:
        due = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id).limit(limit)))
        for message in due:
            message.status = "sending"
        cabinet = session.get(Cabinet, 1)
        cabinet_name = cabinet.name if cabinet else "Liasse"
    if not due:
        return 0, 0
    sent = failed = 0
    client = None
    try:
        client = _connect(smtp)
    except (OSError, smtplib.SMTPException) as exc:
        _failed(db, smtp, [m.id for m in due], f"connexion impossible : {exc}", now)
        return 0, len(due)
    try:
        for message in due:
            try:
                client.send_message(build_message(message, smtp, cabinet_name, blobs))
            except (OSError, smtplib.SMTPException) as exc:
                _failed(db, smtp, [message.id], str(exc), now)
                failed += 1
                if isinstance(exc, OSError | smtplib.SMTPServerDisconnected):
                    remaining = [m.id for m in due[due.index(message) + 1:]]
                    _release(db, remaining)
                    break
                continue
            with db.transaction() as session:
                session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id)
                                .values(status="sent", sent_at=utcnow(), last_error=""))
            sent += 1
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return sent, failed


def _release(db: Database, ids: list[int]) -> None:
    if ids:
        with db.transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                            .values(status="pending"))


def _failed(db: Database, smtp: SmtpSettings, ids: list[int], error: str,
            now: datetime) -> None:
    with db.transaction() as session:
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids))):
            message.attempts += 1
            message.last_error = error[:500]
            if message.attempts >= smtp.max_attempts:
                message.status = "failed"
                log.error("mail %d to %s abandoned after %d attempts: %s", message.id,
                          message.recipient, message.attempts, error)
            else:
                message.status = "pending"
                message.next_attempt_at = now + backoff(message.attempts,
                                                        smtp.retry_base_seconds)
                log.warning("mail %d to %s not sent (attempt %d): %s", message.id,
                            message.recipient, message.attempts, error)
