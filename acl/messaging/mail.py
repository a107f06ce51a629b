"""Messages by mail, through the outbox (an SMTP outage delays them, never fails a page).

Seed 000: "lors de l'envoi, le cabinet choisit les destinataires parmi la liste
d'interlocuteurs désignés de l'entreprise. Dans tous les cas, une copie du message est
conservée sur la plateforme" — the firm picks recipients among the company's users who hold
the messaging right and have an address; and "il est possible de transférer automatiquement
les messages vers des emails de votre choix" — each user forwards every new message of his
companies to addresses he has confirmed by the link sent to them (nobody forwards to an
address he does not own). The mail carries a link to the thread, never a document.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.db import as_utc, utcnow
from acl.errors import InvalidInput, NotFound
from acl.events.models import OutboxMessage
from acl.messaging.models import ForwardAddress, Message, MessageThread
from acl.messaging.threads import may_message
from acl.people.accounts import EMAIL_RE
from acl.people.models import Cabinet, Company, User
from acl.rights.models import Role, Side
from acl.rights.principals import load_principal

CONFIRM_DAYS = 7
MAX_FORWARDS = 5


def one_line(text: str) -> str:
    """Header-safe: no line breaks, no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def designated_recipients(session: Session, company: Company) -> list[User]:
    """The company's interlocutors the firm may mail a message to: its active users who hold
    the messaging right for it and have a valid address."""
    users = session.scalars(select(User).where(
        User.company_id == company.id, User.active,
        User.role.in_((Role.INTERLOCUTEUR.value, Role.UTILISATEUR.value)))
        .order_by(User.role, User.display_name))
    return [u for u in users if u.email and EMAIL_RE.match(u.email)
            and may_message(load_principal(session, u), company)]


def chosen_recipients(session: Session, company: Company, ids: Sequence[int]) -> list[User]:
    allowed = {u.id: u for u in designated_recipients(session, company)}
    unknown = [i for i in ids if i not in allowed]
    if unknown:
        raise InvalidInput("Ce destinataire n'est pas un interlocuteur désigné de "
                           "l'entreprise.", field="recipients")
    return [allowed[i] for i in dict.fromkeys(ids)]


def compose(cabinet: Cabinet | None, company: Company, thread: MessageThread,
            message: Message, author: str, link: str, *, forwarded: bool = False
            ) -> tuple[str, str, str]:
    """(subject, text, html) of a message's mail: French, in the firm's colours."""
    name = one_line(cabinet.name) if cabinet else "Liasse"
    colour = cabinet.colour if cabinet else "#1f4e79"
    subject = one_line(f"[{name}] {company.name} : {thread.subject}")[:250]
    why = ("Vous recevez ce message car vous avez demandé le transfert des messages de la "
           "plateforme vers cette adresse." if forwarded else
           "Le cabinet vous a choisi comme destinataire de ce message.")
    text = (f"Nouveau message de {one_line(author)} ({one_line(company.name)}) :\n\n"
            f"{message.body}\n\nRépondre sur la plateforme : {link}\n\n"
            f"Une copie du message est conservée sur la plateforme. {why}\n\n— {name}\n")
    body = "<br>".join(escape(line) for line in message.body.split("\n"))
    html = (f'<div style="font-family:sans-serif"><div style="background:{escape(colour)};'
            f'color:#fff;padding:12px 16px;font-weight:bold">{escape(name)}</div>'
            f"<p>Nouveau message de <strong>{escape(one_line(author))}</strong> "
            f"({escape(one_line(company.name))}) — <em>{escape(thread.subject)}</em> :</p>"
            f'<blockquote style="border-left:3px solid {escape(colour)};padding-left:12px">'
            f"{body}</blockquote>"
            f'<p><a href="{escape(link)}">Répondre sur la plateforme</a></p>'
            f'<p style="color:#555;font-size:90%">Une copie du message est conservée sur la '
            f"plateforme. {escape(why)}</p></div>")
    return subject, text, html


def thread_link(base_url: str, company: Company, thread: MessageThread) -> str:
    return f"{base_url}/messagerie/{company.id}/fil/{thread.id}"


def queue_mails(session: Session, company: Company, thread: MessageThread, message: Message,
                author: User, recipients: Sequence[User], base_url: str) -> int:
    """Queue the message's mails: to the recipients the firm picked (firm side only), and to
    the confirmed forward addresses of everyone else who may read it. Returns mails queued."""
    cabinet = session.get(Cabinet, 1)
    link = thread_link(base_url, company, thread)
    queued: set[str] = set()

    def add(address: str, user: User | None, forwarded: bool) -> None:
        if address.lower() in queued:
            return
        queued.add(address.lower())
        subject, text, html = compose(cabinet, company, thread, message, author.display_name,
                                      link, forwarded=forwarded)
        session.add(OutboxMessage(recipient=address, recipient_id=user.id if user else None,
                                  subject=subject, text_body=text, html_body=html))

    if recipients and author.side != Side.CABINET.value:
        raise InvalidInput("Seul le cabinet choisit des destinataires par e-mail.",
                           field="recipients")
    for user in recipients:
        add(user.email, user, False)
    forwards = session.execute(select(ForwardAddress, User).join(
        User, User.id == ForwardAddress.user_id).where(
        ForwardAddress.confirmed_at.is_not(None), User.active, User.id != author.id)).all()
    for forward, user in forwards:
        if may_message(load_principal(session, user), company):
            add(forward.address, user, True)
    return len(queued)


# --- forward addresses --------------------------------------------------------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def forward_addresses(session: Session, user: User) -> list[ForwardAddress]:
    return list(session.scalars(select(ForwardAddress).where(
        ForwardAddress.user_id == user.id).order_by(ForwardAddress.id)))


def add_forward(session: Session, user: User, address: str, base_url: str) -> ForwardAddress:
    """Record an address to confirm and mail it the confirmation link."""
    address = address.strip()
    if len(address) > 254 or not EMAIL_RE.match(address):
        raise InvalidInput(f"Adresse e-mail invalide : « {address} ».", field="address")
    existing = forward_addresses(session, user)
    if any(f.address.lower() == address.lower() for f in existing):
        raise InvalidInput("Cette adresse est déjà dans votre liste.", field="address")
    if len(existing) >= MAX_FORWARDS:
        raise InvalidInput(f"{MAX_FORWARDS} adresses de transfert au plus.", field="address")
    token = secrets.token_urlsafe(32)
    forward = ForwardAddress(user_id=user.id, address=address, token_hash=_hash(token))
    session.add(forward)
    cabinet = session.get(Cabinet, 1)
    name = one_line(cabinet.name) if cabinet else "Liasse"
    link = f"{base_url}/messagerie/transferts/confirmer/{token}"
    session.add(OutboxMessage(
        recipient=address, recipient_id=user.id,
        subject=f"[{name}] Confirmez le transfert des messages vers cette adresse",
        text_body=(f"Bonjour,\n\n{one_line(user.display_name)} demande que les messages de la "
                   f"plateforme de {name} soient transférés vers cette adresse.\n\nPour "
                   f"l'accepter, ouvrez ce lien dans les {CONFIRM_DAYS} jours :\n{link}\n\n"
                   "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : "
                   f"rien ne sera transféré.\n\n— {name}\n"),
        html_body=(f'<div style="font-family:sans-serif"><p>Bonjour,</p><p>'
                   f"{escape(one_line(user.display_name))} demande que les messages de la "
                   f"plateforme de {escape(name)} soient transférés vers cette adresse.</p>"
                   f'<p><a href="{escape(link)}">Confirmer le transfert</a> (lien valable '
                   f"{CONFIRM_DAYS} jours)</p><p>Si vous n'êtes pas à l'origine de cette "
                   "demande, ignorez ce message : rien ne sera transféré.</p></div>")))
    session.flush()
    return forward


def confirm_forward(session: Session, token: str) -> ForwardAddress:
    forward = session.scalars(select(ForwardAddress).where(
        ForwardAddress.token_hash == _hash(token))).first() if token else None
    if forward is None or (forward.confirmed_at is None and
                           utcnow() - as_utc(forward.created_at) > timedelta(days=CONFIRM_DAYS)):
        raise NotFound("Ce lien de confirmation est inconnu ou a expiré.")
    if forward.confirmed_at is None:
        forward.confirmed_at = utcnow()
    return forward


def remove_forward(session: Session, user: User, forward_id: int) -> None:
    forward = session.get(ForwardAddress, forward_id)
    if forward is None or forward.user_id != user.id:
        raise NotFound("Adresse introuvable.")
    session.delete(forward)
