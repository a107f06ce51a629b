"""Domain errors raised by the services and translated at each edge (drive, web, CLI).

Each refusal carries one French sentence (`reason`) and the HTTP `status` that the drive and
the web app answer with: the one mapping from a refusal to a status. The CLI prints the
sentence and exits with 1.
"""

from __future__ import annotations

import errno
import re


class Refused(Exception):
    """An operation refused; `reason` is one French sentence meant for the user.

    A refusal that names the administrative `action` attempted is written to the audit log
    by `acl.rights.audit.admin_transaction`.
    """

    status = 400

    def __init__(self, reason: str, *, action: str = "", target: str = "",
                 company_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.action = action
        self.target = target
        self.company_id = company_id


class PermissionDenied(Refused):
    """The actor may not do this (audited when `action` names what was attempted)."""

    status = 403


class InvalidInput(Refused):
    """Input that breaks a rule (format, uniqueness, password policy...)."""

    status = 400

    def __init__(self, reason: str, *, field: str = "", **audit) -> None:
        super().__init__(reason, **audit)
        self.field = field


class NameTaken(InvalidInput):
    """A name already used in its folder (WebDAV answers some of these 405: RFC 4918 §9.3.1,
    MKCOL on a mapped URL, and WsgiDAV's PUT on a collection)."""


class NotFound(Refused):
    """Something that does not exist, or that the actor may not know exists."""

    status = 404


class Conflict(Refused):
    """The state changed under the operation (a folder trashed meanwhile): try again."""

    status = 409


class Locked(Refused):
    """Someone else's lock covers the target."""

    status = 423


class TooLarge(Refused):
    """A document over the maximum upload size."""

    status = 413


class OverQuota(Refused):
    """A deposit that would exceed the company's quota (RFC 4918 §11.5: 507)."""

    status = 507


DISK_FULL = "Le serveur n'a plus d'espace disque libre."


class DiskFull(Refused):
    """The server's disk has no room left for a deposit."""

    status = 507

    def __init__(self) -> None:
        super().__init__(f"{DISK_FULL} Rien n'a été déposé.")


class StorageUnavailable(Exception):
    """The storage of the bodies (the S3 bucket) is unreachable or refuses for a moment: not a
    refusal of the user's request but the server's trouble, answered 503 with Retry-After by
    every edge (nothing was filed: a body is stored before the row that points at it)."""

    reason = ("Stockage des documents momentanément injoignable : rien n'a été enregistré, "
              "réessayez dans un instant.")

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class IncompleteBody(InvalidInput):
    """An upload that ended before the length it announced (the client went away)."""

    def __init__(self) -> None:
        super().__init__("Le corps de la requête est incomplet : l'envoi s'est interrompu, "
                         "rien n'a été déposé.")


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


# What SQLite and PostgreSQL say (in English) when a database cannot be used, in French:
# (a pattern of the driver's text, the reason). The first that matches is given.
_DATABASE_REASONS = (
    (r"database is locked", "elle est occupée par une autre écriture, réessayez"),
    (r"unable to open database file", "son fichier ne peut pas être ouvert"),
    (r"readonly database", "elle est en lecture seule"),
    (r"database or disk is full", "disque plein"),
    (r"disk i/o error", "erreur d'entrée-sortie du disque"),
    (r"file is not a database", "ce fichier n'est pas une base de données"),
    (r"database disk image is malformed", "son fichier est endommagé"),
    (r'database "([^"]*)" does not exist',
     "la base « {0} » n'existe pas sur le serveur PostgreSQL"),
    (r'role "([^"]*)" does not exist', "le rôle PostgreSQL « {0} » n'existe pas"),
    (r"password authentication failed", "identifiant ou mot de passe refusé par PostgreSQL"),
    (r"no password supplied", "PostgreSQL demande un mot de passe"),
    (r"could not translate host name|name or service not known",
     "nom d'hôte du serveur PostgreSQL inconnu"),
    (r"connection refused", "aucun serveur PostgreSQL ne répond à cette adresse"),
    (r"timeout expired|timed out", "le serveur PostgreSQL n'a pas répondu à temps"),
    (r"too many connections|remaining connection slots",
     "le serveur PostgreSQL n'accepte plus de connexions"),
)


def describe_database_error(driver_error: BaseException) -> str:
    """Why the database cannot be used, in French when the driver's (English) text is one of
    the usual ones; else that text, on one line."""
    text = " ".join(str(driver_error).split())  # PostgreSQL's reasons span several lines
    for pattern, reason in _DATABASE_REASONS:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return reason.format(*found.groups())
    return text
