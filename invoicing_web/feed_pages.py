"""The "Flux et agenda" page (`/profil/flux`) and the feed tokens of the profile page: create
(named), renew (a new secret, the old URL stops), revoke. Routes on the `auth` blueprint
(one's own account); the rules in `acl.rights.feed_tokens`.

Only a token's hash is stored, so its URLs are shown once, on the page that follows its
creation or renewal: the secret waits in this browser's session until that page is shown,
then is dropped. The demo's tokens are the exception (`demo_secret`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, g, redirect, render_template, request, session, url_for

from acl.calendar.agenda import visible_companies
from acl.errors import Refused
from acl.people.models import User
from acl.rights import feed_tokens
from acl.rights.audit import admin_transaction
from acl.rights.models import FeedToken
from acl.rights.principals import load_principal
from invoicing_web.auth import bp
from invoicing_web.forms import Form
from invoicing_web.security import context, db_session, login_required, services

FRESH = "feed_secret"


@dataclass(frozen=True)
class TokenRow:
    token: FeedToken
    state: str
    working: bool


def token_rows(tx, user: User) -> list[TokenRow]:
    """What the profile page lists of the user's tokens."""
    return [TokenRow(t, feed_tokens.state(t, user), feed_tokens.is_working(t, user))
            for t in feed_tokens.tokens_of(tx, user)]


def _base_url() -> str:
    return services().settings.server.public_url.rstrip("/") or request.host_url.rstrip("/")


def webcal(url: str) -> str:
    """Desktop calendar apps open `webcal://` (a de-facto scheme, RESEARCH.md §6)."""
    return "webcal://" + url.split("://", 1)[1]


@bp.get("/profil/flux")
@login_required
def feeds_page():
    tx = db_session()
    user = tx.get(User, g.user.id)
    fresh = session.pop(FRESH, None)
    known = {t.id: t.demo_secret for t in feed_tokens.tokens_of(tx, user) if t.demo_secret}
    if isinstance(fresh, list) and len(fresh) == 2:
        known[fresh[0]] = fresh[1]
    companies = visible_companies(tx, load_principal(tx, user))
    return render_template("profile/feeds.html", user=user, rows=token_rows(tx, user),
                           secrets=known, fresh_id=fresh[0] if fresh else None,
                           companies=companies, base=_base_url() + "/feeds", webcal=webcal)


def _token_act(act, anchor: str = "flux"):
    form = Form.from_request("name")
    try:
        with admin_transaction(services().db, context()) as tx:
            message, fresh = act(tx, tx.get(User, g.user.id), form)
    except Refused as exc:
        flash(exc.reason, "error")
        return redirect(url_for("auth.profile_page") + f"#{anchor}")
    flash(message, "info")
    if fresh is not None:
        session[FRESH] = [fresh[0].id, fresh[1]]
        return redirect(url_for("auth.feeds_page") + f"#jeton-{fresh[0].id}")
    return redirect(url_for("auth.profile_page") + f"#{anchor}")


@bp.post("/profil/jetons")
@login_required
def feed_token_create():
    def act(tx, user, form):
        token, secret = feed_tokens.issue(tx, context(), user, form.get("name"))
        return f"Jeton « {token.name} » créé : copiez ses adresses maintenant, elles ne " \
               "seront plus affichées.", (token, secret)
    return _token_act(act)


@bp.post("/profil/jetons/<int:token_id>/renouveler")
@login_required
def feed_token_rotate(token_id: int):
    def act(tx, user, form):
        token, secret = feed_tokens.rotate(tx, context(), user, token_id)
        return f"Jeton « {token.name} » renouvelé : ses anciennes adresses ne fonctionnent " \
               "plus ; copiez les nouvelles.", (token, secret)
    return _token_act(act)


@bp.post("/profil/jetons/<int:token_id>/revoquer")
@login_required
def feed_token_revoke(token_id: int):
    def act(tx, user, form):
        token = feed_tokens.revoke(tx, context(), user, token_id)
        return f"Jeton « {token.name} » révoqué : ses adresses ne fonctionnent plus.", None
    return _token_act(act)
