"""Messaging pages: the companies' conversation spaces, a thread, forward addresses.

Thin: parse, call `acl.messaging`, render. Who sees what is decided there (the one permission
function); a space, thread or message of another company is "not found" (404).
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from acl.documents import browsing
from acl.documents.limits import Limits
from acl.errors import Refused
from acl.messaging import mail, threads, timeline
from acl.messaging.threads import Attachment, Draft
from acl.rights.models import Side
from invoicing_web.forms import Form, parse_id
from invoicing_web.security import db_session, login_required, services

bp = Blueprint("messaging", __name__, url_prefix="/messagerie")
MAX_ATTACHMENTS = 10


def base_url() -> str:
    return services().settings.server.public_url.rstrip("/") or request.host_url.rstrip("/")


def unread_total() -> int:
    """For the page header: messages the signed-in user has not read."""
    if g.get("principal") is None:
        return 0
    return sum(threads.unread_counts(db_session(), g.principal).values())


@bp.app_template_global()
def unread_by_company(shown=None) -> list[tuple[object, int]]:
    """For the dashboard: (company, unread messages) where there are some, among the
    companies it shows (`shown`: those a search kept) or all."""
    session = db_session()
    reachable = threads.companies_with_messaging(session, g.principal)
    if shown is not None:
        kept = {c.id for c in shown}
        reachable = [c for c in reachable if c.id in kept]
    counts = threads.unread_counts(session, g.principal, reachable)
    return [(c, counts[c.id]) for c in reachable if counts.get(c.id)]


@bp.get("")
@login_required
def index():
    session = db_session()
    reachable = threads.companies_with_messaging(session, g.principal)
    if g.principal.side == Side.COMPANY and len(reachable) == 1:
        return redirect(url_for(".space", company_id=reachable[0].id))
    return render_template("messaging/index.html", companies=reachable,
                           unread=threads.unread_counts(session, g.principal, reachable))


def _space_page(company, form: Form | None = None, status: int = 200):
    session = db_session()
    page = render_template(
        "messaging/space.html", company=company, form=form or Form(),
        lines=threads.thread_lines(session, g.principal, company),
        entries=timeline.timeline(session, g.principal, company, limit=30),
        recipients=mail.designated_recipients(session, company)
        if g.principal.side == Side.CABINET else [],
        folders=browsing.writable_folders(session, g.principal, company))
    return page, status


@bp.get("/<int:company_id>")
@login_required
def space(company_id: int):
    return _space_page(threads.space(db_session(), g.principal, company_id))


def _draft(form: Form) -> Draft:
    files = [f for f in request.files.getlist("files") if f and f.filename][:MAX_ATTACHMENTS]
    links = [i for i in (parse_id(v) for v in request.form.getlist("links")) if i is not None]
    return Draft(form.get("body"), links=links,
                 attachments=[Attachment(f.filename, f.read()) for f in files],
                 folder_id=parse_id(form.get("folder")) if form.get("folder") else None)


def _recipient_ids() -> list[int]:
    return [i for i in (parse_id(v) for v in request.form.getlist("recipients"))
            if i is not None]


def _limits() -> Limits:
    return Limits.from_settings(services().settings.drive)


@bp.post("/<int:company_id>")
@login_required
def start(company_id: int):
    form = Form({"subject": request.form.get("subject", ""),
                 "body": request.form.get("body", ""), "folder": request.form.get("folder", "")})
    company = threads.space(db_session(), g.principal, company_id)
    try:
        with services().db.transaction() as tx:
            target = threads.space(tx, g.principal, company_id)
            chosen = mail.chosen_recipients(tx, target, _recipient_ids())
            thread, message = threads.start_thread(tx, g.principal, target,
                                                   form.get("subject"), _draft(form),
                                                   blobs=services().blobs, limits=_limits())
            mail.queue_mails(tx, target, thread, message, g.user, chosen, base_url())
            thread_id = thread.id
    except Refused as exc:
        if exc.status == 404 and not getattr(exc, "field", ""):
            raise
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _space_page(company, form, exc.status)
    flash("Message envoyé.", "info")
    return redirect(url_for(".thread", company_id=company_id, thread_id=thread_id))


def _thread_page(company, thread, form: Form | None = None, status: int = 200):
    session = db_session()
    shown = threads.messages_of(session, g.principal, thread)
    people = {i for m in shown for i in (m.message.author_id, m.message.retracted_by_id)}
    return render_template(
        "messaging/thread.html", company=company, thread=thread, form=form or Form(),
        messages=shown, names=browsing.user_names(session, people),
        recipients=mail.designated_recipients(session, company)
        if g.principal.side == Side.CABINET else [],
        folders=browsing.writable_folders(session, g.principal, company)), status


@bp.get("/<int:company_id>/fil/<int:thread_id>")
@login_required
def thread(company_id: int, thread_id: int):
    session = db_session()
    company = threads.space(session, g.principal, company_id)
    found = threads.get_thread(session, g.principal, company, thread_id)
    page = _thread_page(company, found)
    with services().db.transaction() as tx:
        threads.mark_read(tx, g.principal, threads.get_thread(tx, g.principal, company,
                                                              thread_id))
    return page


@bp.post("/<int:company_id>/fil/<int:thread_id>")
@login_required
def reply(company_id: int, thread_id: int):
    session = db_session()
    company = threads.space(session, g.principal, company_id)
    found = threads.get_thread(session, g.principal, company, thread_id)
    form = Form({"body": request.form.get("body", ""), "folder": request.form.get("folder", "")})
    try:
        with services().db.transaction() as tx:
            target = threads.space(tx, g.principal, company_id)
            current = threads.get_thread(tx, g.principal, target, thread_id)
            chosen = mail.chosen_recipients(tx, target, _recipient_ids())
            message = threads.reply(tx, g.principal, target, current, _draft(form),
                                    blobs=services().blobs, limits=_limits())
            mail.queue_mails(tx, target, current, message, g.user, chosen, base_url())
    except Refused as exc:
        if exc.status == 404 and not getattr(exc, "field", ""):
            raise
        form.error(getattr(exc, "field", "") or "_", exc.reason)
        return _thread_page(company, found, form, exc.status)
    flash("Réponse envoyée.", "info")
    return redirect(url_for(".thread", company_id=company_id, thread_id=thread_id))


@bp.post("/<int:company_id>/message/<int:message_id>/modifier")
@login_required
def edit(company_id: int, message_id: int):
    return _change(company_id, message_id, "edit")


@bp.post("/<int:company_id>/message/<int:message_id>/retirer")
@login_required
def retract(company_id: int, message_id: int):
    return _change(company_id, message_id, "retract")


def _change(company_id: int, message_id: int, what: str):
    try:
        with services().db.transaction() as tx:
            company = threads.space(tx, g.principal, company_id)
            message = threads.get_message(tx, g.principal, company, message_id)
            thread_id = message.thread_id
            if what == "edit":
                threads.edit(tx, g.principal, company, message, request.form.get("body", ""))
            else:
                threads.retract(tx, g.principal, company, message)
    except Refused as exc:
        if exc.status in (403, 404):
            raise  # the error page, with its status
        flash(exc.reason, "error")
        return redirect(url_for(".thread", company_id=company_id, thread_id=thread_id))
    flash("Message modifié." if what == "edit" else "Message retiré.", "info")
    return redirect(url_for(".thread", company_id=company_id, thread_id=thread_id))


# --- forwarding -----------------------------------------------------------------------------------

@bp.route("/transferts", methods=["GET", "POST"])
@login_required
def forwards():
    form = Form({"address": request.form.get("address", "").strip()})
    status = 200
    if request.method == "POST":
        try:
            with services().db.transaction() as tx:
                if request.form.get("remove"):
                    mail.remove_forward(tx, tx.merge(g.user),
                                        parse_id(request.form.get("remove")) or 0)
                    flash("Adresse retirée : plus rien n'y est transféré.", "info")
                else:
                    mail.add_forward(tx, tx.merge(g.user), form.get("address"), base_url())
                    flash("Un lien de confirmation a été envoyé à cette adresse : rien n'y est "
                          "transféré avant qu'il soit ouvert.", "info")
            return redirect(url_for(".forwards"))
        except Refused as exc:
            form.error(getattr(exc, "field", "") or "_", exc.reason)
            status = exc.status
    return render_template("messaging/forwards.html", form=form,
                           addresses=mail.forward_addresses(db_session(), g.user)), status


@bp.get("/transferts/confirmer/<token>")
def confirm(token: str):
    """Opened from the mail sent to the address: no sign-in needed (the link is the proof)."""
    with services().db.transaction() as tx:
        address = mail.confirm_forward(tx, token[:100]).address
    return render_template("messaging/confirmed.html", address=address)
