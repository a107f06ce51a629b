"""Administration of accounts: the list, creation, disablement, password reset,
invitation."""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from acl.db import utcnow
from acl.errors import NotFound, Refused
from acl.people import accounts, companies, invitations
from acl.people.models import Company, Invitation, User
from acl.rights import delegation
from acl.rights.audit import admin_transaction
from acl.rights.models import Role, Side
from acl.rights.policy import Principal
from acl.rights.principals import load_principals
from invoicing_web.admin.base import (
    _base_url,
    _private,
    _refuse_page,
    _show_refusal,
    bp,
    creatable_roles,
    require_section,
    role_label,
    sections,
)
from invoicing_web.forms import Form, local_url, parse_id
from invoicing_web.security import (
    context,
    db_session,
    login_required,
    mail_notice,
    mail_waits,
    services,
)

# --- users --------------------------------------------------------------------------------

USER_FIELDS = ("login", "display_name", "role", "email", "company")


def _render_users(error: str = "", status: int = 200):
    session, p = db_session(), g.principal
    people = accounts.visible_users(session, p)
    reachable = companies.visible_companies(session, p)
    company_id = request.args.get("entreprise", type=parse_id)
    if company_id is not None:
        people = [u for u in people if u.company_id == company_id]
    pending = set(session.scalars(select(Invitation.user_id).where(
        Invitation.used_at.is_(None), Invitation.expires_at > utcnow())))
    targets = load_principals(session, people)
    locked = {user.id: until for user, until in accounts.sign_in_locks(session, p)}
    return render_template(
        "admin/users.html", users=people, companies=reachable, company_id=company_id,
        manageable={u.id for u in people if delegation.may_manage_user(p, targets[u.id])},
        pending=pending, locked=locked, error=error,
        may_create=bool(creatable_roles(p))), status


@bp.get("/utilisateurs")
@login_required
@require_section("users")
def users_list():
    return _render_users()


def _user_company_choices(p: Principal, roles: list[Role]) -> list[Company]:
    """Companies a company account may be created for, when the actor is on the firm's side
    (a company's interlocuteur creates in his own company)."""
    if p.side == Side.COMPANY or not any(r.side == Side.COMPANY for r in roles):
        return []
    return companies.visible_companies(db_session(), p)


def _render_user_form(form: Form, roles: list[Role], status: int = 200):
    p = g.principal
    own = db_session().get(Company, p.company_id) if p.company_id else None
    choices = _user_company_choices(p, roles)
    return render_template(
        "admin/user_new.html", form=form, own_company=own,
        role_options=[(role.value, role_label(role.value)) for role in roles],
        company_options=[("", "—")] + [(str(c.id), c.name) for c in choices] if choices
        else []), status


@bp.route("/utilisateurs/nouveau", methods=["GET", "POST"])
@login_required
def user_new():
    p = g.principal
    roles = creatable_roles(p)
    if request.method == "GET":
        if not roles:
            abort(403, description="Votre compte ne permet de créer aucun compte.")
        return _render_user_form(Form({"role": roles[0].value}), roles)
    form = Form.from_request(*USER_FIELDS)
    try:
        role = Role(form.get("role"))
    except ValueError:
        form.error("role", "Choisissez un rôle.")
        return _render_user_form(form, roles, 400) if roles else \
            _refuse_page(form.errors["role"], 400)
    shown_roles = roles if role in roles else [*roles, role]  # keep what was chosen
    svc, ctx = services(), context()
    try:
        with admin_transaction(svc.db, ctx) as tx:
            company = None
            if role.side == Side.COMPANY:
                company_id = p.company_id if p.side == Side.COMPANY \
                    else parse_id(form.get("company"))
                company = companies.get_company(tx, p, company_id) if company_id else None
            created = accounts.create_user(tx, ctx, svc.hasher, login=form.get("login"),
                                           display_name=form.get("display_name"), role=role,
                                           email=form.get("email") or None, company=company)
            user = created.user
            if user.email:
                invitations.invite(tx, ctx, user, _base_url())
            outcome = {"login": user.login, "name": user.display_name, "email": user.email,
                       "role": user.role, "company": company.name if company else "",
                       "password": None if user.email else created.initial_password}
    except Refused as exc:
        if not roles:
            return _refuse_page(exc)
        _show_refusal(exc, form)
        return _render_user_form(form, shown_roles, exc.status)
    return _private(render_template("admin/created.html", kind="user", outcome=outcome))


def _user_act(login: str, act: Callable[..., object], done: Callable[[User, object], object]):
    """One act on one visible account, then `done(user, answer)`: a message to flash on the
    way back to the list, or a response."""
    p = g.principal
    ctx = context()
    try:
        with admin_transaction(services().db, ctx) as tx:
            user = accounts.find_visible_user(tx, p, login)
            answer = act(tx, ctx, user)
    except NotFound:
        abort(404)
    except Refused as exc:
        if not sections(p).users:
            return _refuse_page(exc)
        return _render_users(exc.reason, exc.status)
    outcome = done(user, answer)
    if not isinstance(outcome, str):
        return outcome
    flash(outcome, "info")
    return redirect(local_url(request.form.get("back")) or url_for(".users_list"))


@bp.post("/utilisateurs/<login>/etat")
@login_required
def user_state(login: str):
    active = request.form.get("active") == "1"
    return _user_act(
        login, lambda tx, ctx, user: accounts.set_active(tx, ctx, user, active),
        lambda user, _: f"Compte « {user.login} » {'réactivé' if active else 'désactivé'}.")


@bp.post("/utilisateurs/<login>/debloquer")
@login_required
def user_unlock(login: str):
    """Lift the lock put on a login after too many wrong passwords (audited)."""
    return _user_act(
        login, lambda tx, ctx, user: accounts.unlock(tx, ctx, user),
        lambda user, lifted: f"Connexion de « {user.login} » débloquée." if lifted
        else f"La connexion de « {user.login} » n'était pas bloquée.")


@bp.post("/utilisateurs/<login>/mot-de-passe")
@login_required
def user_reset(login: str):
    return _user_act(
        login, lambda tx, ctx, user: accounts.reset_password(tx, ctx, services().hasher, user),
        lambda user, password: _private(render_template(
            "admin/created.html", kind="reset",
            outcome={"login": user.login, "name": user.display_name, "password": password})))


@bp.post("/utilisateurs/<login>/invitation")
@login_required
def user_invite(login: str):
    return _user_act(
        login, lambda tx, ctx, user: invitations.invite(tx, ctx, user, _base_url()),
        lambda user, _: mail_notice("Invitation", user.email, feminine=True)
        + (f" Le lien est valable {invitations.VALIDITY_WORDS}." if not mail_waits() else ""))
