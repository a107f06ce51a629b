"""People administration a firm expects (issue 16, item 5): edit an account's name and
e-mail, remove an account, "résilier" a client. The delegation rules decide
(`acl.rights.delegation`); every act is audited.

A résiliée company (seed 003: "Supprimer un client … Résilier") is closed and kept: nothing
is deleted, the firm reads its documents (a closed company is read-only for the firm, as a
disconnected one, `acl.rights.policy`) and may download them whole as a zip; its accounts are
disabled, so that none of them signs in again. It is refused while someone holds a lock on
one of its documents (the holder is named). Final: it is not reconnected.

A removed account is not deleted: documents, versions, receipts and downloads point at it
and keep its name ("Sophie Secrétaire (compte supprimé)"). It is disabled for good (never
re-enabled: nothing finds it by login any more), its e-mail address is forgotten, it leaves
its portfolios, its pending invitations stop working, and its login is freed for a newcomer:
it becomes "<login>~<id>", which no sign-in accepts (a login never holds "~"). The audit log
keeps the login it had at each act.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.documents import locks
from acl.documents.tree import standard_folders
from acl.errors import InvalidInput, Locked, PermissionDenied
from acl.people.accounts import check_display_name, check_email, grant
from acl.people.models import REMOVED_MARK, Company, CompanyStatus, Invitation, User
from acl.rights import delegation
from acl.rights.audit import Context, record, require
from acl.rights.models import Level
from acl.rights.principals import load_principal


def edit_user(session: Session, ctx: Context, user: User, *, display_name: str | None = None,
              email: str | None = None) -> dict[str, str]:
    """Change the name shown and/or the e-mail address ("" removes it; None: unchanged) of an
    account the actor manages. Returns the changes (audited when any)."""
    target = load_principal(session, user)
    require(delegation.may_manage_user(ctx.principal, target), action="user.update",
            target=user.login, company_id=user.company_id)
    changes: dict[str, str] = {}
    if display_name is not None:
        name = check_display_name(display_name)
        if name != user.display_name:
            changes["name"] = name
    if email is not None:
        address = check_email(email)
        if address != user.email:
            if address and session.scalars(select(User.id).where(
                    func.lower(User.email) == address.lower(), User.id != user.id)).first():
                raise InvalidInput(f"L'adresse « {address} » est déjà celle d'un autre compte.",
                                   field="email")
            changes["email"] = address or ""
    if not changes:
        return changes
    if "name" in changes:
        user.display_name = changes["name"]
    if "email" in changes:
        user.email = changes["email"] or None
    record(session, ctx, "user.update", user.login, company_id=user.company_id,
           detail=changes)
    return changes


def removed_login(user: User) -> str:
    suffix = f"{REMOVED_MARK}{user.id}"
    return user.login[:64 - len(suffix)] + suffix


def remove_user(session: Session, ctx: Context, user: User) -> None:
    """Remove an account (module docstring): kept for the history, closed for good."""
    target = load_principal(session, user)
    require(delegation.may_remove_user(ctx.principal, target), action="user.remove",
            target=user.login, company_id=user.company_id)
    login = user.login
    user.active = False
    user.credentials_version += 1  # sessions and the drive's cached credentials end now
    user.email = None
    user.portfolios.clear()
    session.execute(update(Invitation).where(Invitation.user_id == user.id,
                                             Invitation.used_at.is_(None))
                    .values(expires_at=utcnow()))
    user.login = removed_login(user)
    record(session, ctx, "user.remove", login, company_id=user.company_id,
           detail={"name": user.display_name, "role": user.role})


def close_company(session: Session, ctx: Context, company: Company) -> list[str]:
    """"Résilier" a client (module docstring). Returns the logins of the accounts closed."""
    require(delegation.may_close_company(ctx.principal, company.id), action="company.close",
            target=company.name, company_id=company.id)
    if company.status == CompanyStatus.CLOSED:
        raise InvalidInput(f"« {company.name} » est déjà résiliée.")
    held = locks.listed(session, [locks.root_of(company.folder_name)])
    if held:
        lock = held[0]
        holder = session.scalars(select(User).where(User.login == lock.principal)).first()
        who = f"{holder.display_name} ({lock.principal})" if holder else lock.principal
        others = f" (et {len(held) - 1} autre(s) document(s))" if len(held) > 1 else ""
        raise Locked(f"Résiliation refusée : « {lock.path} » est verrouillé par {who}{others} "
                     "; attendez qu'il le ferme, ou levez le verrou (Administration → "
                     "Verrous), puis recommencez.")
    people = list(session.scalars(select(User).where(User.company_id == company.id,
                                                     User.active.is_(True))
                                  .order_by(User.login)))
    for person in people:
        person.active = False
        person.credentials_version += 1
    company.status = CompanyStatus.CLOSED.value
    record(session, ctx, "company.close", company.name, company_id=company.id,
           detail={"comptes fermés": [person.login for person in people]})
    return [person.login for person in people]


@dataclass(frozen=True)
class CellRefusal:
    user_id: int
    login: str
    folder: str
    reason: str


class BulkRefused(PermissionDenied):
    """A bulk change of rights refused whole: `refusals` names every cell refused."""

    def __init__(self, reason: str, refusals: list[CellRefusal], **audit) -> None:
        super().__init__(reason, **audit)
        self.refusals = refusals


def grant_many(session: Session, ctx: Context, company: Company,
               cells: list[tuple[User, str]], level: Level) -> int:
    """Give `level` on several folders of several accounts of one company at once (a row, a
    column, cells of the rights matrix; seed 004): all or nothing. Each cell is decided as a
    grant of its own (`delegation.may_grant`: nobody gives more than he holds); when any is
    refused, nothing changes and every refused cell is named. Returns the cells granted,
    each audited as a grant, the whole as one entry."""
    folders = standard_folders(session, company.id)
    targets = {}
    refusals: list[CellRefusal] = []
    for user, folder in cells:
        if folder not in folders:
            refusals.append(CellRefusal(user.id, user.login, folder,
                                        f"« {folder} » n'est pas un dossier de {company.name}."))
            continue
        if user.id not in targets:
            targets[user.id] = load_principal(session, user)
        decision = delegation.may_grant(ctx.principal, targets[user.id], company.id, folder,
                                        level)
        if not decision:
            refusals.append(CellRefusal(user.id, user.login, folder, decision.reason))
    if refusals:
        first = refusals[0]
        more = f" (et {len(refusals) - 1} autre(s) case(s))" if len(refusals) > 1 else ""
        raise BulkRefused(
            f"Rien n'a été changé : la case « {first.login} — {first.folder} » est "
            f"refusée{more} — {first.reason}", refusals, action="habilitation.grant_many",
            target=f"{company.name} ({len(cells)} cases)", company_id=company.id)
    for user, folder in cells:
        grant(session, ctx, user, company, folder, level)
    record(session, ctx, "habilitation.grant_many", f"{company.name} ({len(cells)} cases)",
           company_id=company.id, detail={"level": level.label,
                                          "cases": [f"{u.login}/{f}" for u, f in cells]})
    return len(cells)
