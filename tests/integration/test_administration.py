"""Administration through the services, on the demo world: delegation, refusals and their
audit trail, rights seen by the permission function, company creation, input errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from acl.documents.models import Node
from acl.documents.tree import standard_folders
from acl.errors import InvalidInput, PermissionDenied
from acl.people import accounts, companies, portfolios
from acl.people.accounts import authenticate
from acl.people.companies import CompanyInput
from acl.people.models import (
    Company,
    CompanyStatus,
    Portfolio,
    User,
    portfolio_company,
    portfolio_member,
)
from acl.rights.audit import admin_transaction
from acl.rights.models import AuditEntry, Habilitation, Level, Role, Service, ServiceGrant
from acl.rights.policy import Action, Resource, authorize
from acl.rights.principals import load_principal
from config.settings import DEFAULT_TREE, FoldersSettings

BAKERY = "Boulangerie Martin"
GARAGE = "Garage Dupont"
JOINERY = "Menuiserie Bernard"
JOINERY_SIREN = "443061841"
NEW_SIREN = "404833048"

NOT_FOUND = "Entreprise introuvable."
HIDDEN = "Dossier introuvable."


def user(session, login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


def company(session, name: str) -> Company:
    return session.scalars(select(Company).where(Company.name == name)).one()


def portfolio(session, name: str) -> Portfolio:
    return session.scalars(select(Portfolio).where(Portfolio.name == name)).one()


def decide(db, login: str, action: Action, company_name: str, folder: str | None = None):
    """What `authorize` answers for this login, with rights loaded afresh from the database."""
    with db.session() as s:
        target = company(s, company_name)
        principal = load_principal(s, user(s, login))
        resource = Resource(company_id=target.id, company_active=target.is_active,
                            protection_date=target.protection_date, folder=folder)
        return authorize(principal, action, resource)


def audit_rows(db) -> list[tuple]:
    with db.session() as s:
        return [tuple(r) for r in s.execute(
            select(AuditEntry.id, AuditEntry.actor_login, AuditEntry.action,
                   AuditEntry.outcome, AuditEntry.target, AuditEntry.company_id,
                   AuditEntry.detail).order_by(AuditEntry.id))]


def snapshot(db) -> dict[str, object]:
    """Everything an administrative act may change."""
    with db.session() as s:
        def rows(*columns) -> set[tuple]:
            return {tuple(r) for r in s.execute(select(*columns))}

        return {
            "users": rows(User.login, User.role, User.company_id, User.active,
                          User.password_hash, User.credentials_version),
            "habilitations": rows(Habilitation.user_id, Habilitation.company_id,
                                  Habilitation.folder, Habilitation.level),
            "services": rows(ServiceGrant.user_id, ServiceGrant.company_id,
                             ServiceGrant.service, ServiceGrant.granted),
            "companies": rows(Company.siren, Company.name, Company.status,
                              Company.protection_date),
            "portfolios": rows(Portfolio.name),
            "members": rows(portfolio_member.c.portfolio_id, portfolio_member.c.user_id),
            "portfolio_companies": rows(portfolio_company.c.portfolio_id,
                                        portfolio_company.c.company_id),
            "nodes": s.scalar(select(func.count()).select_from(Node)),
        }


@pytest.fixture
def world(demo, hasher, settings, ctx_of):
    """The demo, plus an utilisateur of Garage Dupont ("atelier") and a third company,
    Menuiserie Bernard, in a portfolio "Bois" that holds `assistant` but not `associe`."""
    with demo.transaction() as s:
        accounts.create_user(s, ctx_of("dupont", s), hasher, login="atelier",
                             display_name="Marc Atelier", role=Role.UTILISATEUR,
                             company=company(s, GARAGE))
        expert = ctx_of("expert", s)
        wood = portfolios.create_portfolio(s, expert, "Bois")
        companies.create_company(s, expert, hasher, settings.folders,
                                 CompanyInput(name=JOINERY, siren=JOINERY_SIREN),
                                 interlocuteur_login="bernard",
                                 interlocuteur_name="Luc Bernard", portfolio=wood)
        portfolios.set_member(s, expert, wood, user(s, "assistant"), True)
    return demo


# ---------------------------------------------------------------------------------------------
# Creating accounts by delegation.

@pytest.mark.parametrize(("actor", "login", "role", "company_name"), [
    ("expert", "associe2", Role.ASSOCIE, None),
    ("expert", "assistant2", Role.ASSISTANT, None),
    ("associe", "assistant2", Role.ASSISTANT, None),
    ("martin", "comptable", Role.UTILISATEUR, BAKERY),
    ("dupont", "atelier", Role.UTILISATEUR, GARAGE),
], ids=["correspondant-associe", "correspondant-assistant", "associe-assistant",
        "interlocuteur-utilisateur", "other_interlocuteur-utilisateur"])
def test_accounts_created_by_delegation(demo, hasher, ctx_of, actor, login, role,
                                        company_name):
    ctx = ctx_of(actor)
    with admin_transaction(demo, ctx) as s:
        target = company(s, company_name) if company_name else None
        account = accounts.create_user(s, ctx, hasher, login=login,
                                       display_name="Nouvelle Personne", role=role,
                                       company=target)
        password = account.initial_password
    assert password  # generated, to hand over once
    with demo.transaction() as s:
        created = user(s, login)
        assert created.role == role.value
        assert created.side == role.side.value
        assert created.created_by_id == ctx.principal.user_id
        assert created.must_change_password
        assert (created.company.name if created.company else None) == company_name
        assert authenticate(s, hasher, login, password, "198.51.100.7").user.id == created.id
    entry = [r for r in audit_rows(demo) if r[2] == "user.create" and r[4] == login]
    assert len(entry) == 1
    assert entry[0][1] == actor and entry[0][3] == "ok"


# ---------------------------------------------------------------------------------------------
# Refused attempts: PermissionDenied, nothing changed, one "refused" entry in the audit log.

def _create(login: str, role: Role, company_name: str | None = None):
    def attempt(s, ctx, hasher, settings):
        accounts.create_user(s, ctx, hasher, login=login, display_name="Intrus", role=role,
                             company=company(s, company_name) if company_name else None)
    return attempt


def _grant(login: str, company_name: str, folder: str, level: Level):
    def attempt(s, ctx, hasher, settings):
        accounts.grant(s, ctx, user(s, login), company(s, company_name), folder, level)
    return attempt


REFUSED: dict[str, tuple[str, Callable, str, str | None]] = {
    # name: (actor, attempt, audited action, company of the audit entry)
    "assistant_creates_associe": (
        "assistant", _create("pirate", Role.ASSOCIE), "user.create", None),
    "associe_creates_associe": (
        "associe", _create("pirate", Role.ASSOCIE), "user.create", None),
    "utilisateur_creates_utilisateur": (
        "secretaire", _create("pirate", Role.UTILISATEUR, BAKERY), "user.create", BAKERY),
    "interlocuteur_creates_user_of_other_company": (
        "martin", _create("pirate", Role.UTILISATEUR, GARAGE), "user.create", GARAGE),
    "utilisateur_grants_herself_write": (
        "secretaire", _grant("secretaire", BAKERY, "Fiscalité", Level.WRITE),
        "habilitation.grant", BAKERY),
    "interlocuteur_grants_user_of_other_company": (
        "martin", _grant("atelier", GARAGE, "Achats", Level.READ), "habilitation.grant",
        GARAGE),
    "associe_grants_on_company_out_of_his_portfolios": (
        "associe", _grant("assistant", JOINERY, "Achats", Level.WRITE),
        "habilitation.grant", JOINERY),
    "associe_revokes_on_company_out_of_his_portfolios": (
        "associe", _grant("assistant", JOINERY, "Achats", Level.NONE),
        "habilitation.grant", JOINERY),
    "utilisateur_grants_herself_messaging": (
        "secretaire", lambda s, ctx, h, st: accounts.grant_service(
            s, ctx, user(s, "secretaire"), company(s, BAKERY), Service.MESSAGING, True),
        "service.grant", BAKERY),
    "associe_adds_himself_to_a_portfolio": (
        "associe", lambda s, ctx, h, st: portfolios.set_member(
            s, ctx, portfolio(s, "Commerces de bouche"), user(s, "associe"), True),
        "portfolio.add_member", None),
    "associe_pulls_foreign_company_into_his_portfolio": (
        "associe", lambda s, ctx, h, st: portfolios.set_company(
            s, ctx, portfolio(s, "Tous les clients"), company(s, JOINERY), True),
        "portfolio.add_company", JOINERY),
    "associe_disconnects_foreign_company": (
        "associe", lambda s, ctx, h, st: companies.set_status(
            s, ctx, company(s, JOINERY), CompanyStatus.DISCONNECTED),
        "company.disconnect", JOINERY),
    "assistant_disables_utilisateur": (
        "assistant", lambda s, ctx, h, st: accounts.set_active(
            s, ctx, user(s, "secretaire"), False), "user.disable", BAKERY),
    "interlocuteur_disables_himself": (
        "martin", lambda s, ctx, h, st: accounts.set_active(s, ctx, user(s, "martin"), False),
        "user.disable", BAKERY),
    "interlocuteur_resets_other_interlocuteur": (
        "dupont", lambda s, ctx, h, st: accounts.reset_password(s, ctx, h, user(s, "martin")),
        "user.password_reset", BAKERY),
    "assistant_creates_company": (
        "assistant", lambda s, ctx, h, st: companies.create_company(
            s, ctx, h, st.folders, CompanyInput(name="Intruse", siren=NEW_SIREN),
            interlocuteur_login="intrus", interlocuteur_name="Intrus"),
        "company.create", None),
    "associe_creates_company_outside_his_portfolios": (
        "associe", lambda s, ctx, h, st: companies.create_company(
            s, ctx, h, st.folders, CompanyInput(name="Intruse", siren=NEW_SIREN),
            interlocuteur_login="intrus", interlocuteur_name="Intrus",
            portfolio=portfolio(s, "Bois")),
        "company.create", None),
    "associe_creates_portfolio": (
        "associe", lambda s, ctx, h, st: portfolios.create_portfolio(s, ctx, "Perso"),
        "portfolio.create", None),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_attempt_changes_nothing_and_is_audited(world, hasher, settings, ctx_of, name):
    actor, attempt, action, company_name = REFUSED[name]
    ctx = ctx_of(actor)
    before, log_before = snapshot(world), audit_rows(world)
    with pytest.raises(PermissionDenied) as refused:
        with admin_transaction(world, ctx) as s:
            attempt(s, ctx, hasher, settings)
    reason = refused.value.reason
    assert reason.strip()
    assert snapshot(world) == before
    log_after = audit_rows(world)
    assert log_after[:len(log_before)] == log_before
    [entry] = log_after[len(log_before):]
    _, actor_login, entry_action, outcome, _, company_id, detail = entry
    assert (actor_login, entry_action, outcome, detail) == (actor, action, "refused", reason)
    with world.session() as s:
        assert company_id == (company(s, company_name).id if company_name else None)


def test_a_refusal_undoes_the_whole_transaction(world, hasher, ctx_of):
    ctx = ctx_of("martin")
    before = snapshot(world)
    with pytest.raises(PermissionDenied):
        with admin_transaction(world, ctx) as s:
            accounts.create_user(s, ctx, hasher, login="stagiaire", display_name="Stagiaire",
                                 role=Role.UTILISATEUR, company=company(s, BAKERY))
            accounts.grant(s, ctx, user(s, "stagiaire"), company(s, BAKERY), "Achats",
                           Level.WRITE)
            accounts.grant(s, ctx, user(s, "atelier"), company(s, GARAGE), "Achats",
                           Level.WRITE)
    assert snapshot(world) == before
    mine = [r for r in audit_rows(world) if r[1] == "martin"]
    assert [(r[2], r[3]) for r in mine[-1:]] == [("habilitation.grant", "refused")]
    assert not [r for r in mine if "stagiaire" in r[4]]


# ---------------------------------------------------------------------------------------------
# Granted rights, as the permission function sees them.

def test_interlocuteur_grants_read_on_a_folder(demo, ctx_of):
    assert decide(demo, "secretaire", Action.READ, BAKERY, "Fiscalité").reason == HIDDEN
    ctx = ctx_of("martin")
    with admin_transaction(demo, ctx) as s:
        accounts.grant(s, ctx, user(s, "secretaire"), company(s, BAKERY), "Fiscalité",
                       Level.READ)
    assert decide(demo, "secretaire", Action.READ, BAKERY, "Fiscalité")
    write = decide(demo, "secretaire", Action.WRITE, BAKERY, "Fiscalité")
    assert not write
    assert write.reason == "Vous n'avez qu'un droit de lecture sur « Fiscalité »."
    # Her other folders are untouched.
    assert decide(demo, "secretaire", Action.WRITE, BAKERY, "Achats")
    assert decide(demo, "secretaire", Action.READ, BAKERY, "Social").reason == HIDDEN
    [entry] = [r for r in audit_rows(demo) if r[2] == "habilitation.grant" and r[1] == "martin"
               and "Fiscalité" in r[4]]
    assert entry[3] == "ok" and "lecture" in entry[6]


def test_interlocuteur_takes_a_right_back(demo, ctx_of):
    assert decide(demo, "secretaire", Action.WRITE, BAKERY, "Banque")
    ctx = ctx_of("martin")
    with admin_transaction(demo, ctx) as s:
        accounts.grant(s, ctx, user(s, "secretaire"), company(s, BAKERY), "Banque", Level.NONE)
    assert decide(demo, "secretaire", Action.READ, BAKERY, "Banque").reason == HIDDEN


def test_associe_narrows_an_assistant_to_read(demo, ctx_of):
    assert decide(demo, "assistant", Action.WRITE, BAKERY, "Social")
    ctx = ctx_of("associe")
    with admin_transaction(demo, ctx) as s:
        accounts.grant(s, ctx, user(s, "assistant"), company(s, BAKERY), "Social", Level.READ)
    assert decide(demo, "assistant", Action.READ, BAKERY, "Social")
    assert not decide(demo, "assistant", Action.WRITE, BAKERY, "Social")
    assert decide(demo, "assistant", Action.WRITE, BAKERY, "Achats")


def test_interlocuteur_grants_messaging(demo, ctx_of):
    assert not decide(demo, "secretaire", Action.MESSAGING, BAKERY)
    ctx = ctx_of("martin")
    with admin_transaction(demo, ctx) as s:
        accounts.grant_service(s, ctx, user(s, "secretaire"), company(s, BAKERY),
                               Service.MESSAGING, True)
    assert decide(demo, "secretaire", Action.MESSAGING, BAKERY)
    assert not decide(demo, "secretaire", Action.INVOICING, BAKERY)


def test_portfolio_membership_opens_and_closes_a_company(demo, ctx_of):
    assert decide(demo, "assistant", Action.READ, GARAGE).reason == NOT_FOUND
    ctx = ctx_of("expert")
    with admin_transaction(demo, ctx) as s:
        portfolios.set_member(s, ctx, portfolio(s, "Tous les clients"), user(s, "assistant"),
                              True)
    assert decide(demo, "assistant", Action.WRITE, GARAGE, "Ventes")
    with admin_transaction(demo, ctx) as s:
        portfolios.set_member(s, ctx, portfolio(s, "Tous les clients"), user(s, "assistant"),
                              False)
    assert decide(demo, "assistant", Action.READ, GARAGE).reason == NOT_FOUND


def test_a_disabled_account_is_refused_everything(demo, ctx_of):
    ctx = ctx_of("martin")
    with admin_transaction(demo, ctx) as s:
        accounts.set_active(s, ctx, user(s, "secretaire"), False)
    assert decide(demo, "secretaire", Action.READ, BAKERY, "Achats").reason == \
        "Ce compte est désactivé."


# ---------------------------------------------------------------------------------------------
# The audit log is append-only.

@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET outcome = 'ok'",
    "UPDATE audit_entry SET actor_login = 'personne' WHERE action = 'install'",
    "DELETE FROM audit_entry",
    "DELETE FROM audit_entry WHERE action = 'user.create'",
], ids=["update_all", "update_one", "delete_all", "delete_some"])
def test_audit_entries_cannot_be_changed(demo, statement):
    before = audit_rows(demo)
    assert any(r[2] == "install" for r in before) and any(r[2] == "user.create" for r in before)
    with pytest.raises(DBAPIError, match="append-only"):
        with demo.transaction() as s:
            s.execute(text(statement))
            s.flush()
    assert audit_rows(demo) == before


def test_audit_entries_cannot_be_changed_through_the_orm(demo):
    before = audit_rows(demo)
    with pytest.raises(DBAPIError, match="append-only"):
        with demo.transaction() as s:
            entry = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).first()
            entry.outcome = "refused"
            s.flush()
    with pytest.raises(DBAPIError, match="append-only"):
        with demo.transaction() as s:
            s.delete(s.scalars(select(AuditEntry).order_by(AuditEntry.id)).first())
            s.flush()
    assert audit_rows(demo) == before


# ---------------------------------------------------------------------------------------------
# Companies.

def test_new_company_has_the_standard_tree_and_an_interlocuteur(demo, hasher, settings, ctx_of):
    ctx = ctx_of("expert")
    with admin_transaction(demo, ctx) as s:
        created = companies.create_company(
            s, ctx, hasher, settings.folders, CompanyInput(name=JOINERY, siren=JOINERY_SIREN),
            interlocuteur_login="bernard", interlocuteur_name="Luc Bernard")
        password = created.interlocuteur.initial_password
    with demo.transaction() as s:
        joinery = company(s, JOINERY)
        assert standard_folders(s, joinery.id) == list(DEFAULT_TREE)
        bernard = user(s, "bernard")
        assert (bernard.role, bernard.company_id) == (Role.INTERLOCUTEUR.value, joinery.id)
        assert bernard.must_change_password
        assert authenticate(s, hasher, "bernard", password, "198.51.100.7").user is not None
    for folder in DEFAULT_TREE:
        assert decide(demo, "bernard", Action.READ, JOINERY, folder)
        assert decide(demo, "bernard", Action.WRITE, JOINERY, folder)
    assert decide(demo, "bernard", Action.MESSAGING, JOINERY)
    assert decide(demo, "bernard", Action.INVOICING, JOINERY)
    # His own company only; and an associé without it in a portfolio does not reach it.
    assert decide(demo, "bernard", Action.READ, BAKERY).reason == NOT_FOUND
    assert decide(demo, "associe", Action.READ, JOINERY).reason == NOT_FOUND
    assert decide(demo, "expert", Action.WRITE, JOINERY, "Achats")


def test_the_firms_own_tree_is_used(demo, hasher, ctx_of):
    folders = FoldersSettings(tree=("Compta", "Paie", "Divers"),
                              subfolders={"Paie": ("Bulletins",)})
    ctx = ctx_of("expert")
    with admin_transaction(demo, ctx) as s:
        companies.create_company(s, ctx, hasher, folders,
                                 CompanyInput(name=JOINERY, siren=JOINERY_SIREN),
                                 interlocuteur_login="bernard", interlocuteur_name="Luc Bernard")
    with demo.session() as s:
        joinery = company(s, JOINERY)
        assert standard_folders(s, joinery.id) == ["Compta", "Paie", "Divers"]
        names = set(s.scalars(select(Node.name).where(Node.company_id == joinery.id)))
        assert "Bulletins" in names and "Achats" not in names


def test_associe_creates_a_company_in_his_portfolio(demo, hasher, settings, ctx_of):
    ctx = ctx_of("associe")
    with admin_transaction(demo, ctx) as s:
        companies.create_company(
            s, ctx, hasher, settings.folders, CompanyInput(name=JOINERY, siren=JOINERY_SIREN),
            interlocuteur_login="bernard", interlocuteur_name="Luc Bernard",
            portfolio=portfolio(s, "Tous les clients"))
    assert decide(demo, "associe", Action.WRITE, JOINERY, "Achats")
    # The assistant's portfolio does not hold it.
    assert decide(demo, "assistant", Action.READ, JOINERY).reason == NOT_FOUND


# ---------------------------------------------------------------------------------------------
# A new account holds no rights until given some.

def test_new_utilisateur_sees_no_folder(demo, hasher, ctx_of):
    ctx = ctx_of("martin")
    with admin_transaction(demo, ctx) as s:
        accounts.create_user(s, ctx, hasher, login="comptable", display_name="Paul Comptable",
                             role=Role.UTILISATEUR, company=company(s, BAKERY))
    for folder in DEFAULT_TREE:
        decision = decide(demo, "comptable", Action.READ, BAKERY, folder)
        assert decision.reason == HIDDEN, folder
    assert not decide(demo, "comptable", Action.MESSAGING, BAKERY)
    assert not decide(demo, "comptable", Action.INVOICING, BAKERY)
    assert decide(demo, "comptable", Action.READ, GARAGE).reason == NOT_FOUND


@pytest.mark.parametrize(("actor", "role"), [("associe", Role.ASSISTANT),
                                             ("expert", Role.ASSOCIE)],
                         ids=["assistant", "associe"])
def test_new_cabinet_member_without_portfolio_reaches_no_company(demo, hasher, ctx_of, actor,
                                                                 role):
    ctx = ctx_of(actor)
    with admin_transaction(demo, ctx) as s:
        accounts.create_user(s, ctx, hasher, login="nouveau", display_name="Nouveau Venu",
                             role=role)
    with demo.session() as s:
        assert companies.visible_companies(s, load_principal(s, user(s, "nouveau"))) == []
    for name in (BAKERY, GARAGE):
        assert decide(demo, "nouveau", Action.READ, name).reason == NOT_FOUND


# ---------------------------------------------------------------------------------------------
# Invalid input: a French reason, nothing created.

def _new_company(siren: str, login: str = "bernard"):
    def attempt(s, ctx, hasher, settings):
        companies.create_company(s, ctx, hasher, settings.folders,
                                 CompanyInput(name=JOINERY, siren=siren),
                                 interlocuteur_login=login, interlocuteur_name="Luc Bernard")
    return attempt


def _new_user(login: str):
    def attempt(s, ctx, hasher, settings):
        accounts.create_user(s, ctx, hasher, login=login, display_name="Paul Comptable",
                             role=Role.UTILISATEUR, company=company(s, BAKERY))
    return attempt


INVALID = {
    # name: (actor, attempt, field, words of the reason)
    "siren_bad_check_digit": ("expert", _new_company("443061842"), "siren", "SIREN invalide"),
    "siren_not_digits": ("expert", _new_company("44306184A"), "siren", "SIREN invalide"),
    "siren_too_short": ("expert", _new_company("44306184"), "siren", "SIREN invalide"),
    "siren_taken": ("expert", _new_company("732829320"), "siren", "existe déjà"),
    "siren_taken_with_spaces": ("expert", _new_company("732 829 320"), "siren", "existe déjà"),
    # The company row is written before the interlocuteur: it must go too.
    "interlocuteur_login_taken": ("expert", _new_company(JOINERY_SIREN, "martin"), "login",
                                  "déjà pris"),
    "login_taken": ("martin", _new_user("secretaire"), "login", "déjà pris"),
    "login_taken_other_case": ("martin", _new_user(" Secretaire "), "login", "déjà pris"),
    "login_malformed": ("martin", _new_user("paul comptable"), "login", "Identifiant invalide"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_input_creates_nothing(demo, hasher, settings, ctx_of, name):
    actor, attempt, field, words = INVALID[name]
    ctx = ctx_of(actor)
    before, log_before = snapshot(demo), audit_rows(demo)
    with pytest.raises(InvalidInput) as invalid:
        with admin_transaction(demo, ctx) as s:
            attempt(s, ctx, hasher, settings)
    assert invalid.value.field == field
    assert words in invalid.value.reason
    assert snapshot(demo) == before
    assert audit_rows(demo) == log_before

