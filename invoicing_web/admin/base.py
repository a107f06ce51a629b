"""Administration: the blueprint, what the signed-in user may use (sections, buttons,
choices, asked of the delegation rules), the helpers every area shares, and the index page.

Every area (companies, import, users, habilitations, portfolios, audit log) is a module of
this package: thin views over the services of `acl`, as the CLI uses them. Every act runs in
`admin_transaction` (so that a refusal is audited) and the services decide every rule; a
refusal is shown next to its field or at the top of the page with what the user typed kept,
and answered with its own status (`acl.errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from acl.errors import Refused
from acl.rights import delegation
from acl.rights.models import Level, Role, Side
from acl.rights.policy import Principal
from config import dates
from invoicing_web.forms import Form
from invoicing_web.security import db_session, login_required, services

bp = Blueprint("admin", __name__, url_prefix="/administration")
PARIS = ZoneInfo("Europe/Paris")


# --- what the signed-in user may use ------------------------------------------------------

def _stand_in(role: Role, company_id: int | None) -> Principal:
    """An account of `role` (none in particular), to ask the delegation rules what a role
    may do before any real account is named."""
    return Principal(user_id=0, login="", role=role,
                     company_id=company_id if role.side == Side.COMPANY else None)


def creatable_roles(p: Principal) -> list[Role]:
    return [role for role in Role
            if delegation.may_create_user(p, role, p.company_id if role.side == Side.COMPANY
                                          else None)]


def company_portfolio_choices(p: Principal) -> tuple[bool, list[int]]:
    """(a company may be created outside any portfolio, portfolios it may be created in)."""
    return (bool(delegation.may_create_company(p, None)),
            sorted(pid for pid in p.portfolio_ids if delegation.may_create_company(p, pid)))


@dataclass(frozen=True)
class Sections:
    companies: bool
    create_company: bool
    import_file: bool
    users: bool
    rights: bool
    portfolios: bool
    audit: bool
    locks: bool
    cabinet: bool = False  # the firm's card: name, colour, logo

    @property
    def any(self) -> bool:
        return any((self.companies, self.import_file, self.users, self.rights,
                    self.portfolios, self.audit, self.locks, self.cabinet))


def sections(p: Principal | None) -> Sections:
    if p is None:
        return Sections(False, False, False, False, False, False, False, False)
    outside, inside = company_portfolio_choices(p)
    create_company = outside or bool(inside)
    roles = creatable_roles(p)
    manages = any(delegation.may_manage_user(p, _stand_in(role, p.company_id))
                  for role in sorted(delegation.GRANTABLE_ROLES))
    composes = bool(delegation.may_manage_portfolios(p)) or any(
        delegation.may_change_portfolio_member(p, pid, _stand_in(Role.ASSISTANT, None))
        for pid in p.portfolio_ids)
    return Sections(
        companies=create_company or any(delegation.may_edit_company(p, cid)
                                        for cid in p.portfolio_company_ids),
        create_company=create_company,
        import_file=create_company or bool(roles),
        users=manages or bool(roles),
        rights=manages,
        portfolios=composes,
        audit=bool(delegation.may_read_audit(p)),
        locks=p.role in (Role.CORRESPONDANT, Role.ASSOCIE) and p.active,
        cabinet=bool(delegation.may_edit_cabinet(p)))


SECTION_REFUSALS = {
    "companies": "Seuls le correspondant et les associés administrent les entreprises.",
    "create_company": "Seuls le correspondant et les associés créent des entreprises.",
    "import_file": "Votre compte ne permet de créer ni entreprise ni compte.",
    "users": "Votre compte n'administre aucun compte.",
    "rights": "Votre compte n'accorde de droits à personne.",
    "portfolios": "Seuls le correspondant et les associés composent les portefeuilles.",
    "locks": "Seuls le correspondant et les associés lèvent les verrous des documents.",
    "cabinet": "Seul le correspondant modifie la fiche du cabinet.",
}


def require_section(name: str) -> Callable:
    """Pages (GET) of a section the user may not use answer 403."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not getattr(sections(g.principal), name):
                abort(403, description=SECTION_REFUSALS[name])
            return view(*args, **kwargs)

        return wrapped

    return decorate


@bp.app_context_processor
def admin_navigation() -> dict:
    """`admin_allowed` hides the "Administration" link from those who have nothing there."""
    return {"admin_allowed": sections(g.get("principal")).any}


@bp.context_processor
def admin_context() -> dict:
    return {"sections": sections(g.get("principal")), "role_label": role_label,
            "level_labels": [level.label for level in Level]}


# --- helpers ------------------------------------------------------------------------------

def role_label(role: str) -> str:
    return str(role).capitalize()


def _show_refusal(exc: Refused, form: Form, fields: dict[str, str] | None = None) -> None:
    """The service's sentence next to its field (renamed by `fields`), else at the top."""
    name = getattr(exc, "field", "") or ""
    name = (fields or {}).get(name, name)
    form.error(name if name in form.values else "_", exc.reason)


def _refuse_page(exc_or_reason: Refused | str, code: int = 403):
    """For someone who may not use the page at all: the reason alone."""
    reason = exc_or_reason.reason if isinstance(exc_or_reason, Refused) else exc_or_reason
    if isinstance(exc_or_reason, Refused):
        code = exc_or_reason.status
    return render_template("error.html", message=reason, code=code), code


def _private(response):
    """Pages showing a password: never stored by the browser or a proxy."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _base_url() -> str:
    return services().settings.server.public_url.rstrip("/") or request.host_url.rstrip("/")


def _fresh_read_session():
    """After writes in this request, read them back with a new session."""
    old = g.pop("db_session", None)
    if old is not None:
        old.close()
    return db_session()


def parse_day(form: Form, name: str, *, required: bool = False) -> date | None:
    """AAAA-MM-JJ (date field) or JJ/MM/AAAA (typed); an error next to the field."""
    text = form.get(name)
    if not text:
        if required:
            form.error(name, "Indiquez une date.")
        return None
    try:
        return dates.parse_day(text)
    except ValueError:
        form.error(name, f"Date invalide : « {text} » (JJ/MM/AAAA).")
        return None


def _count(n: int, words: str) -> str:
    """"2 droits modifiés": every word takes the plural."""
    return f"{n} " + " ".join(w + ("s" if n > 1 else "") for w in words.split())


def _paris_day(value: datetime | None) -> str:
    return value.astimezone(PARIS).strftime("%d/%m/%Y") if value else ""


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


# --- index --------------------------------------------------------------------------------

@bp.get("/")
def index_slash():
    return redirect(url_for(".index"))


@bp.get("")
@login_required
def index():
    if not sections(g.principal).any:
        abort(403, description="Votre compte n'a accès à aucune fonction d'administration.")
    return render_template("admin/index.html")
