"""The database out of reach in the middle of a WebDAV request: a 503 with Retry-After, as
everywhere else (acl.db, `Database.unavailable`), not WsgiDAV's 500.

WsgiDAV's ErrorPrinter turns every exception it did not raise itself into a 500. Placed
inside it, this middleware turns the errors that say "database unavailable" (a PostgreSQL
restarting while a chunked PUT's body arrives, whose filing then cannot commit) into the
DAVError that ErrorPrinter answers as it is. The request's transaction was rolled back:
nothing of it is kept, and the client may send it again.
"""

from __future__ import annotations

from wsgidav.dav_error import HTTP_SERVICE_UNAVAILABLE, DAVError
from wsgidav.mw.base_mw import BaseMiddleware

from acl.db import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE


def unavailable_is_503(unavailable: tuple[type[BaseException], ...]) -> type[BaseMiddleware]:
    """A WsgiDAV middleware class (for `middleware_stack`, after ErrorPrinter) for the
    errors `unavailable` of the drive's database."""

    class DatabaseUnavailable(BaseMiddleware):
        def __call__(self, environ, start_response):
            result = None
            try:
                result = self.next_app(environ, start_response)
                yield from result  # GET answers are generators: errors come while iterating
            except unavailable as exc:
                raise DAVError(HTTP_SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE,
                               src_exception=exc,
                               add_headers=[("Retry-After", str(RETRY_AFTER_SECONDS))]) from exc
            finally:
                getattr(result, "close", lambda: None)()

        def is_disabled(self) -> bool:
            return False

    return DatabaseUnavailable
