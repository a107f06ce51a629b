"""File and folder names every client can hold (config.names)."""

from __future__ import annotations

import pytest

from config.names import InvalidName, check_segment


@pytest.mark.parametrize("name", ["Facture 2026-01.pdf", "Relevé d'octobre.csv", "été",
                                  "CONTRAT.docx", "a" * 200, "COM10.txt", "~$rapport.docx"])
def test_accepted(name):
    assert check_segment(name) == name


def test_nfd_becomes_nfc():
    assert check_segment("Fiscalite\u0301") == "Fiscalité"


@pytest.mark.parametrize("name, words", [
    ("", "vide"), ("..", "vide"), ("a/b", "/"), ("a\\b", "\\"), ("a:b", ":"), ("a?b", "?"),
    ("a\x00b", "\\x00"), ("fin.", "point"), ("fin ", "espace"), ("CON", "réservé"),
    ("lpt1.txt", "réservé"), ("é" * 200, "255 octets"),
])
def test_refused_with_reason(name, words):
    with pytest.raises(InvalidName) as caught:
        check_segment(name)
    assert words in str(caught.value)
