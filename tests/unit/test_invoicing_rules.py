"""Small rules of invoicing that a user meets in the settings page: which numbering prefixes
are accepted (an invoice number must pass the French Factur-X rule BR-FR-01 and be part of a
file name), and how the discount terms are printed."""

from __future__ import annotations

from datetime import date

import pytest

from acl.errors import InvalidInput
from acl.invoicing.mentions import discount_sentence
from acl.invoicing.numbering import check_prefix, resolve


@pytest.mark.parametrize("prefix, series", [
    ("F-{année}-", "F-2026-"), ("FA{annee}{mois}_", "FA202603_"), ("", ""),
    ("AV+{année}-", "AV+2026-")])
def test_accepted_prefixes_and_their_series(prefix, series):
    assert resolve(check_prefix(prefix, "invoice_prefix"), date(2026, 3, 9)) == series


@pytest.mark.parametrize("prefix", [
    "F/{année}/", "F {année}", "F.{année}.", "Fé-", "F-{an}-", "F-{année", "x" * 31,
    "F\n-"])
def test_refused_prefixes_say_what_is_allowed(prefix):
    with pytest.raises(InvalidInput, match="Préfixe refusé") as refused:
        check_prefix(prefix, "invoice_prefix")
    assert refused.value.field == "invoice_prefix"


@pytest.mark.parametrize("terms, printed", [
    ("pas d'escompte pour paiement anticipé", "Pas d'escompte pour paiement anticipé."),
    ("Escompte de 2 % pour paiement à 8 jours.", "Escompte de 2 % pour paiement à 8 jours."),
    ("Néant", "Escompte : néant."),
    ("", "")])
def test_discount_terms_always_say_they_are_about_discount(terms, printed):
    assert discount_sentence(terms) == printed
