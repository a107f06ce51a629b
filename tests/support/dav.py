"""A small WebDAV client on http.client for the end-to-end tests: one keep-alive connection,
requests sent exactly as written, and a reader for multistatus answers."""

from __future__ import annotations

import base64
import http.client
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class Dav:
    """Authenticated as `user` (None: anonymous), or with the given `headers`."""

    def __init__(self, base_url: str, user: str | None = None, password: str = "", *,
                 headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url
        self.address = (parts.hostname, parts.port)
        self.connection = http.client.HTTPConnection(*self.address, timeout=60)
        self.auth = headers if headers is not None else \
            (basic(user, password) if user is not None else {})

    def __call__(self, method: str, target: str, body=None,
                 headers: dict[str, str] | None = None, **kwargs) -> Reply:
        path = urlsplit(target).path if target.startswith("http") else target
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body,
                                        headers={**self.auth, **(headers or {})}, **kwargs)
                response = self.connection.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed the kept-alive connection while it sat idle (its keep-alive
                # timeout): as every HTTP client does, send the request again on a new one.
                # Only a body that can be sent twice (bytes, or none) is retried.
                self.connection.close()
                if attempt == 2 or not (body is None or isinstance(body, bytes | str)):
                    raise
                continue
            return Reply(response.status, response.headers, response.read())
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


def responses(reply: Reply) -> dict[str, dict[str, tuple[str, str]]]:
    """A multistatus as {decoded href: {property (Clark): (propstat status, text)}}."""
    assert reply.status == 207, (reply.status, reply.text)
    found = {}
    for response in ET.fromstring(reply.body).iter("{DAV:}response"):
        href = unquote(response.findtext("{DAV:}href"))
        props = {}
        for propstat in response.iter("{DAV:}propstat"):
            status = propstat.findtext("{DAV:}status")
            for prop in propstat.find("{DAV:}prop"):
                props[prop.tag] = (status, prop.text or "")
        found[href] = props
    return found
