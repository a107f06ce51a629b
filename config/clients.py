"""The software behind a User-Agent, as a person names it ("Firefox sur Windows",
"Explorateur Windows (lecteur réseau)"), for the download history of a document."""

from __future__ import annotations

import re

# Drive clients first: their User-Agent names them plainly. (pattern, name)
_DRIVE_CLIENTS = (
    (r"Microsoft-WebDAV-MiniRedir", "Explorateur Windows (lecteur réseau)"),
    (r"Microsoft Office|MSOffice|Microsoft-Office", "Microsoft Office"),
    (r"WebDAVFS|WebDAVLib", "Finder (macOS)"),
    (r"liasse-sync", "Synchronisation Liasse"),
    (r"rclone", "rclone"),
    (r"davfs2", "davfs2 (Linux)"),
    (r"cadaver", "cadaver"),
    (r"Cyberduck", "Cyberduck"),
    (r"gvfs|GVFS", "Fichiers (GNOME)"),
    (r"KIO|Dolphin", "Dolphin (KDE)"),
    (r"litmus", "litmus"),
    (r"curl/", "curl"),
    (r"python-requests|Python-urllib|python-httpx", "script Python"),
)
_BROWSERS = (  # order matters: Edge and Opera say "Chrome", Chrome says "Safari"
    (r"Edg(e|A|iOS)?/", "Edge"), (r"OPR/|Opera", "Opera"), (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"), (r"Safari/", "Safari"),
)
_SYSTEMS = (
    (r"Windows", "Windows"), (r"iPhone|iPad|iPod", "iOS"), (r"Android", "Android"),
    (r"Mac OS X|Macintosh", "macOS"), (r"CrOS", "ChromeOS"), (r"Linux|X11", "Linux"),
)


def describe(user_agent: str | None) -> str:
    """"Mozilla/5.0 (Windows NT 10.0; ...) Firefox/128.0" -> "Firefox sur Windows"; an
    unknown client keeps the first word of its User-Agent; none -> "inconnu"."""
    agent = (user_agent or "").strip()
    if not agent:
        return "inconnu"
    for pattern, name in _DRIVE_CLIENTS:
        if re.search(pattern, agent, re.IGNORECASE):
            return name
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, agent)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, agent)), None)
    if browser:
        return f"{browser} sur {system}" if system else browser
    first = agent.split()[0].split("/")[0]
    return first[:40] or "inconnu"
