"""Accounts: creation by delegation, sign-in with throttling, passwords, rights, disabling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from acl.db import Database, as_utc, utcnow
from acl.documents.tree import standard_folders
from acl.errors import InvalidInput, NotFound, PermissionDenied
from acl.events.models import AlertMode
from acl.people.models import REMOVED_MARK, Company, User
from acl.rights import delegation, throttle
from acl.rights.audit import Context, record, require
from acl.rights.models import AuthFailure, Habilitation, Level, Role, Service, ServiceGrant, Side
from acl.rights.passwords import PasswordHasher, generate_password
from acl.rights.policy import Principal, reaches
from acl.rights.principals import load_principal
from config import dates
from config.settings import SecuritySettings

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


def normalize_login(login: str) -> str:
    return login.strip().lower()


def check_login(login: str) -> str:
    login = normalize_login(login)
    if not LOGIN_RE.match(login):
        raise InvalidInput(
            "Identifiant invalide : de 2 à 64 caractères parmi lettres minuscules, chiffres, "
            "« . », « _ », « - » et « @ », en commençant par une lettre ou un chiffre.",
            field="login")
    return login


def check_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidInput(f"Adresse e-mail invalide : « {email} ».", field="email")
    return email


def check_display_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise InvalidInput("Le nom affiché est obligatoire.", field="display_name")
    if len(name) > 200:
        raise InvalidInput("Le nom affiché ne peut dépasser 200 caractères.",
                           field="display_name")
    return name


def find_user(session: Session, login: str) -> User:
    user = session.scalars(select(User).where(User.login == normalize_login(login))).one_or_none()
    if user is None or user.removed:
        raise NotFound(f"Aucun compte « {login} ».")
    return user


@dataclass(frozen=True)
class NewAccount:
    user: User
    initial_password: str | None  # set when Liasse generated it (to hand over once)


def new_user(session: Session, hasher: PasswordHasher, *, login: str, display_name: str,
             role: Role, email: str | None, company: Company | None, password: str | None,
             created_by_id: int | None) -> NewAccount:
    """Validate and add a user row; no delegation check (see `create_user`)."""
    login = check_login(login)
    display_name = check_display_name(display_name)
    email = check_email(email)
    if session.scalars(select(User.id).where(User.login == login)).first() is not None:
        raise InvalidInput(f"L'identifiant « {login} » est déjà pris.", field="login")
    generated = None
    if password is None:
        password = generated = generate_password(
            login=login, company_name=company.name if company else "")
    hasher.check(password, login=login, company_name=company.name if company else "")
    user = User(login=login, display_name=display_name, email=email, side=role.side.value,
                role=role.value, company_id=company.id if company else None,
                password_hash=hasher.hash(password), must_change_password=generated is not None,
                created_by_id=created_by_id)
    session.add(user)
    session.flush()
    return NewAccount(user, generated)


def create_user(session: Session, ctx: Context, hasher: PasswordHasher, *, login: str,
                display_name: str, role: Role, email: str | None = None,
                company: Company | None = None, password: str | None = None) -> NewAccount:
    company_id = company.id if company else None
    if role.side == Side.COMPANY and company is None:
        raise InvalidInput("Un compte d'entreprise doit être rattaché à une entreprise.",
                           field="company")
    if role.side == Side.CABINET and company is not None:
        raise InvalidInput("Un compte du cabinet n'est rattaché à aucune entreprise.",
                           field="company")
    require(delegation.may_create_user(ctx.principal, role, company_id),
            action="user.create", target=normalize_login(login), company_id=company_id)
    account = new_user(session, hasher, login=login, display_name=display_name, role=role,
                       email=email, company=company, password=password,
                       created_by_id=ctx.principal.user_id)
    record(session, ctx, "user.create", account.user.login, company_id=company_id,
           detail={"role": role.value, "email": account.user.email or ""})
    return account


def require_managed(session: Session, ctx: Context, user: User, action: str) -> Principal:
    target = load_principal(session, user)
    require(delegation.may_manage_user(ctx.principal, target), action=action, target=user.login,
            company_id=user.company_id)
    return target


def reset_password(session: Session, ctx: Context, hasher: PasswordHasher, user: User,
                   password: str | None = None) -> str | None:
    """An administrator sets a new password; a generated one must be changed at sign-in."""
    require_managed(session, ctx, user, "user.password_reset")
    generated = None
    company_name = user.company.name if user.company else ""
    if password is None:
        password = generated = generate_password(login=user.login, company_name=company_name)
    hasher.check(password, login=user.login, company_name=company_name)
    store_password(user, hasher.hash(password), must_change=generated is not None)
    record(session, ctx, "user.password_reset", user.login, company_id=user.company_id)
    return generated


def change_own_password(session: Session, ctx: Context, hasher: PasswordHasher, user: User,
                        old: str, new: str) -> None:
    """A user changes their own password: the old one is required."""
    if not user.active:
        raise PermissionDenied("Ce compte est désactivé.", action="user.password_change",
                               target=user.login, company_id=user.company_id)
    ok, _ = hasher.verify(old, user.password_hash)
    if not ok:
        raise InvalidInput("L'ancien mot de passe est incorrect.", field="old_password",
                           action="user.password_change", target=user.login,
                           company_id=user.company_id)
    if new == old:
        raise InvalidInput("Le nouveau mot de passe doit différer de l'ancien.",
                           field="password")
    hasher.check(new, login=user.login, company_name=user.company.name if user.company else "")
    store_password(user, hasher.hash(new), must_change=False)
    record(session, ctx, "user.password_change", user.login, company_id=user.company_id)


def store_password(user: User, hashed: str, *, must_change: bool) -> None:
    user.password_hash = hashed
    user.must_change_password = must_change
    user.credentials_version += 1


def set_active(session: Session, ctx: Context, user: User, active: bool) -> None:
    action = "user.enable" if active else "user.disable"
    require_managed(session, ctx, user, action)
    user.active = active
    user.credentials_version += 1
    record(session, ctx, action, user.login, company_id=user.company_id)


def set_alert_mode(session: Session, ctx: Context, user: User, mode: AlertMode) -> None:
    """Deposit alerts by mail: off, immediate or digest — one's own, or a managed user's."""
    if user.id != ctx.principal.user_id:
        require_managed(session, ctx, user, "user.alerts")
    user.alert_mode = mode.value
    record(session, ctx, "user.alerts", user.login, company_id=user.company_id,
           detail={"mode": mode.value})


def grant(session: Session, ctx: Context, user: User, company: Company, folder: str,
          level: Level) -> None:
    folders = standard_folders(session, company.id)
    if folder not in folders:
        raise InvalidInput(f"« {folder} » n'est pas un dossier de {company.name} "
                           f"({', '.join(folders)}).", field="folder")
    target = load_principal(session, user)
    require(delegation.may_grant(ctx.principal, target, company.id, folder, level),
            action="habilitation.grant", target=f"{user.login} {company.name}/{folder}",
            company_id=company.id)
    row = session.get(Habilitation, (user.id, company.id, folder))
    if row is None:
        session.add(Habilitation(user_id=user.id, company_id=company.id, folder=folder,
                                 level=int(level)))
    else:
        row.level = int(level)
    record(session, ctx, "habilitation.grant", f"{user.login} {company.name}/{folder}",
           company_id=company.id, detail={"level": level.label})


def grant_service(session: Session, ctx: Context, user: User, company: Company,
                  service: Service, granted: bool) -> None:
    target = load_principal(session, user)
    require(delegation.may_grant_service(ctx.principal, target, company.id, service, granted),
            action="service.grant", target=f"{user.login} {company.name}/{service.value}",
            company_id=company.id)
    row = session.get(ServiceGrant, (user.id, company.id, service.value))
    if row is None:
        session.add(ServiceGrant(user_id=user.id, company_id=company.id, service=service.value,
                                 granted=granted))
    else:
        row.granted = granted
    record(session, ctx, "service.grant", f"{user.login} {company.name}/{service.value}",
           company_id=company.id, detail={"granted": granted})


def visible_users(session: Session, principal: Principal) -> list[User]:
    """The accounts an administrator may see in lists."""
    stmt = select(User).where(~User.login.contains(REMOVED_MARK, autoescape=True)) \
        .order_by(User.side, User.login)  # removed accounts are no one's to administer
    if principal.role == Role.CORRESPONDANT:
        return list(session.scalars(stmt))
    if principal.role in (Role.ASSOCIE, Role.ASSISTANT):
        users = session.scalars(stmt.where(or_(User.side == Side.CABINET.value,
                                               User.company_id.is_not(None))))
        return [u for u in users if u.company_id is None or reaches(principal, u.company_id)]
    if principal.company_id is not None:
        return list(session.scalars(stmt.where(User.company_id == principal.company_id)))
    return []


def find_visible_user(session: Session, principal: Principal, login: str) -> User:
    """A user the principal may see (themselves or one in `visible_users`)."""
    user = find_user(session, login)
    if user.id != principal.user_id and user not in visible_users(session, principal):
        raise NotFound(f"Aucun compte « {login} ».")
    return user


@dataclass(frozen=True)
class SignIn:
    user: User | None
    reason: str = ""
    delay: float = 0.0  # seconds the edge holds the answer back
    locked_until: datetime | None = None  # the login is locked: refused, right password or not

    @property
    def throttled(self) -> bool:
        return self.locked_until is not None


BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect (ou compte désactivé)."
LOCKED = "Trop d'essais infructueux pour cet identifiant : connexion bloquée jusqu'à {}."


@dataclass(frozen=True)
class Verdict:
    """A password checked against the stored hash before the write transaction that records
    the outcome: argon2 takes tens of milliseconds by design, and inside that transaction it
    held SQLite's write lock, so that a burst of sign-ins queued behind it (past the busy
    timeout, under several workers)."""

    user_id: int | None
    checked_hash: str | None
    ok: bool
    new_hash: str | None


def check_password(session: Session, hasher: PasswordHasher, login: str,
                   password: str) -> Verdict:
    """The slow part of a sign-in, in a read session (no lock held, no row written)."""
    user = _account(session, login)
    hashed = user.password_hash if user else None
    ok, new_hash = hasher.verify(password, hashed)
    return Verdict(user.id if user else None, hashed, ok, new_hash)


def attempt_sign_in(db: Database, hasher: PasswordHasher, login: str, password: str,
                    address: str) -> SignIn:
    """The edges' sign-in (drive, web, feeds): the password verified in a read session, then
    the outcome and the counters written in a short write transaction. The returned user is
    detached (its loaded columns stay readable)."""
    with db.session() as session:
        locked = _login_locked(session, login, utcnow())
        verdict = None if locked else check_password(session, hasher, login, password)
    with db.transaction() as tx:
        return authenticate(tx, hasher, login, password, address, verdict=verdict)


def _account(session: Session, login: str) -> User | None:
    return session.scalars(
        select(User).where(User.login == normalize_login(login))).one_or_none()


def _login_locked(session: Session, login: str, now: datetime) -> bool:
    row = session.get(AuthFailure, throttle.login_key(login))
    return row is not None and throttle.locked_until([_counter(row)], now) is not None


def authenticate(session: Session, hasher: PasswordHasher, login: str, password: str,
                 address: str, now: datetime | None = None, *,
                 verdict: Verdict | None = None) -> SignIn:
    """Check credentials with throttling; the caller commits (counters are written).
    `verdict`: the password already checked (`check_password`), used unless the account or
    its hash changed since; else it is checked here.

    A locked login is refused, right password or not (the account's guard against guessing).
    An address is only slowed down: its failures delay the answers to its failures, never a
    right password. A disabled account answers as a wrong password: the answer must not
    confirm a password that someone guessed."""
    now = now or utcnow()
    policy: SecuritySettings = hasher.security
    login_key, address_key = throttle.login_key(login), throttle.address_key(address)
    rows = {key: session.get(AuthFailure, key) for key in (login_key, address_key)}
    login_row = rows[login_key]
    locked = throttle.locked_until([_counter(login_row)] if login_row else [], now)
    if locked is not None:
        return SignIn(None, LOCKED.format(dates.paris_clock(locked)), locked_until=locked)
    user = _account(session, login)
    if verdict is not None and verdict.user_id == (user.id if user else None) \
            and verdict.checked_hash == (user.password_hash if user else None):
        ok, new_hash = verdict.ok, verdict.new_hash
    else:
        ok, new_hash = hasher.verify(password, user.password_hash if user else None)
    if ok and user is not None and user.active:
        if new_hash:
            user.password_hash = new_hash
        if login_row is not None:
            session.delete(login_row)
        return SignIn(user)
    worst, locked = 0, None
    for key, row in rows.items():
        counter = throttle.after_failure(_counter(row) if row else None, now, policy,
                                         may_lock=key == login_key)
        if row is None:
            row = AuthFailure(key=key)
            session.add(row)
        row.failures = counter.failures
        row.last_failure_at = counter.last_failure_at
        row.locked_until = counter.locked_until
        worst = max(worst, counter.failures)
        locked = locked or counter.locked_until
    return SignIn(None, LOCKED.format(dates.paris_clock(locked)) if locked else BAD_CREDENTIALS,
                  delay=throttle.delay_for(worst, policy), locked_until=locked)


def sign_in_locks(session: Session, principal: Principal, now: datetime | None = None
                  ) -> list[tuple[User, datetime]]:
    """The accounts the principal administers whose sign-in is locked now, and until when."""
    now = now or utcnow()
    rows = session.scalars(select(AuthFailure).where(
        AuthFailure.key.like("login:%"), AuthFailure.locked_until > now))
    locked = {row.key: as_utc(row.locked_until) for row in rows}
    users = visible_users(session, principal)
    return [(user, locked[throttle.login_key(user.login)]) for user in users
            if throttle.login_key(user.login) in locked
            and delegation.may_manage_user(principal, load_principal(session, user))]


def unlock(session: Session, ctx: Context, user: User) -> bool:
    """Lift the sign-in lock of an account (and forget its failures); audited. False: it was
    not locked."""
    target = load_principal(session, user)
    require(delegation.may_manage_user(ctx.principal, target), action="user.unlock",
            target=user.login, company_id=user.company_id)
    row = session.get(AuthFailure, throttle.login_key(user.login))
    if row is None:
        return False
    session.delete(row)
    record(session, ctx, "user.unlock", user.login, company_id=user.company_id)
    return True


def _counter(row: AuthFailure) -> throttle.Counter:
    return throttle.Counter(row.failures, row.last_failure_at, row.locked_until)
