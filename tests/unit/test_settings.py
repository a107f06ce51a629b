"""Settings: one TOML file, every key documented, one clear sentence for any mistake."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from config.settings import SECTIONS, SettingsError, load_settings, parse_settings

EXAMPLE = Path(__file__).parents[2] / "config" / "defaults" / "example.toml"


def test_example_documents_every_key_with_its_default(tmp_path):
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(raw) == set(SECTIONS)
    for name, cls in SECTIONS.items():
        assert set(raw[name]) == {f.name for f in dataclasses.fields(cls)}, name
    from_example = parse_settings(EXAMPLE.read_text(encoding="utf-8"), tmp_path / "x.toml",
                                  env={})
    defaults = parse_settings("", tmp_path / "x.toml", env={})
    assert from_example == defaults


def test_defaults_put_sqlite_in_the_data_folder(tmp_path):
    settings = parse_settings("", tmp_path / "liasse.toml", env={})
    assert settings.data_dir == tmp_path
    assert settings.database.url == f"sqlite:///{tmp_path / 'liasse.db'}"
    assert settings.folders.tree[3] == "Fiscalité"


@pytest.mark.parametrize("text, section, key, words", [
    ("[server]\nprot = 80\n", "server", "prot", "clé inconnue"),
    ("[server]\nport = \"80\"\n", "server", "port", "entier"),
    ("[server]\nport = 70000\n", "server", "port", "65535"),
    ("[server]\nallow_plain_http = 1\n", "server", "allow_plain_http", "booléen"),
    ("[security]\npassword_min_length = 4\n", "security", "password_min_length", "entre 8"),
    ("[smtp]\nsecurity = \"ssl\"\n", "smtp", "security", "starttls"),
    ("[folders]\ntree = [\"Achats\", \"Ach:ats\"]\n", "folders", "tree", "Windows"),
    ("[folders]\ntree = [\"Achats\", \"achats\"]\n", "folders", "tree", "deux fois"),
    ("[folders]\ntree = []\n", "folders", "tree", "au moins un"),
    ("[folders.subfolders]\n\"Inconnu\" = [\"A\"]\n", "folders", "subfolders", "Inconnu"),
    ("[database]\nurl = \"mysql://x\"\n", "database", "url", "postgresql"),
    ("[server]\ntls_certificate = \"a.pem\"\n", "server", "tls_private_key", "ensemble"),
])
def test_mistakes_name_file_section_and_key(tmp_path, text, section, key, words):
    path = tmp_path / "liasse.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert str(path) in message and f"[{section}]" in message and f"« {key} »" in message
    assert words in message
    assert "\n" not in message


def test_unknown_section_and_broken_toml(tmp_path):
    path = tmp_path / "liasse.toml"
    path.write_text("[serveur]\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"section \[serveur\] : section inconnue"):
        load_settings(path, env={})
    path.write_text("[server\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="TOML invalide"):
        load_settings(path, env={})
    with pytest.raises(SettingsError, match="introuvable"):
        load_settings(tmp_path / "absent.toml", env={})


def test_secrets_come_from_the_environment(tmp_path):
    env = {"LIASSE_DATABASE_PASSWORD": "pg-secret", "LIASSE_SMTP_PASSWORD": "smtp-secret",
           "LIASSE_SESSION_SECRET": "session-secret"}
    settings = parse_settings("[smtp]\npassword = \"in-file\"\n", tmp_path / "l.toml", env=env)
    assert settings.database.password == "pg-secret"
    assert settings.smtp.password == "smtp-secret"
    assert settings.security.session_secret == "session-secret"


def test_folder_names_are_normalised_to_nfc(tmp_path):
    nfd = "Fiscalite\u0301"
    settings = parse_settings(f'[folders]\ntree = ["{nfd}"]\n', tmp_path / "l.toml", env={})
    assert settings.folders.tree == ("Fiscalité",)
