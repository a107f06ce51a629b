"""How a document's body is handed to a browser, on every channel (the drive's GET, the web
app's downloads and zips; next the invoice PDFs and the feeds' enclosures): deposited
documents are untrusted content and must never run in the app's origin.

- `X-Content-Type-Options: nosniff`: the browser keeps the announced type;
- `Content-Security-Policy: sandbox`: a body opened anyway is a unique, scriptless origin
  (no cookie, no access to the app's pages);
- `Content-Disposition: attachment` unless the type is inert when shown (images but SVG,
  plain text): an HTML, SVG or XML document is downloaded, never rendered.
"""

from __future__ import annotations

import functools
import mimetypes
import re
import unicodedata
from urllib.parse import quote

SANDBOX = ("sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; "
           "style-src 'unsafe-inline'")
INERT_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp",
                         "text/plain"})


def content_type(name: str) -> str:
    """The type a document is served with, from its name's extension."""
    return _content_type(name.rpartition(".")[2].lower() if "." in name else "")


@functools.lru_cache(maxsize=1024)
def _content_type(extension: str) -> str:
    return mimetypes.guess_type(f"x.{extension}")[0] or "application/octet-stream"


def content_disposition(filename: str, *, inline: bool = False) -> str:
    """`attachment` (or `inline`) with an ASCII fallback and the exact name in RFC 5987
    `filename*`."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9 ._()-]", "_", fallback).strip() or "document"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@functools.lru_cache(maxsize=4096)  # the drive's GETs ask it again and again
def body_headers(filename: str, mimetype: str, *, inline: bool = True
                 ) -> tuple[tuple[str, str], ...]:
    """The headers that go with a document's body. `inline`: show an inert type in the
    browser rather than download it (the drive's links); the web app always downloads."""
    shown = inline and mimetype.split(";", 1)[0].strip().lower() in INERT_TYPES
    return (("Content-Disposition", content_disposition(filename, inline=shown)),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", SANDBOX))
