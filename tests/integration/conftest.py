"""Fixtures of the web tests: `app` (the web app on the demo world) and `visit(login)`."""

from support.web import app, visit, visitors  # noqa: F401  (fixtures)
