"""The one permission function: `authorize(principal, action, resource)`.

Pure: it reads only the `Principal` (who, with the rights loaded once per request by
`acl.rights.principals.load_principal`) and the `Resource` (which company, which standard folder,
which document date). The drive, the web app and the feeds all call it; no edge decides an
access by itself.

Rules (../shared/DESIGN.md, "Who is who"):
- the correspondant reaches every company; associés and assistants reach the companies of
  their portfolios; company users reach their own company only;
- on a reached company the default folder right is write for cabinet staff and for the
  interlocuteur, none for a company's utilisateur; an explicit habilitation overrides the
  default of assistants and utilisateurs (the correspondant, associés and interlocuteurs hold
  fixed full rights);
- messaging: cabinet staff and the interlocuteur by default, utilisateurs when granted;
  invoicing: company side only (a company's invoices are private to it); reading it
  (INVOICING_READ: documents, expenses, reports, read-only) is also open to the cabinet staff
  who reach the company while its interlocuteur consents (seeds 001 and 004);
- calendar: everyone who reaches the company sees its calendar; only the firm gives advice
  (fiscal profile, firm events, comments, alerts for the company's users);
- a disconnected company is closed to its own users and read-only for the cabinet;
- documents dated before the company's protection date are read-only for everybody;
- the standard folders themselves cannot be renamed, moved or deleted, and nothing is
  written at a company's root.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from acl.rights.models import Level, Role, Service, Side


class Action(enum.StrEnum):
    READ = "read"  # see, list, open, download
    WRITE = "write"  # deposit, create a folder, rename, move, delete
    MESSAGING = "messaging"
    INVOICING = "invoicing"
    INVOICING_READ = "invoicing-read"  # read a company's invoicing and its reports
    CALENDAR = "calendar"  # see the fiscal calendar, set one's alerts, add one's notes
    CALENDAR_ADVICE = "calendar-advice"  # the firm's: profile, events, comments, alerts


@dataclass(frozen=True)
class Principal:
    """A user with everything the permission function needs, loaded in one go."""

    user_id: int
    login: str
    role: Role
    active: bool = True
    company_id: int | None = None  # company side only
    company_active: bool = True  # company side: whether its company is connected
    portfolio_ids: frozenset[int] = frozenset()
    portfolio_company_ids: frozenset[int] = frozenset()
    folder_levels: Mapping[tuple[int, str], Level] = field(default_factory=dict)
    services: Mapping[tuple[int, Service], bool] = field(default_factory=dict)
    # Companies this principal creates in the act under way (an import of companies with
    # their people): as their creator, the firm sets up their first utilisateurs.
    onboarding: frozenset[int] = frozenset()
    # Cabinet side: the companies whose interlocuteur lets the firm read their invoicing.
    consented: frozenset[int] = frozenset()
    # The role's side, kept with it: every decision asks it (and a property call per
    # question showed in the drive's profile).
    side: Side = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", self.role.side)


@dataclass(frozen=True)
class Resource:
    company_id: int
    company_active: bool = True
    protection_date: date | None = None
    folder: str | None = None  # the standard folder holding the target; None = company root
    is_standard_folder: bool = False  # the target is the standard folder itself
    document_date: date | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)
CLOSED_INVOICING = "L'entreprise n'a pas ouvert sa facturation au cabinet."

# Roles whose folder rights are fixed (an explicit habilitation row does not apply to them).
FULL_RIGHTS_ROLES = frozenset({Role.CORRESPONDANT, Role.ASSOCIE, Role.INTERLOCUTEUR})


def reaches(principal: Principal, company_id: int) -> bool:
    """Whether the company is within the principal's scope at all."""
    if principal.role == Role.CORRESPONDANT:
        return True
    if principal.side == Side.CABINET:
        return company_id in principal.portfolio_company_ids
    return principal.company_id == company_id


def folder_level(principal: Principal, company_id: int, folder: str) -> Level:
    """The right held on a standard folder, before company status and protection date."""
    if not principal.active or not reaches(principal, company_id):
        return Level.NONE
    if principal.role in FULL_RIGHTS_ROLES:
        return Level.WRITE
    default = Level.WRITE if principal.role == Role.ASSISTANT else Level.NONE
    return principal.folder_levels.get((company_id, folder), default)


def has_service(principal: Principal, company_id: int, service: Service) -> bool:
    if not principal.active or not reaches(principal, company_id):
        return False
    if service == Service.INVOICING and principal.side == Side.CABINET:
        return False
    if principal.role in FULL_RIGHTS_ROLES:
        return True
    default = principal.side == Side.CABINET
    return principal.services.get((company_id, service), default)


def authorize(principal: Principal, action: Action, resource: Resource) -> Decision:
    """Decide one access. Every refusal carries a French sentence saying why."""
    if not principal.active:
        return Decision(False, "Ce compte est désactivé.")
    if not reaches(principal, resource.company_id):
        # Same answer as for a company that does not exist: nothing leaks.
        return Decision(False, "Entreprise introuvable.")
    if not resource.company_active:
        if principal.side == Side.COMPANY:
            return Decision(False, "Le compte de cette entreprise est déconnecté.")
        if action not in (Action.READ, Action.INVOICING_READ):
            return Decision(False, "Le compte de cette entreprise est déconnecté : lecture seule.")
    if action == Action.INVOICING_READ:
        if principal.side == Side.CABINET:
            if resource.company_id in principal.consented:
                return ALLOW
            return Decision(False, CLOSED_INVOICING)
        action = Action.INVOICING  # the company's own users: those who may invoice
    if action in (Action.MESSAGING, Action.INVOICING):
        service = Service.MESSAGING if action == Action.MESSAGING else Service.INVOICING
        if has_service(principal, resource.company_id, service):
            return ALLOW
        if service == Service.INVOICING and principal.side == Side.CABINET:
            return Decision(False, "La facturation d'une entreprise lui est réservée.")
        return Decision(False, f"Vous n'avez pas accès à la {service.value} de cette entreprise.")
    if action == Action.CALENDAR:
        return ALLOW
    if action == Action.CALENDAR_ADVICE:
        if principal.side == Side.CABINET:
            return ALLOW
        return Decision(False, "Seul le cabinet peut modifier le profil fiscal, ajouter des "
                               "évènements pour l'entreprise ou les commenter.")
    if resource.folder is None:
        if action == Action.READ:
            return ALLOW
        return Decision(False, "Rien ne peut être déposé ni modifié à la racine de l'entreprise.")
    level = folder_level(principal, resource.company_id, resource.folder)
    if level == Level.NONE:
        return Decision(False, "Dossier introuvable.")
    if action == Action.READ:
        return ALLOW
    if level < Level.WRITE:
        return Decision(False, f"Vous n'avez qu'un droit de lecture sur « {resource.folder} ».")
    if resource.is_standard_folder:
        return Decision(
            False, "Les dossiers standard ne peuvent être ni renommés, ni déplacés, ni supprimés.")
    if (resource.protection_date is not None and resource.document_date is not None
            and resource.document_date < resource.protection_date):
        return Decision(
            False, "Ce document est antérieur à la date de protection de l'entreprise : "
                   "il est en lecture seule.")
    return ALLOW
