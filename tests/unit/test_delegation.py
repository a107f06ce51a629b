"""Who may administer whom (`acl.rights.delegation`), as tables over hand-built principals."""

from __future__ import annotations

import dataclasses
import itertools
import unicodedata

import pytest

from acl.rights import delegation
from acl.rights.models import Level, Role, Service
from acl.rights.policy import Decision, Principal, folder_level

OWN = 1  # company of the company-side principals, in portfolio 10
OTHER = 2  # another company, in portfolio 11
MINE = 10  # portfolio of `associe` and `assistant`: OWN
THEIRS = 11  # portfolio of `other_associe` and `other_assistant`: OTHER

OK = "ok"
DISABLED = "Votre compte est désactivé."
SELF = "Vous ne pouvez pas administrer votre propre compte."
NOT_FOUND = "Entreprise introuvable."
NOT_YOURS = "Ce portefeuille n'est pas l'un des vôtres."
USER_NOT_IN_COMPANY = "Cet utilisateur n'appartient pas à cette entreprise."
COMPOSERS_ONLY = "Seuls le correspondant et les associés composent les portefeuilles."
ASSISTANT_ELSEWHERE = ("Cet assistant travaille aussi sur des entreprises hors de vos "
                       "portefeuilles : le correspondant l'administre.")
ASSISTANT_NOT_MINE = "Cet assistant n'est dans aucun de vos portefeuilles."

P = {
    "correspondant": Principal(1, "expert", Role.CORRESPONDANT),
    "associe": Principal(2, "associe", Role.ASSOCIE, portfolio_ids=frozenset({MINE}),
                         portfolio_company_ids=frozenset({OWN})),
    "other_associe": Principal(3, "associe2", Role.ASSOCIE, portfolio_ids=frozenset({THEIRS}),
                               portfolio_company_ids=frozenset({OTHER})),
    "assistant": Principal(4, "assistant", Role.ASSISTANT, portfolio_ids=frozenset({MINE}),
                           portfolio_company_ids=frozenset({OWN})),
    "other_assistant": Principal(5, "assistant2", Role.ASSISTANT,
                                 portfolio_ids=frozenset({THEIRS}),
                                 portfolio_company_ids=frozenset({OTHER})),
    # In the associé's portfolio, and in another one too (issue 15: taking her over would
    # open its companies).
    "shared_assistant": Principal(13, "assistant3", Role.ASSISTANT,
                                  portfolio_ids=frozenset({MINE, THEIRS}),
                                  portfolio_company_ids=frozenset({OWN, OTHER})),
    # In the portfolio of another associé holding only companies of the associé's too.
    "sibling_assistant": Principal(14, "assistant4", Role.ASSISTANT,
                                   portfolio_ids=frozenset({THEIRS}),
                                   portfolio_company_ids=frozenset({OWN})),
    "new_assistant": Principal(15, "assistant5", Role.ASSISTANT),  # in no portfolio yet
    "disconnected_interlocuteur": Principal(16, "martin2", Role.INTERLOCUTEUR, company_id=OWN,
                                            company_active=False),
    "interlocuteur": Principal(6, "martin", Role.INTERLOCUTEUR, company_id=OWN),
    "utilisateur": Principal(7, "secretaire", Role.UTILISATEUR, company_id=OWN,
                             folder_levels={(OWN, "Fiscalité"): Level.READ,
                                            (OWN, "Achats"): Level.WRITE}),
    "second_utilisateur": Principal(8, "comptable", Role.UTILISATEUR, company_id=OWN),
    "other_interlocuteur": Principal(9, "dupont", Role.INTERLOCUTEUR, company_id=OTHER),
    "other_utilisateur": Principal(12, "magasinier", Role.UTILISATEUR, company_id=OTHER),
}
ONE_PER_ROLE = {"correspondant": Role.CORRESPONDANT, "associe": Role.ASSOCIE,
                "assistant": Role.ASSISTANT, "interlocuteur": Role.INTERLOCUTEUR,
                "utilisateur": Role.UTILISATEUR}


def disabled(name: str) -> Principal:
    return dataclasses.replace(P[name], active=False)


def check(decision: Decision, expected: str) -> None:
    if expected == OK:
        assert decision.allowed, f"refusé à tort : {decision.reason}"
        return
    assert not decision.allowed
    assert decision.reason, "a refusal must say why"
    assert decision.reason == expected


def cannot_create(actor: Role, role: Role) -> str:
    return f"Un compte « {actor.value} » ne peut pas créer de compte « {role.value} »."


def table(rows: list[tuple]) -> list:
    """Parameters named after everything but the expected answer."""
    numbers = {OWN: "own", OTHER: "other", MINE: "mine", THEIRS: "theirs"}

    def name(value) -> str:
        if value is None:
            return "nil"
        if type(value) is int:
            return numbers[value]
        text = str(getattr(value, "name", value)).lower()
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()

    return [pytest.param(*row, id="-".join(name(v) for v in row[:-1])) for row in rows]


# ---------------------------------------------------------------------------------------------
# Creating accounts.

ONLY_ONE = "Le correspondant est créé à l'installation ; il n'y en a qu'un."
WITH_COMPANY = "L'interlocuteur est créé avec le compte de son entreprise."
OWN_COMPANY_ONLY = "Vous ne pouvez créer des utilisateurs que pour votre entreprise."
AT_ONBOARDING_ONLY = ("Les utilisateurs d'une entreprise existante sont créés par son "
                      "interlocuteur ; le cabinet les crée seulement dans l'import qui crée "
                      "l'entreprise.")
CORR, ASSO, ASST, INTL, UTIL = (Role.CORRESPONDANT, Role.ASSOCIE, Role.ASSISTANT,
                                Role.INTERLOCUTEUR, Role.UTILISATEUR)

#  actor,           role created, company, expected
CREATE_TABLE = [
    ("correspondant", ASSO, None, OK),
    ("correspondant", ASST, None, OK),
    ("correspondant", CORR, None, ONLY_ONE),
    ("correspondant", INTL, OWN, WITH_COMPANY),
    ("correspondant", UTIL, OWN, AT_ONBOARDING_ONLY),
    ("associe", ASST, None, OK),
    ("associe", ASSO, None, cannot_create(ASSO, ASSO)),
    ("associe", CORR, None, ONLY_ONE),
    ("associe", INTL, OWN, WITH_COMPANY),
    ("associe", UTIL, OWN, AT_ONBOARDING_ONLY),
    ("assistant", ASSO, None, cannot_create(ASST, ASSO)),  # escalation
    ("assistant", ASST, None, cannot_create(ASST, ASST)),
    ("assistant", CORR, None, ONLY_ONE),
    ("assistant", UTIL, OWN, cannot_create(ASST, UTIL)),
    ("interlocuteur", UTIL, OWN, OK),
    ("interlocuteur", UTIL, OTHER, OWN_COMPANY_ONLY),  # escalation
    ("interlocuteur", UTIL, None, OWN_COMPANY_ONLY),
    ("interlocuteur", INTL, OWN, WITH_COMPANY),
    ("interlocuteur", ASST, None, cannot_create(INTL, ASST)),
    ("interlocuteur", ASSO, None, cannot_create(INTL, ASSO)),
    ("utilisateur", UTIL, OWN, cannot_create(UTIL, UTIL)),
    ("utilisateur", INTL, OWN, WITH_COMPANY),
    ("utilisateur", ASST, None, cannot_create(UTIL, ASST)),
    ("utilisateur", ASSO, None, cannot_create(UTIL, ASSO)),
]


@pytest.mark.parametrize(("actor", "role", "company", "expected"), table(CREATE_TABLE))
def test_may_create_user(actor, role, company, expected):
    check(delegation.may_create_user(P[actor], role, company), expected)


def test_exactly_these_roles_create_these_accounts():
    allowed = {
        (actor_role, role)
        for (name, actor_role), role in itertools.product(ONE_PER_ROLE.items(), Role)
        if delegation.may_create_user(P[name], role, P[name].company_id)
    }
    assert allowed == {(CORR, ASSO), (CORR, ASST), (ASSO, ASST), (INTL, UTIL)}


@pytest.mark.parametrize("actor", ["correspondant", "associe"])
def test_the_firm_sets_up_the_people_of_the_company_it_is_creating(actor):
    """Onboarding: in the act that creates a company, its creator creates its utilisateurs
    and manages them (their folders); not those of another company, and not afterwards."""
    onboarding = dataclasses.replace(P[actor], onboarding=frozenset({OWN}))
    check(delegation.may_create_user(onboarding, UTIL, OWN), OK)
    check(delegation.may_create_user(onboarding, UTIL, OTHER), AT_ONBOARDING_ONLY)
    check(delegation.may_create_user(P[actor], UTIL, OWN), AT_ONBOARDING_ONLY)
    newcomer = Principal(9, "lea", Role.UTILISATEUR, company_id=OWN)
    check(delegation.may_manage_user(onboarding, newcomer), OK)
    check(delegation.may_grant(onboarding, newcomer, OWN, "Achats", Level.WRITE), OK)
    check(delegation.may_create_user(dataclasses.replace(disabled(actor),
                                                         onboarding=frozenset({OWN})),
                                     UTIL, OWN), DISABLED)


@pytest.mark.parametrize(("actor", "role"), [("correspondant", ASSO), ("associe", ASST),
                                             ("interlocuteur", UTIL)],
                         ids=["correspondant", "associe", "interlocuteur"])
def test_a_disabled_account_creates_nobody(actor, role):
    check(delegation.may_create_user(disabled(actor), role, P[actor].company_id), DISABLED)


# ---------------------------------------------------------------------------------------------
# Companies.

NEED_PORTFOLIO = ("Indiquez l'un de vos portefeuilles : sans lui, la nouvelle entreprise vous "
                  "serait inaccessible.")
PARTNERS_CREATE = "Seuls le correspondant et les associés créent des entreprises."
PARTNERS_EDIT = "Seuls le correspondant et les associés administrent les entreprises."

COMPANY_CREATE_TABLE = [
    ("correspondant", None, OK),
    ("correspondant", THEIRS, OK),
    ("associe", MINE, OK),
    ("associe", None, NEED_PORTFOLIO),
    ("associe", THEIRS, NOT_YOURS),
    ("assistant", MINE, PARTNERS_CREATE),
    ("interlocuteur", None, PARTNERS_CREATE),
    ("utilisateur", None, PARTNERS_CREATE),
]


@pytest.mark.parametrize(("actor", "portfolio", "expected"), table(COMPANY_CREATE_TABLE))
def test_may_create_company(actor, portfolio, expected):
    check(delegation.may_create_company(P[actor], portfolio), expected)


def test_a_disabled_associe_creates_no_company():
    check(delegation.may_create_company(disabled("associe"), MINE), DISABLED)


COMPANY_EDIT_TABLE = [
    ("correspondant", OWN, OK),
    ("correspondant", OTHER, OK),
    ("associe", OWN, OK),
    ("associe", OTHER, NOT_FOUND),
    ("assistant", OWN, PARTNERS_EDIT),
    ("interlocuteur", OWN, PARTNERS_EDIT),  # not even his own company's protection date
    ("utilisateur", OWN, PARTNERS_EDIT),
]


@pytest.mark.parametrize(("actor", "company", "expected"), table(COMPANY_EDIT_TABLE))
def test_may_edit_company(actor, company, expected):
    check(delegation.may_edit_company(P[actor], company), expected)


# ---------------------------------------------------------------------------------------------
# Managing accounts (disable, reset a password, grant).

ASSOCIE_MANAGES = ("Un associé administre les assistants et les interlocuteurs de ses "
                   "entreprises.")
INTERLOCUTEUR_MANAGES = "Un interlocuteur administre les utilisateurs de son entreprise."


def manages_nobody(role: Role) -> str:
    return f"Un compte « {role.value} » n'administre aucun compte."


MANAGE_TABLE = [
    ("correspondant", "associe", OK),
    ("correspondant", "assistant", OK),
    ("correspondant", "interlocuteur", OK),
    ("correspondant", "other_utilisateur", OK),
    ("associe", "assistant", OK),
    # Issue 15: an associé manages the assistants of his own portfolios who reach no other
    # company (an associé of Garage Dupont took over Boulangerie Martin's assistant).
    ("associe", "other_assistant", ASSISTANT_ELSEWHERE),
    ("associe", "shared_assistant", ASSISTANT_ELSEWHERE),
    ("associe", "sibling_assistant", ASSISTANT_NOT_MINE),
    ("associe", "new_assistant", OK),
    ("associe", "interlocuteur", OK),
    ("associe", "other_interlocuteur", ASSOCIE_MANAGES),  # company out of his portfolios
    ("associe", "utilisateur", ASSOCIE_MANAGES),
    ("associe", "other_associe", ASSOCIE_MANAGES),
    ("associe", "correspondant", ASSOCIE_MANAGES),
    ("assistant", "other_assistant", manages_nobody(ASST)),
    ("assistant", "utilisateur", manages_nobody(ASST)),
    ("assistant", "associe", manages_nobody(ASST)),
    ("interlocuteur", "utilisateur", OK),
    ("interlocuteur", "second_utilisateur", OK),
    # Issue 15: a disconnected company's administration is closed to its own people.
    ("disconnected_interlocuteur", "utilisateur", delegation.DISCONNECTED),
    ("interlocuteur", "other_utilisateur", INTERLOCUTEUR_MANAGES),
    ("interlocuteur", "other_interlocuteur", INTERLOCUTEUR_MANAGES),
    ("interlocuteur", "assistant", INTERLOCUTEUR_MANAGES),
    ("utilisateur", "second_utilisateur", manages_nobody(UTIL)),
    ("utilisateur", "interlocuteur", manages_nobody(UTIL)),
]


@pytest.mark.parametrize(("actor", "target", "expected"), table(MANAGE_TABLE))
def test_may_manage_user(actor, target, expected):
    check(delegation.may_manage_user(P[actor], P[target]), expected)


@pytest.mark.parametrize("who", list(P))
def test_nobody_manages_their_own_account(who):
    expected = delegation.DISCONNECTED if not P[who].company_active else SELF
    check(delegation.may_manage_user(P[who], P[who]), expected)


def test_a_disabled_correspondant_manages_nobody():
    check(delegation.may_manage_user(disabled("correspondant"), P["assistant"]), DISABLED)


# ---------------------------------------------------------------------------------------------
# Folder rights.

def fixed(role: Role) -> str:
    return f"Un compte « {role.value} » a des droits fixes sur ses entreprises."


ASSISTANT_NOT_THERE = "Cet assistant n'est dans aucun portefeuille contenant cette entreprise."

#  actor, target, company, folder, level, expected
GRANT_TABLE = [
    ("interlocuteur", "utilisateur", OWN, "Fiscalité", Level.WRITE, OK),
    ("interlocuteur", "utilisateur", OWN, "Fiscalité", Level.READ, OK),
    ("interlocuteur", "utilisateur", OWN, "Achats", Level.NONE, OK),
    ("interlocuteur", "second_utilisateur", OWN, "Banque", Level.WRITE, OK),
    ("interlocuteur", "utilisateur", OTHER, "Achats", Level.READ, NOT_FOUND),
    ("interlocuteur", "other_utilisateur", OTHER, "Achats", Level.READ,
     INTERLOCUTEUR_MANAGES),  # escalation: another company's user
    ("interlocuteur", "other_interlocuteur", OTHER, "Achats", Level.NONE,
     INTERLOCUTEUR_MANAGES),
    ("associe", "assistant", OWN, "Social", Level.NONE, OK),
    ("associe", "assistant", OWN, "Social", Level.READ, OK),
    ("associe", "assistant", OWN, "Social", Level.WRITE, OK),
    ("associe", "interlocuteur", OWN, "Social", Level.READ, fixed(INTL)),
    ("correspondant", "associe", OWN, "Social", Level.READ, fixed(ASSO)),
    ("correspondant", "interlocuteur", OWN, "Social", Level.NONE, fixed(INTL)),
    ("correspondant", "other_assistant", OTHER, "Social", Level.WRITE, OK),
    ("correspondant", "assistant", OTHER, "Social", Level.READ, ASSISTANT_NOT_THERE),
    ("correspondant", "utilisateur", OTHER, "Social", Level.READ, USER_NOT_IN_COMPANY),
    ("correspondant", "other_utilisateur", OTHER, "Social", Level.WRITE, OK),
    # Escalations: an associé acting on a company out of his portfolios, through an assistant
    # of another portfolio; not even to take a right away.
    ("associe", "other_assistant", OTHER, "Social", Level.WRITE, ASSISTANT_ELSEWHERE),
    ("associe", "other_assistant", OTHER, "Social", Level.READ, ASSISTANT_ELSEWHERE),
    ("associe", "other_assistant", OTHER, "Social", Level.NONE, ASSISTANT_ELSEWHERE),
    # Escalations: company users granting (their read on Fiscalité gives them nothing).
    ("utilisateur", "utilisateur", OWN, "Achats", Level.WRITE, SELF),
    ("utilisateur", "utilisateur", OWN, "Fiscalité", Level.WRITE, SELF),
    ("utilisateur", "second_utilisateur", OWN, "Fiscalité", Level.READ, manages_nobody(UTIL)),
    ("utilisateur", "second_utilisateur", OWN, "Achats", Level.WRITE, manages_nobody(UTIL)),
    ("assistant", "second_utilisateur", OWN, "Achats", Level.READ, manages_nobody(ASST)),
    ("assistant", "assistant", OWN, "Achats", Level.WRITE, SELF),
]


@pytest.mark.parametrize(("actor", "target", "company", "folder", "level", "expected"),
                         table(GRANT_TABLE))
def test_may_grant(actor, target, company, folder, level, expected):
    check(delegation.may_grant(P[actor], P[target], company, folder, level), expected)


def test_only_assistants_and_utilisateurs_hold_grantable_rights():
    # The correspondant grants on a company every target reaches (another correspondant
    # stands in for the only one, who may not administer himself).
    grantable = {role for name, role in ONE_PER_ROLE.items()
                 if delegation.may_grant(P["correspondant"],
                                         dataclasses.replace(P[name], user_id=99),
                                         OWN, "Achats", Level.READ)}
    assert grantable == {Role.ASSISTANT, Role.UTILISATEUR}


def test_nobody_grants_more_than_they_hold():
    """For every actor, target, company and level: a grant allowed never exceeds the actor's
    own right on the folder."""
    checked = 0
    for actor, target, company, level in itertools.product(
            P.values(), P.values(), (OWN, OTHER), Level):
        decision = delegation.may_grant(actor, target, company, "Achats", level)
        if decision:
            checked += 1
            assert level <= folder_level(actor, company, "Achats"), (actor.login, target.login)
        else:
            assert decision.reason
    assert checked > 0


def test_a_disabled_interlocuteur_grants_nothing():
    check(delegation.may_grant(disabled("interlocuteur"), P["utilisateur"], OWN, "Achats",
                               Level.NONE), DISABLED)


# ---------------------------------------------------------------------------------------------
# Services (messaging, invoicing).

SERVICES_FOR_USERS = ("Messagerie et facturation se règlent pour les utilisateurs d'une "
                      "entreprise.")
CANNOT_GIVE_INVOICING = "Vous ne pouvez pas accorder la facturation : vous ne l'avez pas."
M, F = Service.MESSAGING, Service.INVOICING

#  actor, target, company, service, granted, expected
SERVICE_TABLE = [
    ("interlocuteur", "utilisateur", OWN, M, True, OK),
    ("interlocuteur", "utilisateur", OWN, F, True, OK),
    ("interlocuteur", "utilisateur", OWN, F, False, OK),
    ("correspondant", "utilisateur", OWN, M, True, OK),
    ("correspondant", "utilisateur", OWN, F, False, OK),
    # The cabinet has no invoicing, so it cannot hand it out.
    ("correspondant", "utilisateur", OWN, F, True, CANNOT_GIVE_INVOICING),
    ("correspondant", "assistant", OWN, M, False, SERVICES_FOR_USERS),
    ("correspondant", "interlocuteur", OWN, F, False, SERVICES_FOR_USERS),
    ("correspondant", "utilisateur", OTHER, M, True, USER_NOT_IN_COMPANY),
    ("associe", "utilisateur", OWN, M, True, ASSOCIE_MANAGES),
    ("interlocuteur", "other_utilisateur", OTHER, M, True, INTERLOCUTEUR_MANAGES),
    ("utilisateur", "utilisateur", OWN, F, True, SELF),  # escalation
    ("utilisateur", "second_utilisateur", OWN, M, True, manages_nobody(UTIL)),
]


@pytest.mark.parametrize(("actor", "target", "company", "service", "granted", "expected"),
                         table(SERVICE_TABLE))
def test_may_grant_service(actor, target, company, service, granted, expected):
    check(delegation.may_grant_service(P[actor], P[target], company, service, granted), expected)


# ---------------------------------------------------------------------------------------------
# Portfolios.

CORRESPONDANT_ONLY = "Seul le correspondant crée, renomme et supprime les portefeuilles."


@pytest.mark.parametrize(("actor", "expected"), table([
    ("correspondant", OK),
    ("associe", CORRESPONDANT_ONLY),
    ("assistant", CORRESPONDANT_ONLY),
    ("interlocuteur", CORRESPONDANT_ONLY),
    ("utilisateur", CORRESPONDANT_ONLY),
]))
def test_may_manage_portfolios(actor, expected):
    check(delegation.may_manage_portfolios(P[actor]), expected)


def test_a_disabled_correspondant_manages_no_portfolio():
    check(delegation.may_manage_portfolios(disabled("correspondant")), CORRESPONDANT_ONLY)


PORTFOLIO_COMPANY_TABLE = [
    ("correspondant", THEIRS, OWN, OK),
    ("correspondant", MINE, OTHER, OK),
    ("associe", MINE, OWN, OK),
    ("associe", MINE, OTHER, NOT_FOUND),  # escalation: pull a company into his own portfolio
    ("associe", THEIRS, OWN, NOT_YOURS),
    ("other_associe", MINE, OTHER, NOT_YOURS),
    ("assistant", MINE, OWN, COMPOSERS_ONLY),
    ("interlocuteur", MINE, OWN, COMPOSERS_ONLY),
]


@pytest.mark.parametrize(("actor", "portfolio", "company", "expected"),
                         table(PORTFOLIO_COMPANY_TABLE))
def test_may_change_portfolio_company(actor, portfolio, company, expected):
    check(delegation.may_change_portfolio_company(P[actor], portfolio, company), expected)


def test_a_disabled_associe_changes_no_portfolio():
    check(delegation.may_change_portfolio_company(disabled("associe"), MINE, OWN),
          COMPOSERS_ONLY)
    check(delegation.may_change_portfolio_member(disabled("associe"), MINE, P["assistant"]),
          COMPOSERS_ONLY)


ASSOCIE_PLACES_ASSISTANTS = "Un associé place des assistants dans ses portefeuilles."
CABINET_MEMBERS_ONLY = "Seuls les membres du cabinet appartiennent à des portefeuilles."
ALREADY_EVERYWHERE = "Le correspondant accède déjà à toutes les entreprises."

PORTFOLIO_MEMBER_TABLE = [
    ("correspondant", MINE, "associe", OK),
    ("correspondant", THEIRS, "assistant", OK),
    ("correspondant", MINE, "correspondant", ALREADY_EVERYWHERE),
    ("correspondant", MINE, "interlocuteur", CABINET_MEMBERS_ONLY),
    ("associe", MINE, "assistant", OK),
    ("associe", MINE, "other_assistant", OK),
    ("associe", MINE, "associe", ASSOCIE_PLACES_ASSISTANTS),  # escalation: himself
    ("associe", THEIRS, "associe", ASSOCIE_PLACES_ASSISTANTS),  # escalation: himself
    ("associe", MINE, "other_associe", ASSOCIE_PLACES_ASSISTANTS),  # escalation
    ("associe", THEIRS, "assistant", NOT_YOURS),
    ("associe", MINE, "utilisateur", CABINET_MEMBERS_ONLY),
    ("assistant", MINE, "assistant", COMPOSERS_ONLY),
    ("assistant", THEIRS, "assistant", COMPOSERS_ONLY),  # escalation: himself
    ("interlocuteur", MINE, "assistant", COMPOSERS_ONLY),
]


@pytest.mark.parametrize(("actor", "portfolio", "member", "expected"),
                         table(PORTFOLIO_MEMBER_TABLE))
def test_may_change_portfolio_member(actor, portfolio, member, expected):
    check(delegation.may_change_portfolio_member(P[actor], portfolio, P[member]), expected)


# ---------------------------------------------------------------------------------------------
# Audit log and cabinet.

AUDIT_RESERVED = "Le journal d'audit est réservé au correspondant et aux associés."


@pytest.mark.parametrize(("actor", "expected"), table([
    ("correspondant", OK),
    ("associe", OK),
    ("assistant", AUDIT_RESERVED),
    ("interlocuteur", AUDIT_RESERVED),
    ("utilisateur", AUDIT_RESERVED),
]))
def test_may_read_audit(actor, expected):
    check(delegation.may_read_audit(P[actor]), expected)


def test_a_disabled_associe_reads_no_audit():
    check(delegation.may_read_audit(disabled("associe")), AUDIT_RESERVED)


@pytest.mark.parametrize("actor", list(ONE_PER_ROLE))
def test_only_the_correspondant_edits_the_cabinet(actor):
    only = "Seul le correspondant modifie la fiche du cabinet."
    expected = OK if actor == "correspondant" else only
    check(delegation.may_edit_cabinet(P[actor]), expected)


# --- removing an account, closing a company (issue 16, item 5) ------------------------------

INTERLOCUTEUR_STAYS = ("L'interlocuteur ne se supprime pas : il part avec son entreprise, "
                       "quand le cabinet la résilie (désactivez son compte en attendant).")
CLOSERS_ONLY = "Seuls le correspondant et les associés résilient une entreprise."


@pytest.mark.parametrize("actor, target, expected", [
    ("interlocuteur", "utilisateur", OK),
    ("correspondant", "associe", OK),
    ("associe", "assistant", OK),
    ("correspondant", "interlocuteur", INTERLOCUTEUR_STAYS),
    ("associe", "interlocuteur", INTERLOCUTEUR_STAYS),
    ("utilisateur", "utilisateur", SELF),
    ("interlocuteur", "other_utilisateur",
     "Un interlocuteur administre les utilisateurs de son entreprise."),
])
def test_who_removes_whom(actor, target, expected):
    decision = delegation.may_remove_user(P[actor], P[target])
    assert (OK if decision else decision.reason) == expected


@pytest.mark.parametrize("actor, company, expected", [
    ("correspondant", OTHER, OK),
    ("associe", OWN, OK),
    ("associe", OTHER, NOT_FOUND),
    ("assistant", OWN, CLOSERS_ONLY),
    ("interlocuteur", OWN, CLOSERS_ONLY),
])
def test_who_closes_a_company(actor, company, expected):
    decision = delegation.may_close_company(P[actor], company)
    assert (OK if decision else decision.reason) == expected
