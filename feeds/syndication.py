"""RSS 2.0 and Atom 1.0 documents of a person's events, with feedgen.

Pure rendering: the entries come from `acl.events.feed.recent_entries`, already filtered by the
reader's rights. Titles are French sentences of one line ("Facture-12.pdf déposée dans Achats
par martin"); feedgen (lxml) escapes markup, so a name holding `<b>` or `&` stays text. A
message's text is not copied into the feed: feed readers keep what they fetch (some in a
cloud), and a message withdrawn in Liasse could not be withdrawn from them; the item links
to the conversation. No enclosure either: a document's body is only ever served by the web
app and the drive, with their delivery headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from feedgen.feed import FeedGenerator

from acl.events.feed import FeedEntry
from config.dates import day

GENERATOR = "Liasse"


@dataclass(frozen=True)
class Channel:
    """What the feed as a whole says of itself."""

    title: str
    description: str
    site_url: str  # the web app's page the feed is about
    self_url: str  # this feed's own URL (without its secret for the Atom `id`)
    feed_id: str
    updated: datetime


def one_line(text: str) -> str:
    """No line break nor control character reaches a title (nor, through it, a header)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def title_of(entry: FeedEntry) -> str:
    who = entry.actor or "le cabinet"
    name = one_line(entry.name)
    folder = one_line(entry.folder)
    if entry.kind == "deposited":
        what = "Nouvelle version de " + name if entry.detail.get("replaced") else name
        return f"{what} déposée dans {folder} par {who}"
    if entry.kind == "received":
        return f"{name} réceptionnée par {who} ({folder})"
    if entry.kind == "message:posted":
        return f"Nouveau message de {who} : {one_line(entry.path)}"
    if entry.kind == "calendar:alert_mailed":
        on = entry.detail.get("on")
        when = f" le {day(date.fromisoformat(on))}" if isinstance(on, str) else ""
        return f"Rappel : {one_line(entry.path)}{when}"
    return one_line(entry.path) or entry.kind


def link_of(entry: FeedEntry, base_url: str) -> str:
    if entry.kind == "message:posted" and isinstance(entry.detail.get("thread"), int):
        return f"{base_url}/messagerie/{entry.company_id}/fil/{entry.detail['thread']}"
    if entry.kind.startswith("calendar:"):
        on = entry.detail.get("on")
        suffix = f"&du={on}" if isinstance(on, str) and len(on) == 10 else ""
        return f"{base_url}/calendrier/{entry.company_id}?vue=liste{suffix}"
    if entry.node_id is not None:
        return f"{base_url}/document/{entry.node_id}"
    return f"{base_url}/tableau-de-bord"


def entry_id(entry: FeedEntry) -> str:
    """Stable across fetches and renames: the event's number in the stream."""
    return f"urn:liasse:evenement:{entry.event_id}"


def summary_of(entry: FeedEntry) -> str:
    company = one_line(entry.company_name)
    if entry.kind in ("deposited", "received"):
        where = one_line(entry.path.split("/", 1)[-1]) if "/" in entry.path else entry.name
        by = f" par {one_line(entry.actor_name)} ({entry.actor})" if entry.actor else ""
        verb = "Déposé" if entry.kind == "deposited" else "Réceptionné"
        return f"{company} — {where}. {verb}{by}."
    if entry.kind == "message:posted":
        return (f"{company} — conversation « {one_line(entry.path)} ». Ouvrez-la dans Liasse "
                "pour lire le message.")
    return f"{company} — calendrier fiscal."


def render(channel: Channel, entries: Sequence[FeedEntry], base_url: str,
           fmt: str) -> bytes:
    """`fmt`: "rss" or "atom"; entries newest first."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.id(channel.feed_id)
    fg.title(one_line(channel.title))
    fg.subtitle(one_line(channel.description))
    fg.author({"name": GENERATOR})
    fg.link(href=channel.site_url, rel="alternate")
    fg.link(href=channel.self_url, rel="self")
    fg.language("fr")
    fg.generator(GENERATOR)
    fg.updated(channel.updated)
    fg.lastBuildDate(channel.updated)
    fg.ttl(15)
    for entry in reversed(entries):  # feedgen puts each new entry first
        fe = fg.add_entry()
        fe.id(entry_id(entry))
        fe.guid(entry_id(entry), permalink=False)
        fe.title(title_of(entry))
        fe.link(href=link_of(entry, base_url))
        fe.description(summary_of(entry))
        fe.published(entry.at)
        fe.updated(entry.at)
        fe.category([{"term": one_line(entry.company_name)}]
                    + ([{"term": one_line(entry.folder)}] if entry.folder else []))
        if entry.actor:
            fe.dc.dc_creator(entry.actor)
    return fg.atom_str(pretty=False) if fmt == "atom" else fg.rss_str(pretty=False)
