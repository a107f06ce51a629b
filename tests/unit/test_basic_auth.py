"""The one reading of HTTP Basic credentials that the drive and the feeds share."""

from __future__ import annotations

import base64

import pytest

from acl.people.basic_auth import CredentialCache, basic_credentials


def header(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.mark.parametrize(("raw", "expected"), [
    ("dupont:mot de passe à accents".encode(), ("dupont", "mot de passe à accents")),
    ("dupont:mot de passe à accents".encode("latin-1"), ("dupont", "mot de passe à accents")),
    (b"CABINET\\dupont:secret:avec:deux-points", ("dupont", "secret:avec:deux-points")),
    (b"dupont:", ("dupont", "")),
])
def test_what_clients_send_is_read(raw, expected):
    assert basic_credentials(header(raw)) == expected


@pytest.mark.parametrize("value", [
    "", "Bearer abc", "Basic", "Basic !!!pas-du-base64", header(b"sans-deux-points"),
    header(b":mot-de-passe"), header(b"x" * 65 + b":secret"),
])
def test_anything_else_is_no_credentials(value):
    assert basic_credentials(value) is None


def test_cache_remembers_only_the_exact_pair_and_forgets_on_drop():
    cache = CredentialCache(ttl_seconds=60)
    cache.put("dupont", "secret", 7, 3)
    assert cache.get("dupont", "secret") == (7, 3)
    assert cache.get("dupont", "Secret") is None
    cache.drop("dupont", "secret")
    assert cache.get("dupont", "secret") is None


def test_cache_of_zero_seconds_keeps_nothing():
    cache = CredentialCache(ttl_seconds=0)
    cache.put("dupont", "secret", 7, 3)
    assert cache.get("dupont", "secret") is None
