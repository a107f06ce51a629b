"""Demo content that anyone (and any automated check) can rely on.

Cabinet "Cabinet Démo"; companies "Boulangerie Martin" and "Garage Dupont"; logins `expert`
(correspondant), `associe` (associé, portfolio with both companies), `assistant`
(portfolio with Boulangerie Martin only), `martin` (interlocuteur of Boulangerie Martin),
`secretaire` (write on Achats, Ventes, Banque, Autres of Boulangerie Martin, nothing else),
`dupont` (interlocuteur of Garage Dupont); every account has the same password.
Boulangerie Martin also invoices (`liasse.demo_invoicing`): settings, logo, customers,
articles, quotes, invoices, a credit note, one invoice sent to the accountant. Both have
threads and a fiscal calendar (`liasse.demo_messaging`, `liasse.demo_calendar`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.documents.blobs import BlobStore
from acl.documents.tree import add_document, company_root, live_child
from acl.events import alerts
from acl.people import accounts, companies, portfolios
from acl.people.companies import CompanyInput
from acl.people.install import install
from acl.people.models import User
from acl.rights import feed_tokens
from acl.rights.audit import Context
from acl.rights.models import Level, Role
from acl.rights.passwords import PasswordHasher, generate_password
from acl.rights.principals import load_principal
from config.settings import Settings
from liasse import demo_calendar, demo_invoicing, demo_messaging

CABINET_NAME = "Cabinet Démo"


@dataclass(frozen=True)
class DemoAccount:
    login: str
    description: str


ACCOUNTS = (
    DemoAccount("expert", "correspondant du cabinet (voit toutes les entreprises)"),
    DemoAccount("associe", "associé, portefeuille avec les deux entreprises"),
    DemoAccount("assistant", "assistant, portefeuille avec Boulangerie Martin"),
    DemoAccount("martin", "interlocuteur de Boulangerie Martin"),
    DemoAccount("secretaire", "Boulangerie Martin : Achats, Ventes, Banque, Autres"),
    DemoAccount("dupont", "interlocuteur de Garage Dupont"),
)


def _pdf(title: str, lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    page.setTitle(title)
    page.setFont("Helvetica-Bold", 16)
    page.drawString(60, 780, title)
    page.setFont("Helvetica", 11)
    for i, line in enumerate(lines):
        page.drawString(60, 740 - 18 * i, line)
    page.showPage()
    page.save()
    return buffer.getvalue()


def _deposit(session: Session, blobs: BlobStore, company_id: int, path: list[str],
             body: bytes, by: User) -> None:
    node = company_root(session, company_id)
    for name in path[:-1]:
        node = live_child(session, node.id, name)
    add_document(session, blobs, node, path[-1], io.BytesIO(body), deposited_by_id=by.id)


def create_demo(session: Session, settings: Settings, hasher: PasswordHasher, blobs: BlobStore,
                password: str) -> None:
    """Populate an empty installation with the demo cabinet, companies, people and files.

    Accounts are created with a strong password and then given `password`, which the demo
    accepts even when it is shorter than the policy asks (a trial on one's own machine).
    """
    strong = generate_password()
    expert = install(session, hasher, cabinet_name=CABINET_NAME, cabinet_siren="",
                     login="expert", display_name="Élise Expert", email="expert@demo.invalid",
                     password=strong, address="demo").user
    ctx = Context(load_principal(session, expert), "demo")
    everyone = portfolios.create_portfolio(session, ctx, "Tous les clients")
    bakery_only = portfolios.create_portfolio(session, ctx, "Commerces de bouche")
    associe = accounts.new_user(session, hasher, login="associe", display_name="Paul Associé",
                                role=Role.ASSOCIE, email="associe@demo.invalid", company=None,
                                password=strong, created_by_id=expert.id).user
    assistant = accounts.new_user(session, hasher, login="assistant",
                                  display_name="Inès Assistante", role=Role.ASSISTANT,
                                  email="assistant@demo.invalid", company=None,
                                  password=strong, created_by_id=associe.id).user
    bakery = companies.create_company(
        session, ctx, hasher, settings.folders,
        CompanyInput(name="Boulangerie Martin", siren="732829320", legal_form="SARL",
                     address="12 rue du Four, 69002 Lyon", vat_regime="réel simplifié"),
        interlocuteur_login="martin", interlocuteur_name="Jean Martin",
        interlocuteur_email="martin@demo.invalid", interlocuteur_password=strong)
    garage = companies.create_company(
        session, ctx, hasher, settings.folders,
        CompanyInput(name="Garage Dupont", siren="552100554", legal_form="SAS",
                     address="3 avenue des Mécaniciens, 33000 Bordeaux",
                     vat_regime="réel normal"),
        interlocuteur_login="dupont", interlocuteur_name="Claire Dupont",
        interlocuteur_email="dupont@demo.invalid", interlocuteur_password=strong)
    for company in (bakery.company, garage.company):
        portfolios.set_company(session, ctx, everyone, company, True)
    portfolios.set_company(session, ctx, bakery_only, bakery.company, True)
    portfolios.set_member(session, ctx, everyone, associe, True)
    # The associé supervises the assistant's portfolio: he administers her (an associé
    # manages the assistants who share one of his portfolios).
    portfolios.set_member(session, ctx, bakery_only, associe, True)
    portfolios.set_member(session, ctx, bakery_only, assistant, True)
    martin = bakery.interlocuteur.user
    martin_ctx = Context(load_principal(session, martin), "demo")
    secretaire = accounts.create_user(
        session, martin_ctx, hasher, login="secretaire", display_name="Sophie Secrétaire",
        role=Role.UTILISATEUR, email="secretaire@demo.invalid", company=bakery.company,
        password=strong).user
    for folder in ("Achats", "Ventes", "Banque", "Autres"):
        accounts.grant(session, martin_ctx, secretaire, bakery.company, folder, Level.WRITE)

    _deposit(session, blobs, bakery.company.id, ["Achats", "Facture Moulin Giraud octobre.pdf"],
             _pdf("Facture F-2026-118 — Moulin Giraud",
                  ["Farine T65, 40 sacs de 25 kg", "Total HT : 1 240,00 €",
                   "TVA 5,5 % : 68,20 €", "Total TTC : 1 308,20 €"]), martin)
    _deposit(session, blobs, bakery.company.id, ["Banque", "Relevé octobre 2026.csv"],
             "date;libellé;montant\n2026-10-02;Moulin Giraud;-1308,20\n"
             "2026-10-05;Encaissements CB;4210,55\n".encode(), secretaire)
    _deposit(session, blobs, bakery.company.id, ["Fiscalité", "Liasse fiscale 2025.pdf"],
             _pdf("Liasse fiscale 2025 — Boulangerie Martin",
                  ["Formulaires 2033-A à 2033-G", "Déposée le 20/05/2026"]), expert)
    _deposit(session, blobs, garage.company.id, ["Ventes", "Facture 2026-0042.pdf"],
             _pdf("Facture 2026-0042 — Garage Dupont",
                  ["Révision et pneumatiques", "Total TTC : 684,00 €"]),
             garage.interlocuteur.user)
    demo_invoicing.create(session, settings, blobs, bakery.company, martin)
    demo_messaging.create(session, settings, blobs, bakery.company, garage.company,
                          _pdf("Facture EDF — décembre", ["Électricité du fournil",
                                                          "Total TTC : 412,80 €"]))
    demo_calendar.create(session, settings, bakery.company, garage.company)
    alerts.consider_alerted(session)  # the demo's past is no news: nobody gets its alerts
    reset_demo_passwords(session, hasher, password)


def reset_demo_passwords(session: Session, hasher: PasswordHasher, password: str) -> None:
    """Give every demo account `password` (demo only: `liasse demo --password`)."""
    hashed = hasher.hash(password)
    users = session.scalars(select(User).where(User.login.in_([a.login for a in ACCOUNTS])))
    for user in users:
        user.password_hash = hashed
        user.must_change_password = False
        user.credentials_version += 1
    session.flush()
    give_demo_feed_tokens(session)


DEMO_TOKEN_NAME = "Démonstration"


def give_demo_feed_tokens(session: Session) -> None:
    """Each demo account holds one feed token whose URLs the "Flux et agenda" page shows
    from the first start (its secret kept in clear: demo only), working under the
    password just given."""
    users = session.scalars(select(User).where(User.login.in_([a.login for a in ACCOUNTS])))
    for user in users:
        held = [t for t in feed_tokens.tokens_of(session, user) if t.demo_secret]
        for token in held:
            token.credentials_version = user.credentials_version
        if not held:
            feed_tokens.issue(session, Context(load_principal(session, user), "demo"), user,
                              DEMO_TOKEN_NAME, demo=True)
