"""What a document must say by law (RESEARCH.md §4.1), written for it automatically, and what
is missing before it may be issued.

- C. com. L441-9 and CGI ann. II art. 242 nonies A: seller and buyer identities, SIREN,
  intra-EU VAT numbers, number, dates, per-line and per-rate amounts, due date, penalty rate,
  the 40 € recovery indemnity (professional buyers), discount terms;
- the exemption sentences (art. 293 B franchise, reverse charge, intra-EU supply, export);
- the four mentions of the e-invoicing reform (décret 2022-1299, in force for issued
  invoices since 1 September 2026): the customer's SIREN, the delivery address when it
  differs, the nature of the operation (goods, services or both), the option for VAT on
  debits.

The sentences are frozen with the document at issue (`snapshot`): a document reprinted in
ten years says what it said.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from acl.invoicing.amounts import VatGroup, nature_of
from acl.invoicing.models import InvoicingProfile
from acl.invoicing.sheet import Address, Party

INDEMNITY = ("Indemnité forfaitaire pour frais de recouvrement en cas de retard de paiement : "
             "40 € (art. L441-10 du Code de commerce).")
VAT_ON_DEBITS = "Option pour le paiement de la TVA d'après les débits."
OPERATIONS = {"biens": "livraison de biens", "services": "prestation de services",
              "biens et services": "livraison de biens et prestation de services"}
# Legal forms whose share capital is part of the seller's identity (C. com. R123-238).
CAPITAL_FORMS = {"SARL", "EURL", "SAS", "SASU", "SA", "SCA", "SNC", "SCI", "SCP", "SELARL",
                 "SELAS", "SELAFA", "SELCA", "SCOP"}
# Exemptions that name the buyer's intra-EU VAT number on the document.
NEEDS_BUYER_VAT = {"autoliquidation", "intracommunautaire"}


def sentence(text: str) -> str:
    """"pas d'escompte" -> "Pas d'escompte.": a setting printed as a sentence."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def discount_sentence(terms: str) -> str:
    """The discount terms as printed; a sentence that does not say what it is about ("Néant")
    is introduced ("Escompte : néant."), so that readers and Factur-X (note AAB) recognise it."""
    text = sentence(terms)
    if text and not any(word in text.lower() for word in ("escompte", "anticipé")):
        text = "Escompte : " + text[0].lower() + text[1:]
    return text


def seller_of(profile: InvoicingProfile) -> Party:
    """The company as the seller its documents name."""
    registry = " ".join(p for p in (profile.registry_kind, profile.registry_city) if p) \
        if profile.registry_kind else ""
    return Party(
        name=profile.legal_name,
        address=Address(profile.address_line1, profile.address_line2, profile.postcode,
                        profile.city, profile.country),
        siren=profile.siren, vat_number="" if profile.vat_franchise else profile.vat_number,
        email=profile.email, phone=profile.phone, legal_form=profile.legal_form,
        share_capital=profile.share_capital, registry=registry, iban=profile.iban,
        bic=profile.bic)


def mentions(profile: InvoicingProfile, buyer: Party, groups: Sequence[VatGroup],
             natures: Sequence[str]) -> tuple[str, ...]:
    """The legal sentences at the foot of a document, in the order they are printed."""
    out = []
    if buyer.professional:
        out.append(sentence("En cas de retard de paiement, pénalités au "
                            + profile.late_penalty))
        out.append(INDEMNITY)
        out.append(discount_sentence(profile.discount_terms))
    for group in groups:
        text = sentence(group.exemption_text)
        if text and text not in out:
            out.append(text)
    if natures:
        out.append(f"Nature de l'opération : {OPERATIONS[nature_of(natures)]}.")
    if profile.vat_on_debits and not profile.vat_franchise:
        out.append(VAT_ON_DEBITS)
    return tuple(text for text in out if text)


def missing(seller: Party, buyer: Party | None, *, franchise: bool, line_count: int,
            exemptions: Sequence[str]) -> list[str]:
    """What a document lacks to be issued, each as the words of a French sentence."""
    gaps = []
    if not seller.name:
        gaps.append("la raison sociale de votre entreprise")
    if seller.address.is_empty or not seller.address.postcode or not seller.address.city:
        gaps.append("l'adresse complète de votre entreprise")
    if not seller.siren:
        gaps.append("le SIREN de votre entreprise")
    if not franchise and not seller.vat_number:
        gaps.append("le numéro de TVA intracommunautaire de votre entreprise (ou l'option "
                    "franchise en base)")
    if not seller.legal_form:
        gaps.append("la forme juridique de votre entreprise")
    elif seller.legal_form.upper().replace(".", "") in CAPITAL_FORMS and not seller.share_capital:
        gaps.append("le capital social de votre entreprise")
    if buyer is None:
        gaps.append("le client")
    else:
        if buyer.address.is_empty or not buyer.address.city:
            gaps.append("l'adresse de facturation du client")
        if buyer.professional and buyer.address.country == "FR" and not buyer.siren:
            gaps.append("le SIREN du client")
        if NEEDS_BUYER_VAT.intersection(exemptions) and not buyer.vat_number:
            gaps.append("le numéro de TVA intracommunautaire du client")
    if line_count == 0:
        gaps.append("au moins une ligne")
    return gaps


def refusal(gaps: Sequence[str]) -> str:
    """One sentence naming everything missing."""
    listed = gaps[0] if len(gaps) == 1 else ", ".join(gaps[:-1]) + " et " + gaps[-1]
    return f"Émission impossible : il manque {listed}."


# -- Frozen with the document ----------------------------------------------------------------

def freeze_seller(seller: Party, sentences: Sequence[str], *, vat_on_debits: bool) -> str:
    return json.dumps({"party": asdict(seller), "mentions": list(sentences),
                       "vat_on_debits": vat_on_debits}, ensure_ascii=False)


def freeze_buyer(buyer: Party, delivery: Address | None) -> str:
    return json.dumps({"party": asdict(buyer),
                       "delivery": asdict(delivery) if delivery is not None else None},
                      ensure_ascii=False)


def _party(data: dict) -> Party:
    return Party(**{**data, "address": Address(**data["address"])})


def thaw_seller(text: str) -> tuple[Party, tuple[str, ...], bool]:
    data = json.loads(text)
    return _party(data["party"]), tuple(data["mentions"]), bool(data["vat_on_debits"])


def thaw_buyer(text: str) -> tuple[Party, Address | None]:
    data = json.loads(text)
    delivery = data["delivery"]
    return _party(data["party"]), Address(**delivery) if delivery is not None else None
