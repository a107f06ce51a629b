"""Domain errors raised by the services and translated at each edge (drive, web, CLI)."""

from __future__ import annotations


class Refused(Exception):
    """An operation refused; `reason` is one French sentence meant for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermissionDenied(Refused):
    """The actor may not do this; carries what was attempted so the refusal can be audited."""

    def __init__(self, reason: str, *, action: str = "", target: str = "",
                 company_id: int | None = None) -> None:
        super().__init__(reason)
        self.action = action
        self.target = target
        self.company_id = company_id


class InvalidInput(Refused):
    """Input that breaks a rule (format, uniqueness, password policy...)."""

    def __init__(self, reason: str, *, field: str = "") -> None:
        super().__init__(reason)
        self.field = field


class NotFound(Refused):
    """Something that does not exist, or that the actor may not know exists."""
