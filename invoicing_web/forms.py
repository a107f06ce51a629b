"""Form helpers: values kept as typed, errors shown next to their field."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request


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
