"""Domain errors raised by the services and translated at each edge (drive, web, CLI)."""

from __future__ import annotations

import errno


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


_OS_REASONS = {
    errno.ENOENT: "fichier ou dossier introuvable",
    errno.EACCES: "accès refusé",
    errno.EPERM: "opération non permise",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque atteint",
    errno.ENOTDIR: "un élément du chemin n'est pas un dossier",
    errno.EISDIR: "c'est un dossier",
    errno.EEXIST: "existe déjà",
    errno.ENAMETOOLONG: "nom trop long",
    errno.ENXIO: "ce n'est pas un fichier ordinaire",
    errno.ELOOP: "trop de liens symboliques",
    errno.EIO: "erreur d'entrée-sortie",
}


def describe_os_error(exc: OSError) -> str:
    """Why a file could not be opened, read or written, in French (the system's own text
    is English)."""
    return _OS_REASONS.get(exc.errno or 0,
                           f"erreur système {errno.errorcode.get(exc.errno or 0, exc.errno)}")
