"""Form helpers: values kept as typed, errors shown next to their field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import request
from werkzeug.routing import IntegerConverter

from config.numbers import MAX_ID, whole_number


def parse_id(text: str | None) -> int | None:
    """A database id sent by a form, or None: digits (ASCII: "²".isdigit() is true) of a
    value an id column can hold (a larger one would fail in the database, not be absent)."""
    return None if text is None else whole_number(text, MAX_ID, lowest=1)


# What browsers drop from a URL before reading it (WHATWG URL: tab and newlines anywhere,
# C0 controls and spaces at both ends): a check on the raw text would be fooled by
# "/\t/evil.example/", which a browser reads as "//evil.example/".
_DROPPED = re.compile("[\t\n\r]")


def local_url(target: str | None) -> str | None:
    """`target` if it is a path of this site (to go back to after a form), else None: no
    scheme, no other host ("//host", "/\\host"), no control character."""
    if not target:
        return None
    seen = _DROPPED.sub("", target).strip("\x00- ")
    if not seen.startswith("/") or seen[1:2] in ("/", "\\") or "\\" in seen or \
            any(ord(c) < 0x20 or ord(c) == 0x7F for c in seen):
        return None
    return seen


class IdConverter(IntegerConverter):
    """`<int:...>` in a route: a number no id column can hold is no page (404)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


@dataclass
class Form:
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_request(cls, *names: str) -> Form:
        return cls({name: request.form.get(name, "").strip() for name in names})

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name or "_", message)

    @property
    def ok(self) -> bool:
        return not self.errors
