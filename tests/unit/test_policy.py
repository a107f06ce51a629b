"""The one permission function, `acl.rights.policy.authorize`, as tables: pure, no database.

Every role is tried on company 1 ("own": reached by everyone below), at the company root, on
the standard folder "Achats" itself and on a document inside it, with an explicit
habilitation on "Achats" of read, write, none, or no row at all.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import date

import pytest

from acl.rights.models import Level, Role, Service, Side
from acl.rights.policy import Action, Decision, Principal, Resource, authorize, has_service

OWN = 1  # the company every principal below reaches
OTHER = 2  # an existing company none of them (but the correspondant) reaches
MISSING = 999  # a company that does not exist
FOLDER = "Achats"

OK = "ok"
ROOT = "Rien ne peut être déposé ni modifié à la racine de l'entreprise."
HIDDEN = "Dossier introuvable."
READ_ONLY = "Vous n'avez qu'un droit de lecture sur « Achats »."
STANDARD = "Les dossiers standard ne peuvent être ni renommés, ni déplacés, ni supprimés."
PROTECTED = ("Ce document est antérieur à la date de protection de l'entreprise : "
             "il est en lecture seule.")
NOT_FOUND = "Entreprise introuvable."
DISABLED = "Ce compte est désactivé."
CLOSED = "Le compte de cette entreprise est déconnecté."
CLOSED_READ_ONLY = "Le compte de cette entreprise est déconnecté : lecture seule."
NO_MESSAGING = "Vous n'avez pas accès à la messagerie de cette entreprise."
NO_INVOICING = "Vous n'avez pas accès à la facturation de cette entreprise."
CABINET_INVOICING = "La facturation d'une entreprise lui est réservée."
CLOSED_INVOICING = "L'entreprise n'a pas ouvert sa facturation au cabinet."
FIRM_ONLY = ("Seul le cabinet peut modifier le profil fiscal, ajouter des évènements pour "
             "l'entreprise ou les commenter.")

ALL_REASONS = {ROOT, HIDDEN, READ_ONLY, STANDARD, PROTECTED, NOT_FOUND, DISABLED, CLOSED,
               CLOSED_READ_ONLY, NO_MESSAGING, NO_INVOICING, CABINET_INVOICING, FIRM_ONLY,
               CLOSED_INVOICING}

ROLES = list(Role)
CABINET_ROLES = [r for r in Role if r.side == Side.CABINET]
COMPANY_ROLES = [r for r in Role if r.side == Side.COMPANY]

GRANTS: dict[str, Level | None] = {
    "no_row": None, "none": Level.NONE, "read": Level.READ, "write": Level.WRITE}

SITUATIONS = {
    "root": dict(folder=None),
    "standard_folder": dict(folder=FOLDER, is_standard_folder=True),
    "document": dict(folder=FOLDER),
}


def make_principal(role: Role, *, grant: Level | None = None, services: bool | None = None,
                   active: bool = True, company: int = OWN, extra_levels=None,
                   portfolio_companies: frozenset[int] | None = None) -> Principal:
    """A principal of `role` reaching company `company` (cabinet: through a portfolio)."""
    levels = dict(extra_levels or {})
    if grant is not None:
        levels[(company, FOLDER)] = grant
    rows = {} if services is None else {(company, s): services for s in Service}
    cabinet_side = role.side == Side.CABINET
    if portfolio_companies is None:
        portfolio_companies = frozenset({company})
    return Principal(
        user_id=10 + ROLES.index(role), login=role.name.lower(), role=role, active=active,
        company_id=None if cabinet_side else company,
        portfolio_ids=frozenset({50}) if role in (Role.ASSOCIE, Role.ASSISTANT) else frozenset(),
        portfolio_company_ids=(portfolio_companies
                               if role in (Role.ASSOCIE, Role.ASSISTANT) else frozenset()),
        folder_levels=levels, services=rows)


def make_resource(situation: str, company: int = OWN, **overrides) -> Resource:
    return Resource(company_id=company, **{**SITUATIONS[situation], **overrides})


def check(decision: Decision, expected: str) -> None:
    """`expected` is OK or the exact French sentence of the refusal."""
    if expected == OK:
        assert decision.allowed, f"refusé à tort : {decision.reason}"
        assert bool(decision)
        return
    assert not decision.allowed
    assert not bool(decision)
    assert decision.reason, "a refusal must say why"
    assert decision.reason == expected


# ---------------------------------------------------------------------------------------------
# READ / WRITE: role x habilitation on "Achats" x situation.

FULL = {"root": (OK, ROOT), "standard_folder": (OK, STANDARD), "document": (OK, OK)}
READ_ONLY_ROW = {"root": (OK, ROOT), "standard_folder": (OK, READ_ONLY),
                 "document": (OK, READ_ONLY)}
NOTHING = {"root": (OK, ROOT), "standard_folder": (HIDDEN, HIDDEN), "document": (HIDDEN, HIDDEN)}

#            (role,               habilitation): {situation: (READ, WRITE)}
FOLDER_TABLE = {
    # Fixed full rights: a habilitation row, whatever it says, does not apply.
    (Role.CORRESPONDANT, "no_row"): FULL,
    (Role.CORRESPONDANT, "none"): FULL,
    (Role.CORRESPONDANT, "read"): FULL,
    (Role.CORRESPONDANT, "write"): FULL,
    (Role.ASSOCIE, "no_row"): FULL,
    (Role.ASSOCIE, "none"): FULL,
    (Role.ASSOCIE, "read"): FULL,
    (Role.ASSOCIE, "write"): FULL,
    (Role.INTERLOCUTEUR, "no_row"): FULL,
    (Role.INTERLOCUTEUR, "none"): FULL,
    (Role.INTERLOCUTEUR, "read"): FULL,
    (Role.INTERLOCUTEUR, "write"): FULL,
    # Assistants: write by default, the habilitation overrides it.
    (Role.ASSISTANT, "no_row"): FULL,
    (Role.ASSISTANT, "none"): NOTHING,
    (Role.ASSISTANT, "read"): READ_ONLY_ROW,
    (Role.ASSISTANT, "write"): FULL,
    # Utilisateurs: nothing by default, the habilitation gives it.
    (Role.UTILISATEUR, "no_row"): NOTHING,
    (Role.UTILISATEUR, "none"): NOTHING,
    (Role.UTILISATEUR, "read"): READ_ONLY_ROW,
    (Role.UTILISATEUR, "write"): FULL,
}


def _folder_cases():
    for (role, grant), by_situation in FOLDER_TABLE.items():
        for situation, (read, write) in by_situation.items():
            for action, expected in ((Action.READ, read), (Action.WRITE, write)):
                yield pytest.param(role, grant, situation, action, expected,
                                   id=f"{role.name.lower()}-{grant}-{situation}-{action.value}")


FOLDER_CASES = list(_folder_cases())


def test_folder_table_covers_every_role_and_habilitation():
    assert set(FOLDER_TABLE) == set(itertools.product(ROLES, GRANTS))


@pytest.mark.parametrize(("role", "grant", "situation", "action", "expected"), FOLDER_CASES)
def test_read_write(role, grant, situation, action, expected):
    principal = make_principal(role, grant=GRANTS[grant])
    check(authorize(principal, action, make_resource(situation)), expected)


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.UTILISATEUR], ids=lambda r: r.name.lower())
def test_a_right_on_one_folder_says_nothing_of_another(role):
    # Write on "Ventes" only: an utilisateur still sees nothing of "Achats"; an assistant
    # keeps his default write on it.
    principal = make_principal(role, extra_levels={(OWN, "Ventes"): Level.WRITE})
    expected = OK if role == Role.ASSISTANT else HIDDEN
    check(authorize(principal, Action.READ, make_resource("document")), expected)
    check(authorize(principal, Action.WRITE, make_resource("document", folder="Ventes")), OK)


@pytest.mark.parametrize("role", [Role.ASSISTANT, Role.UTILISATEUR], ids=lambda r: r.name.lower())
def test_a_right_on_one_company_says_nothing_of_another_reached_one(role):
    # Same folder name, another company: the habilitation is per company.
    if role == Role.ASSISTANT:
        principal = make_principal(role, portfolio_companies=frozenset({OWN, OTHER}),
                                   extra_levels={(OTHER, FOLDER): Level.NONE})
        check(authorize(principal, Action.WRITE, make_resource("document")), OK)
        check(authorize(principal, Action.READ, make_resource("document", OTHER)), HIDDEN)
    else:
        principal = make_principal(role, extra_levels={(OTHER, FOLDER): Level.WRITE})
        check(authorize(principal, Action.READ, make_resource("document")), HIDDEN)


# ---------------------------------------------------------------------------------------------
# MESSAGING / INVOICING: role x service row (both services) x situation.

#               (role,               service row): (MESSAGING, INVOICING)
SERVICE_TABLE = {
    (Role.CORRESPONDANT, "no_row"): (OK, CABINET_INVOICING),
    (Role.CORRESPONDANT, "granted"): (OK, CABINET_INVOICING),
    (Role.CORRESPONDANT, "revoked"): (OK, CABINET_INVOICING),
    (Role.ASSOCIE, "no_row"): (OK, CABINET_INVOICING),
    (Role.ASSOCIE, "granted"): (OK, CABINET_INVOICING),
    (Role.ASSOCIE, "revoked"): (OK, CABINET_INVOICING),
    (Role.ASSISTANT, "no_row"): (OK, CABINET_INVOICING),
    (Role.ASSISTANT, "granted"): (OK, CABINET_INVOICING),
    (Role.ASSISTANT, "revoked"): (NO_MESSAGING, CABINET_INVOICING),
    (Role.INTERLOCUTEUR, "no_row"): (OK, OK),
    (Role.INTERLOCUTEUR, "granted"): (OK, OK),
    (Role.INTERLOCUTEUR, "revoked"): (OK, OK),
    (Role.UTILISATEUR, "no_row"): (NO_MESSAGING, NO_INVOICING),
    (Role.UTILISATEUR, "granted"): (OK, OK),
    (Role.UTILISATEUR, "revoked"): (NO_MESSAGING, NO_INVOICING),
}
SERVICE_ROWS = {"no_row": None, "granted": True, "revoked": False}


def _service_cases():
    for (role, row), (messaging, invoicing) in SERVICE_TABLE.items():
        for situation in SITUATIONS:
            for action, expected in ((Action.MESSAGING, messaging),
                                     (Action.INVOICING, invoicing)):
                yield pytest.param(role, row, situation, action, expected,
                                   id=f"{role.name.lower()}-{row}-{situation}-{action.value}")


SERVICE_CASES = list(_service_cases())


def test_service_table_covers_every_role_and_row():
    assert set(SERVICE_TABLE) == set(itertools.product(ROLES, SERVICE_ROWS))


@pytest.mark.parametrize(("role", "row", "situation", "action", "expected"), SERVICE_CASES)
def test_services(role, row, situation, action, expected):
    # A folder right of "none" must not matter to the services.
    principal = make_principal(role, grant=Level.NONE, services=SERVICE_ROWS[row])
    check(authorize(principal, action, make_resource(situation)), expected)


@pytest.mark.parametrize("role", CABINET_ROLES, ids=lambda r: r.name.lower())
def test_invoicing_is_never_for_the_cabinet(role):
    # Even with a (stray) invoicing grant on every company and full folder rights.
    principal = make_principal(role, grant=Level.WRITE, services=True)
    assert not has_service(principal, OWN, Service.INVOICING)
    for situation in SITUATIONS:
        check(authorize(principal, Action.INVOICING, make_resource(situation)),
              CABINET_INVOICING)


# ---------------------------------------------------------------------------------------------
# Reach: a company out of reach answers exactly like a missing one.

OUT_OF_REACH = {
    "associe_other_portfolio": make_principal(Role.ASSOCIE),
    "associe_empty_portfolio": make_principal(Role.ASSOCIE, portfolio_companies=frozenset()),
    "assistant_other_portfolio": make_principal(Role.ASSISTANT),
    "assistant_no_portfolio": make_principal(Role.ASSISTANT, portfolio_companies=frozenset()),
    # Stray rows on the other company must not open it.
    "assistant_with_row_on_other": make_principal(
        Role.ASSISTANT, extra_levels={(OTHER, FOLDER): Level.WRITE}),
    "interlocuteur_of_own": make_principal(Role.INTERLOCUTEUR),
    "utilisateur_of_own": make_principal(Role.UTILISATEUR),
    "utilisateur_with_row_on_other": make_principal(
        Role.UTILISATEUR, extra_levels={(OTHER, FOLDER): Level.WRITE}),
}


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
@pytest.mark.parametrize("who", OUT_OF_REACH)
def test_out_of_reach_is_like_missing(who, action, situation):
    principal = OUT_OF_REACH[who]
    missing = authorize(principal, action, make_resource(situation, MISSING))
    # Whatever the other company's state, nothing of it leaks.
    for other in (make_resource(situation, OTHER),
                  make_resource(situation, OTHER, company_active=False),
                  make_resource(situation, OTHER, protection_date=date(2030, 1, 1),
                                document_date=date(2020, 1, 1))):
        decision = authorize(principal, action, other)
        check(decision, NOT_FOUND)
        assert decision == missing


def test_the_correspondant_reaches_every_company():
    correspondant = make_principal(Role.CORRESPONDANT, portfolio_companies=frozenset())
    check(authorize(correspondant, Action.READ, make_resource("document", OTHER)), OK)
    check(authorize(correspondant, Action.WRITE, make_resource("document", OTHER)), OK)


# ---------------------------------------------------------------------------------------------
# Disabled accounts, disconnected companies.

@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("action", list(Action), ids=lambda a: a.value)
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name.lower())
def test_disabled_user_is_denied_everything(role, action, situation):
    principal = make_principal(role, grant=Level.WRITE, services=True, active=False)
    check(authorize(principal, action, make_resource(situation)), DISABLED)


#            role: {action: expected} on a disconnected company (any situation)
DISCONNECTED_TABLE = {
    Role.CORRESPONDANT: {Action.READ: OK, Action.WRITE: CLOSED_READ_ONLY,
                         Action.MESSAGING: CLOSED_READ_ONLY, Action.INVOICING: CLOSED_READ_ONLY,
                         Action.CALENDAR: CLOSED_READ_ONLY,
                         Action.CALENDAR_ADVICE: CLOSED_READ_ONLY},
    Role.ASSOCIE: {Action.READ: OK, Action.WRITE: CLOSED_READ_ONLY,
                   Action.MESSAGING: CLOSED_READ_ONLY, Action.INVOICING: CLOSED_READ_ONLY,
                   Action.CALENDAR: CLOSED_READ_ONLY,
                   Action.CALENDAR_ADVICE: CLOSED_READ_ONLY},
    Role.ASSISTANT: {Action.READ: OK, Action.WRITE: CLOSED_READ_ONLY,
                     Action.MESSAGING: CLOSED_READ_ONLY, Action.INVOICING: CLOSED_READ_ONLY,
                     Action.CALENDAR: CLOSED_READ_ONLY,
                     Action.CALENDAR_ADVICE: CLOSED_READ_ONLY},
    Role.INTERLOCUTEUR: {Action.READ: CLOSED, Action.WRITE: CLOSED, Action.MESSAGING: CLOSED,
                         Action.INVOICING: CLOSED, Action.CALENDAR: CLOSED,
                         Action.CALENDAR_ADVICE: CLOSED},
    Role.UTILISATEUR: {Action.READ: CLOSED, Action.WRITE: CLOSED, Action.MESSAGING: CLOSED,
                       Action.INVOICING: CLOSED, Action.CALENDAR: CLOSED,
                       Action.CALENDAR_ADVICE: CLOSED},
}


def _disconnected_cases():
    for role, by_action in DISCONNECTED_TABLE.items():
        for action, expected in by_action.items():
            for situation in SITUATIONS:
                yield pytest.param(role, action, situation, expected,
                                   id=f"{role.name.lower()}-{action.value}-{situation}")


DISCONNECTED_CASES = list(_disconnected_cases())


@pytest.mark.parametrize(("role", "action", "situation", "expected"), DISCONNECTED_CASES)
def test_disconnected_company(role, action, situation, expected):
    # Full rights everywhere, both services granted: the disconnection alone decides.
    principal = make_principal(role, grant=Level.WRITE, services=True)
    check(authorize(principal, action, make_resource(situation, company_active=False)),
          expected)


def test_disconnection_does_not_widen_a_cabinet_right():
    assistant = make_principal(Role.ASSISTANT, grant=Level.NONE)
    check(authorize(assistant, Action.READ, make_resource("document", company_active=False)),
          HIDDEN)


# ---------------------------------------------------------------------------------------------
# Protection date: documents dated before it are read-only for everybody.

PROTECTION = date(2025, 1, 1)
#              label: (document date, WRITE expected)
DOCUMENT_DATES = {
    "long_before": (date(2019, 6, 30), PROTECTED),
    "day_before": (date(2024, 12, 31), PROTECTED),
    "same_day": (PROTECTION, OK),
    "after": (date(2025, 1, 2), OK),
    "undated": (None, OK),
}


def _protection_cases():
    for role in ROLES:
        for label, (document_date, write) in DOCUMENT_DATES.items():
            for action, expected in ((Action.READ, OK), (Action.WRITE, write)):
                yield pytest.param(role, document_date, action, expected,
                                   id=f"{role.name.lower()}-{label}-{action.value}")


PROTECTION_CASES = list(_protection_cases())


@pytest.mark.parametrize(("role", "document_date", "action", "expected"), PROTECTION_CASES)
def test_protection_date(role, document_date, action, expected):
    # Every role with write on the folder, the correspondant included.
    principal = make_principal(role, grant=Level.WRITE)
    resource = make_resource("document", protection_date=PROTECTION, document_date=document_date)
    check(authorize(principal, action, resource), expected)


# ---------------------------------------------------------------------------------------------
# Reading a company's invoicing (issue 18): its users who invoice; the cabinet staff who reach
# it while it consents; never another company's, whatever the consent of others.

@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name.lower())
@pytest.mark.parametrize("consents", [False, True], ids=["private", "consented"])
def test_reading_invoicing(role, consents):
    principal = make_principal(role, grant=Level.NONE, services=None)
    if role.side == Side.CABINET and consents:
        principal = dataclasses.replace(principal, consented=frozenset({OWN}))
    decision = authorize(principal, Action.INVOICING_READ, make_resource("root"))
    if role.side == Side.CABINET:
        check(decision, OK if consents else CLOSED_INVOICING)
        # Writing stays the company's, consent or not.
        check(authorize(principal, Action.INVOICING, make_resource("root")),
              CABINET_INVOICING)
        # Another company's consent opens nothing of one out of reach.
        check(authorize(dataclasses.replace(principal, consented=frozenset({OTHER})),
                        Action.INVOICING_READ, make_resource("root", OTHER)),
              OK if role == Role.CORRESPONDANT else NOT_FOUND)
    else:
        check(decision, OK if role == Role.INTERLOCUTEUR else NO_INVOICING)
    closed = make_resource("root", company_active=False)
    if role.side == Side.CABINET:  # a disconnected company: the firm still reads
        check(authorize(principal, Action.INVOICING_READ, closed),
              OK if consents else CLOSED_INVOICING)


# ---------------------------------------------------------------------------------------------
# Every refusal, in every combination, is one of the known French sentences.

def test_every_refusal_carries_a_known_french_reason():
    seen = set()
    allowed = 0
    for role, grant, services, active, company, company_active, situation, action, doc in (
            itertools.product(ROLES, GRANTS.values(), SERVICE_ROWS.values(), (True, False),
                              (OWN, OTHER), (True, False), SITUATIONS, Action,
                              (None, date(2020, 1, 1)))):
        principal = make_principal(role, grant=grant, services=services, active=active)
        resource = make_resource(situation, company, company_active=company_active,
                                 protection_date=PROTECTION, document_date=doc)
        decision = authorize(principal, action, resource)
        if decision:
            allowed += 1
            assert decision.reason == ""
        else:
            assert decision.reason.strip(), (role, action, resource)
            seen.add(decision.reason)
    assert allowed > 0
    assert seen == ALL_REASONS


# ---------------------------------------------------------------------------------------------
# Calendar (issue 19): every role that reaches the company sees it, whatever its folder rights
# or services; only the firm gives advice.

#               role: (CALENDAR, CALENDAR_ADVICE)
CALENDAR_TABLE = {
    Role.CORRESPONDANT: (OK, OK),
    Role.ASSOCIE: (OK, OK),
    Role.ASSISTANT: (OK, OK),
    Role.INTERLOCUTEUR: (OK, FIRM_ONLY),
    Role.UTILISATEUR: (OK, FIRM_ONLY),
}


def test_calendar_table_covers_every_role():
    assert set(CALENDAR_TABLE) == set(Role)


@pytest.mark.parametrize("services", [None, False, True], ids=["no_row", "revoked", "granted"])
@pytest.mark.parametrize("grant", list(GRANTS.values()), ids=list(GRANTS))
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name.lower())
def test_calendar(role, grant, services):
    principal = make_principal(role, grant=grant, services=services)
    calendar, advice = CALENDAR_TABLE[role]
    check(authorize(principal, Action.CALENDAR, make_resource("root")), calendar)
    check(authorize(principal, Action.CALENDAR_ADVICE, make_resource("root")), advice)
