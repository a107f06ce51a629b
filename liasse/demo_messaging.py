"""The demo's messaging: a few threads between the firm and both companies, with replies, a
link to a document and an attachment filed in Achats (through the operations layer, with its
receipt and event), so that the pages, the dashboard's unread counts and the company
timeline have content from the first start. No mail is queued: the demo's past is no news."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.documents import store
from acl.documents.blobs import BlobStore
from acl.documents.limits import Limits
from acl.documents.models import Node
from acl.messaging import threads
from acl.messaging.threads import Attachment, Draft
from acl.people.accounts import find_user
from acl.people.models import Company
from acl.rights.principals import load_principal
from config.settings import Settings


def create(session: Session, settings: Settings, blobs: BlobStore, bakery: Company,
           garage: Company, invoice_pdf: bytes) -> None:
    def who(login: str):
        return load_principal(session, find_user(session, login))

    limits = Limits.from_settings(settings.drive)
    liasse = session.scalars(select(Node).where(Node.company_id == bakery.id,
                                                Node.name == "Liasse fiscale 2025.pdf")).first()
    thread, _ = threads.start_thread(
        session, who("expert"), bakery, "Bilan 2025 : pièces manquantes",
        Draft("Bonjour Monsieur Martin,\n\nPour terminer le bilan, il nous manque la facture "
              "d'électricité de décembre et le relevé bancaire de novembre. La liasse "
              "fiscale est jointe pour mémoire.\n\nBien cordialement,\nÉlise Expert",
              links=[liasse.id] if liasse else []))
    achats = store.resolve(session, bakery, ["Achats"])
    threads.reply(session, who("martin"), bakery, thread, Draft(
        "Bonjour,\n\nVoici la facture d'électricité ; le relevé suit demain.\n\nJean Martin",
        attachments=[Attachment("Facture électricité décembre.pdf", invoice_pdf)],
        folder_id=achats.node.id), blobs=blobs, limits=limits)
    threads.reply(session, who("assistant"), bakery, thread,
                  Draft("Bien reçu, merci ! Nous attendons le relevé."))
    threads.start_thread(session, who("associe"), bakery, "Rendez-vous de fin d'année",
                         Draft("Pouvons-nous faire le point sur la trésorerie la semaine "
                               "prochaine ? Mardi ou jeudi matin vous conviendrait-il ?"))
    question, _ = threads.start_thread(
        session, who("dupont"), garage, "Question sur la TVA des véhicules",
        Draft("Bonjour,\n\nLa taxe sur nos deux véhicules de service se déclare-t-elle avec la "
              "CA3 de janvier ?\n\nClaire Dupont"))
    threads.reply(session, who("associe"), garage, question, Draft(
        "Bonjour Madame Dupont,\n\nOui : les taxes annuelles sur les véhicules se déclarent "
        "sur l'annexe 3310-A de la CA3 de janvier. L'échéance est dans votre calendrier.\n\n"
        "Paul Associé"))
