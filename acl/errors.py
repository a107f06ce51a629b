"""Domain errors raised by the services and translated at each edge (drive, web, CLI)."""

from __future__ import annotations


class Refused(Exception):
    """An operation refused; `reason` is one French sentence meant for the user.

    A refusal that names the administrative `action` attempted is written to the audit log
    by `acl.audit.admin_transaction`.
    """

    def __init__(self, reason: str, *, action: str = "", target: str = "",
                 company_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.action = action
        self.target = target
        self.company_id = company_id


class PermissionDenied(Refused):
    """The actor may not do this (always audited: `action` names what was attempted)."""


class InvalidInput(Refused):
    """Input that breaks a rule (format, uniqueness, password policy...)."""

    def __init__(self, reason: str, *, field: str = "", **audit) -> None:
        super().__init__(reason, **audit)
        self.field = field


class NotFound(Refused):
    """Something that does not exist, or that the actor may not know exists."""
