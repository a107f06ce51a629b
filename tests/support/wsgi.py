"""The drive called in-process, as the WSGI server would call it: for tests that compare
two ways of answering the same request, or that swap a part of the drive."""

from __future__ import annotations

import base64
import io


class InProcessDrive:
    """`drive(method, path, body, user=..., **headers)` -> (status, body); `.headers` holds
    the last answer's headers."""

    def __init__(self, app, password: str) -> None:
        self.app = app
        self.password = password
        self.headers: list[tuple[str, str]] = []

    def __call__(self, method: str, path: str, body: bytes = b"", user: str = "expert",
                 content_length: int | None = None, **headers: str) -> tuple[str, bytes]:
        credentials = base64.b64encode(f"{user}:{self.password}".encode()).decode()
        wsgi_path = path.encode("utf-8").decode("latin-1")  # PEP 3333 strings
        environ = {"REQUEST_METHOD": method, "PATH_INFO": wsgi_path, "SCRIPT_NAME": "/dav",
                   "wsgi.input": io.BytesIO(body),
                   "CONTENT_LENGTH": str(len(body) if content_length is None else content_length),
                   "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                   "HTTP_HOST": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
                   "HTTP_AUTHORIZATION": f"Basic {credentials}", "wsgi.errors": io.StringIO()}
        environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
        status: list[str] = []

        def start_response(s, h, exc_info=None):
            status.append(s)
            self.headers = list(h)

        result = self.app(environ, start_response)
        try:
            body = b"".join(result)  # WsgiDAV may start the response while iterated
            return status[0], body
        finally:
            getattr(result, "close", lambda: None)()
