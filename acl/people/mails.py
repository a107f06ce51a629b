"""The firm's mails to people about their account (an invitation, a confirmation code):
French, in the firm's colour, with its logo and name, a plain-text part and an HTML part.
They go through the outbox (`acl.events.outbox`), sent by the worker: with no SMTP server
configured they wait there."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from acl.events.models import OutboxMessage
from acl.people.models import Cabinet, User


@dataclass(frozen=True)
class Paragraph:
    text: str
    link: str = ""  # a URL shown after the text (a button in the HTML part)
    code: str = ""  # a code to type, shown large


def _one_line(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def account_mail(cabinet: Cabinet | None, user: User, recipient: str, subject: str,
                 paragraphs: list[Paragraph], base_url: str = "") -> OutboxMessage:
    """A mail to `recipient` (the user's address, or the one being confirmed), not yet added
    to the session."""
    name = _one_line(cabinet.name) if cabinet else "Liasse"
    colour = cabinet.colour if cabinet else "#1f4e79"
    logo = f"{base_url.rstrip('/')}/logo" if base_url and cabinet and cabinet.logo else ""
    text = [f"Bonjour {_one_line(user.display_name)},", ""]
    html = ['<div style="font-family:sans-serif;max-width:36em">'
            f'<div style="background:{escape(colour)};color:#fff;padding:12px 16px;'
            'font-weight:bold">'
            + (f'<img src="{escape(logo)}" alt="" style="max-height:40px;vertical-align:middle;'
               'margin-right:12px;background:#fff;padding:2px">' if logo else "")
            + f"{escape(name)}</div>",
            f"<p>Bonjour {escape(_one_line(user.display_name))},</p>"]
    for paragraph in paragraphs:
        text.append(paragraph.text)
        html.append(f"<p>{escape(paragraph.text)}</p>")
        if paragraph.code:
            text.append(f"    {paragraph.code}")
            html.append(f'<p style="font-size:200%;letter-spacing:.2em;font-weight:bold">'
                        f"{escape(paragraph.code)}</p>")
        if paragraph.link:
            text.append(paragraph.link)
            html.append(f'<p><a href="{escape(paragraph.link)}" style="background:'
                        f'{escape(colour)};color:#fff;padding:8px 16px;text-decoration:none">'
                        f"Ouvrir le lien</a><br><small>{escape(paragraph.link)}</small></p>")
        text.append("")
    text.append(f"— {name}")
    html.append(f'<p style="color:#555">— {escape(name)}</p></div>')
    return OutboxMessage(recipient=recipient, recipient_id=user.id,
                         subject=_one_line(f"[{name}] {subject}")[:250],
                         text_body="\n".join(text) + "\n", html_body="".join(html))
