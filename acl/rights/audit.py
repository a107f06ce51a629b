"""The append-only audit log of administrative acts, done or refused.

Services call `record` in the same transaction as the act. Edges run administrative work in
`admin_transaction`, which writes a refusal entry (in its own transaction, since the act's
transaction is rolled back) whenever a `PermissionDenied`, or a refusal naming its action
(a wrong old password), escapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from acl.db import Database, folded
from acl.errors import PermissionDenied, Refused
from acl.events.stream import ACCOUNT_PREFIX, record_event
from acl.people.models import User
from acl.rights.models import AuditEntry, Generation, Role
from acl.rights.policy import Decision, Principal
from config.names import fold

# Administrative acts that also go to the event stream (feeds, dashboards).
ACCOUNT_EVENTS = frozenset({"user", "habilitation", "service", "portfolio", "company"})


@dataclass(frozen=True)
class Context:
    """Who acts, and from where (an IP address, or "cli:<system user>")."""

    principal: Principal
    address: str = ""


def record(session: Session, ctx: Context, action: str, target: str = "", *,
           company_id: int | None = None, outcome: str = "ok",
           detail: dict[str, Any] | str | None = None) -> AuditEntry:
    if isinstance(detail, dict):
        detail = json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str)
    entry = AuditEntry(
        actor_id=ctx.principal.user_id, actor_login=ctx.principal.login, action=action,
        outcome=outcome, target=target[:300], company_id=company_id, detail=detail or "",
        address=ctx.address[:100])
    session.add(entry)
    if outcome == "ok":
        bump_rights_generation(session)
    if outcome == "ok" and action.split(".")[0] in ACCOUNT_EVENTS:
        record_event(session, ACCOUNT_PREFIX + action, company_id=company_id, folder="",
                     node_id=None, path=target[:300], actor_id=ctx.principal.user_id,
                     detail={} if not isinstance(detail, str) else {"detail": detail})
    return entry


RIGHTS = "rights"


def bump_rights_generation(session: Session) -> None:
    """Every administrative act may change who sees what: caches of rights start over."""
    session.execute(update(Generation).where(Generation.name == RIGHTS)
                    .values(value=Generation.value + 1))


def require(decision: Decision, *, action: str, target: str = "",
            company_id: int | None = None) -> None:
    """Raise the auditable `PermissionDenied` for a refused decision."""
    if not decision:
        raise PermissionDenied(decision.reason, action=action, target=target,
                               company_id=company_id)


@contextmanager
def admin_transaction(db: Database, ctx: Context) -> Iterator[Session]:
    try:
        with db.transaction() as session:
            yield session
    except Refused as exc:
        if isinstance(exc, PermissionDenied) or exc.action:
            with db.transaction() as session:
                record(session, ctx, exc.action or "unknown", exc.target,
                       company_id=exc.company_id, outcome="refused", detail=exc.reason)
        raise


def query_entries(session: Session, reader: Principal, *, actor: str | None = None,
                  action: str | None = None,
                  company_id: int | None = None, since: datetime | None = None,
                  until: datetime | None = None, outcome: str | None = None,
                  limit: int = 200) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if reader.role != Role.CORRESPONDANT:
        # An associé reads what concerns the companies of his portfolios, and his own acts.
        stmt = stmt.where(AuditEntry.company_id.in_(reader.portfolio_company_ids)
                          | (AuditEntry.actor_id == reader.user_id))
    if actor:  # a login, or a name as shown (case and accents aside)
        named = select(User.id).where(folded(User.display_name) == fold(actor.strip()))
        stmt = stmt.where((AuditEntry.actor_login == actor.strip().lower())
                          | AuditEntry.actor_id.in_(named))
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action))
    if company_id is not None:
        stmt = stmt.where(AuditEntry.company_id == company_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    return list(session.scalars(stmt))


# -- The log in words ------------------------------------------------------------------------

ACTION_LABELS = {
    "install": "Installation", "cabinet.update": "Modification de la fiche du cabinet",
    "company.create": "Création d'entreprise", "company.update": "Modification d'entreprise",
    "company.disconnect": "Déconnexion d'entreprise",
    "company.reconnect": "Reconnexion d'entreprise",
    "company.protection_date": "Date de protection",
    "user.create": "Création de compte", "user.invite": "Invitation",
    "user.disable": "Désactivation de compte", "user.enable": "Réactivation de compte",
    "user.password_change": "Changement de mot de passe",
    "user.password_reset": "Réinitialisation de mot de passe",
    "user.unlock": "Déverrouillage de compte", "user.alerts": "Réglage des alertes",
    "user.update": "Modification de compte", "user.remove": "Suppression de compte",
    "portfolio.rename": "Renommage de portefeuille", "company.close": "Résiliation d'entreprise",
    "habilitation.grant_many": "Droits sur plusieurs dossiers",
    "habilitation.grant": "Droit sur un dossier",
    "service.grant": "Messagerie ou facturation",
    "portfolio.create": "Création de portefeuille",
    "portfolio.delete": "Suppression de portefeuille",
    "portfolio.add_company": "Ajout d'une entreprise à un portefeuille",
    "portfolio.remove_company": "Retrait d'une entreprise d'un portefeuille",
    "portfolio.add_member": "Ajout d'un membre à un portefeuille",
    "portfolio.remove_member": "Retrait d'un membre d'un portefeuille",
    "import": "Import de fichier", "lock.break": "Levée de verrou",
    "trash.purge": "Purge de la corbeille", "fsck": "Contrôle d'intégrité",
    "storage.migrate": "Migration des contenus vers S3",
    "backup": "Sauvegarde", "restore": "Restauration d'une sauvegarde",
    "audit.read": "Lecture du journal", "outbox.read": "Lecture de la file d'envoi",
    "invoicing.consent_grant": "Facturation ouverte au cabinet",
    "invoicing.consent_revoke": "Facturation refermée au cabinet",
    "feed_token.create": "Création d'un jeton de flux",
    "feed_token.rotate": "Renouvellement d'un jeton de flux",
    "feed_token.revoke": "Révocation d'un jeton de flux",
}
DETAIL_LABELS = {
    "role": "rôle", "email": "e-mail", "mode": "mode", "level": "niveau",
    "granted": "accordé", "service": "service", "entreprises": "entreprises",
    "utilisateurs": "utilisateurs", "siren": "SIREN", "interlocuteur": "interlocuteur",
    "before": "avant", "after": "après", "correspondant": "correspondant", "par": "par",
    "by_side": "côté", "changes": "changements", "name": "nom", "folder": "dossier",
    "company": "entreprise", "login": "identifiant", "path": "chemin", "size": "taille",
    "colour": "couleur", "logo": "logo", "address": "adresse",
    "copied": "copiés", "skipped": "déjà présents",
}


def action_label(action: str) -> str:
    """"user.create" -> "Création de compte" (an action without a label keeps its code)."""
    return ACTION_LABELS.get(action, action)


def detail_text(detail: str) -> str:
    """The detail of an entry in words: {"role": "assistant", "email": ""} ->
    "rôle : assistant ; e-mail : aucun"; a detail that is not such a record stays as is."""
    try:
        values = json.loads(detail) if detail.startswith("{") else None
    except ValueError:
        values = None
    if not isinstance(values, dict):
        return detail
    return " ; ".join(f"{DETAIL_LABELS.get(key, key)} : {_value_text(value)}"
                      for key, value in values.items())


def _value_text(value: Any) -> str:
    if value is True:
        return "oui"
    if value is False:
        return "non"
    if value in ("", None):
        return "aucun"
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return f"{value[8:]}/{value[5:7]}/{value[:4]}"  # an ISO day, as French people read it
    if isinstance(value, dict):
        return ", ".join(f"{DETAIL_LABELS.get(k, k)} {_value_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value)
    return str(value)
