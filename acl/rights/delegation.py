"""Who may administer whom: pure rules, in the seed's words (../shared/seeds/000).

"Lors de l'installation de la plateforme pour le cabinet le compte du correspondant au sein
du cabinet est créé. Par la suite ce dernier crée les comptes de ses associés. Chaque associé
peut créer les comptes de ses assistants. Lors de la création du compte de l'entreprise, le
compte de l'interlocuteur du cabinet au sein de l'entreprise est créé. Par la suite, ce
dernier crée les comptes des utilisateurs au sein de l'entreprise, et décide des dossiers
auxquels ils auront accès."

Nobody grants more than they hold: a folder right given is bounded by the giver's own right
as computed by the one permission function's `folder_level`.

Onboarding (seed 000: the firm creates the company accounts from its Excel model at
start-up): in the act that creates a company — an import holding the company and its people —
its creator (the correspondant or an associé) also creates its utilisateurs and gives them
their folders (`Principal.onboarding`). Once the company exists, its utilisateurs are the
interlocuteur's to create: the firm creates none afterwards.
"""

from __future__ import annotations

from acl.rights.models import Level, Role, Service, Side
from acl.rights.policy import ALLOW, Decision, Principal, folder_level, has_service, reaches

# Which role may create which accounts directly (interlocuteurs come with their company).
CREATABLE = {
    Role.CORRESPONDANT: frozenset({Role.ASSOCIE, Role.ASSISTANT}),
    Role.ASSOCIE: frozenset({Role.ASSISTANT}),
    Role.INTERLOCUTEUR: frozenset({Role.UTILISATEUR}),
}

# Roles that hold per-folder habilitations (the others hold fixed full rights).
GRANTABLE_ROLES = frozenset({Role.ASSISTANT, Role.UTILISATEUR})


def _deny(reason: str) -> Decision:
    return Decision(False, reason)


DISCONNECTED = ("Le compte de votre entreprise est déconnecté par le cabinet : son "
                "administration est suspendue.")


def _closed(actor: Principal) -> Decision | None:
    """Why the actor administers nobody now: a disabled account, or a company side account
    of a disconnected company (closed to its users, administration included)."""
    if not actor.active:
        return _deny("Votre compte est désactivé.")
    if actor.side == Side.COMPANY and not actor.company_active:
        return _deny(DISCONNECTED)
    return None


def may_create_user(actor: Principal, role: Role, company_id: int | None) -> Decision:
    if (closed := _closed(actor)) is not None:
        return closed
    if role == Role.CORRESPONDANT:
        return _deny("Le correspondant est créé à l'installation ; il n'y en a qu'un.")
    if role == Role.INTERLOCUTEUR:
        return _deny("L'interlocuteur est créé avec le compte de son entreprise.")
    if role == Role.UTILISATEUR and company_id is not None and company_id in actor.onboarding:
        return ALLOW
    if role == Role.UTILISATEUR and actor.role in (Role.CORRESPONDANT, Role.ASSOCIE):
        return _deny("Les utilisateurs d'une entreprise existante sont créés par son "
                     "interlocuteur ; le cabinet les crée seulement dans l'import qui crée "
                     "l'entreprise.")
    if role not in CREATABLE.get(actor.role, frozenset()):
        return _deny(f"Un compte « {actor.role.value} » ne peut pas créer de compte "
                     f"« {role.value} ».")
    if role.side == Side.COMPANY and company_id != actor.company_id:
        return _deny("Vous ne pouvez créer des utilisateurs que pour votre entreprise.")
    return ALLOW


def may_create_company(actor: Principal, portfolio_id: int | None) -> Decision:
    if not actor.active:
        return _deny("Votre compte est désactivé.")
    if actor.role == Role.CORRESPONDANT:
        return ALLOW
    if actor.role != Role.ASSOCIE:
        return _deny("Seuls le correspondant et les associés créent des entreprises.")
    if portfolio_id is None:
        return _deny("Indiquez l'un de vos portefeuilles : sans lui, la nouvelle entreprise "
                     "vous serait inaccessible.")
    if portfolio_id not in actor.portfolio_ids:
        return _deny("Ce portefeuille n'est pas l'un des vôtres.")
    return ALLOW


def may_edit_company(actor: Principal, company_id: int) -> Decision:
    """Edit, disconnect, set the protection date."""
    if not actor.active:
        return _deny("Votre compte est désactivé.")
    if actor.role not in (Role.CORRESPONDANT, Role.ASSOCIE):
        return _deny("Seuls le correspondant et les associés administrent les entreprises.")
    if not reaches(actor, company_id):
        return _deny("Entreprise introuvable.")
    return ALLOW


def may_manage_user(actor: Principal, target: Principal) -> Decision:
    """Disable, reset the password of, or grant rights to `target` (loaded with its
    portfolios: an associé's reach over an assistant depends on them)."""
    if (closed := _closed(actor)) is not None:
        return closed
    if actor.user_id == target.user_id:
        return _deny("Vous ne pouvez pas administrer votre propre compte.")
    if actor.role == Role.CORRESPONDANT:
        return ALLOW
    if target.role == Role.UTILISATEUR and target.company_id in actor.onboarding:
        return ALLOW  # the people of a company set up in the same act
    if actor.role == Role.ASSOCIE:
        if target.role == Role.ASSISTANT:
            # His own assistants: they share a portfolio with him (or are in none yet), and
            # reach no company he does not: taking over another's assistant would open
            # companies outside his portfolios.
            if not target.portfolio_company_ids <= actor.portfolio_company_ids:
                return _deny("Cet assistant travaille aussi sur des entreprises hors de vos "
                             "portefeuilles : le correspondant l'administre.")
            if target.portfolio_ids and not target.portfolio_ids & actor.portfolio_ids:
                return _deny("Cet assistant n'est dans aucun de vos portefeuilles.")
            return ALLOW
        if target.role == Role.INTERLOCUTEUR and target.company_id is not None \
                and reaches(actor, target.company_id):
            return ALLOW
        return _deny("Un associé administre les assistants et les interlocuteurs de ses "
                     "entreprises.")
    if actor.role == Role.INTERLOCUTEUR:
        if target.role == Role.UTILISATEUR and target.company_id == actor.company_id:
            return ALLOW
        return _deny("Un interlocuteur administre les utilisateurs de son entreprise.")
    return _deny(f"Un compte « {actor.role.value} » n'administre aucun compte.")


def may_remove_user(actor: Principal, target: Principal) -> Decision:
    """Remove an account (kept for the history that names it, closed for good): whoever
    manages it, but not an interlocuteur, who leaves with his company (its résiliation)."""
    managed = may_manage_user(actor, target)
    if not managed:
        return managed
    if target.role == Role.INTERLOCUTEUR:
        return _deny("L'interlocuteur ne se supprime pas : il part avec son entreprise, "
                     "quand le cabinet la résilie (désactivez son compte en attendant).")
    return ALLOW


def may_close_company(actor: Principal, company_id: int) -> Decision:
    """"Résilier" a client (seed 003), the counterpart of creating it: its creators, the
    correspondant and the associés of its portfolios."""
    if not actor.active:
        return _deny("Votre compte est désactivé.")
    if actor.role not in (Role.CORRESPONDANT, Role.ASSOCIE):
        return _deny("Seuls le correspondant et les associés résilient une entreprise.")
    if not reaches(actor, company_id):
        return _deny("Entreprise introuvable.")
    return ALLOW


def may_grant(actor: Principal, target: Principal, company_id: int, folder: str,
              level: Level) -> Decision:
    managed = may_manage_user(actor, target)
    if not managed:
        return managed
    if not reaches(actor, company_id):
        # Not even a revocation: a company out of the giver's reach is not his to administer.
        return _deny("Entreprise introuvable.")
    if target.role not in GRANTABLE_ROLES:
        return _deny(f"Un compte « {target.role.value} » a des droits fixes sur ses entreprises.")
    if not reaches(target, company_id):
        if target.role == Role.ASSISTANT:
            return _deny("Cet assistant n'est dans aucun portefeuille contenant cette "
                         "entreprise.")
        return _deny("Cet utilisateur n'appartient pas à cette entreprise.")
    held = folder_level(actor, company_id, folder)
    if level > held:
        return _deny(f"Vous ne pouvez pas accorder « {level.label} » sur « {folder} » : "
                     f"vous n'y avez que « {held.label} ».")
    return ALLOW


def may_grant_service(actor: Principal, target: Principal, company_id: int,
                      service: Service, granted: bool) -> Decision:
    managed = may_manage_user(actor, target)
    if not managed:
        return managed
    if target.role != Role.UTILISATEUR:
        return _deny("Messagerie et facturation se règlent pour les utilisateurs d'une "
                     "entreprise.")
    if not reaches(target, company_id):
        return _deny("Cet utilisateur n'appartient pas à cette entreprise.")
    if granted and not has_service(actor, company_id, service):
        return _deny(f"Vous ne pouvez pas accorder la {service.value} : vous ne l'avez pas.")
    return ALLOW


def may_manage_portfolios(actor: Principal) -> Decision:
    """Create, rename, delete portfolios."""
    if actor.active and actor.role == Role.CORRESPONDANT:
        return ALLOW
    return _deny("Seul le correspondant crée, renomme et supprime les portefeuilles.")


def may_change_portfolio_company(actor: Principal, portfolio_id: int,
                                 company_id: int) -> Decision:
    if actor.active and actor.role == Role.CORRESPONDANT:
        return ALLOW
    if not actor.active or actor.role != Role.ASSOCIE:
        return _deny("Seuls le correspondant et les associés composent les portefeuilles.")
    if portfolio_id not in actor.portfolio_ids:
        return _deny("Ce portefeuille n'est pas l'un des vôtres.")
    if not reaches(actor, company_id):
        return _deny("Entreprise introuvable.")
    return ALLOW


def may_change_portfolio_member(actor: Principal, portfolio_id: int,
                                member: Principal) -> Decision:
    if member.side != Side.CABINET:
        return _deny("Seuls les membres du cabinet appartiennent à des portefeuilles.")
    if member.role == Role.CORRESPONDANT:
        return _deny("Le correspondant accède déjà à toutes les entreprises.")
    if actor.active and actor.role == Role.CORRESPONDANT:
        return ALLOW
    if not actor.active or actor.role != Role.ASSOCIE:
        return _deny("Seuls le correspondant et les associés composent les portefeuilles.")
    if member.role != Role.ASSISTANT:
        return _deny("Un associé place des assistants dans ses portefeuilles.")
    if portfolio_id not in actor.portfolio_ids:
        return _deny("Ce portefeuille n'est pas l'un des vôtres.")
    return ALLOW


def may_break_locks(actor: Principal, company_id: int) -> Decision:
    """See and break the WebDAV locks of a company's documents (a client that died with a
    document open): the firm's correspondant and associés, on the companies they reach."""
    if not actor.active or actor.role not in (Role.CORRESPONDANT, Role.ASSOCIE):
        return _deny("Seuls le correspondant et les associés lèvent les verrous des documents.")
    if not reaches(actor, company_id):
        return _deny("Entreprise introuvable.")
    return ALLOW


def may_maintain_storage(actor: Principal) -> Decision:
    """Acts on every company's documents at once: `liasse trash purge`, `liasse fsck`."""
    if actor.active and actor.role == Role.CORRESPONDANT:
        return ALLOW
    return _deny("La maintenance du stockage (corbeille de toutes les entreprises, contrôle "
                 "d'intégrité) est réservée au correspondant.")


def may_read_audit(actor: Principal) -> Decision:
    if actor.active and actor.role in (Role.CORRESPONDANT, Role.ASSOCIE):
        return ALLOW
    return _deny("Le journal d'audit est réservé au correspondant et aux associés.")


def may_read_outbox(actor: Principal) -> Decision:
    """The mails sent or waiting: as the audit log (they name addressees and subjects)."""
    if may_read_audit(actor):
        return ALLOW
    return _deny("La file d'envoi des e-mails est réservée au correspondant et aux associés.")


def may_edit_cabinet(actor: Principal) -> Decision:
    if actor.active and actor.role == Role.CORRESPONDANT:
        return ALLOW
    return _deny("Seul le correspondant modifie la fiche du cabinet.")
