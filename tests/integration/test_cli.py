"""The `liasse` command as an administrator uses it: what it prints, its exit codes, and what
it leaves in the database and the audit log.

Commands run in-process through `liasse.cli.main` (output captured with capsys), except
the concurrency test, which starts real `liasse` processes against one database.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from stdnum import luhn
from support.world import write_settings

from acl.documents.tree import standard_folders
from acl.people.models import Company, User
from acl.rights.models import AuditEntry, Role
from liasse.cli import build_parser, main
from tests.conftest import DEMO_PASSWORD

PARIS = ZoneInfo("Europe/Paris")
GENERATED = re.compile(r"Mot de passe initial \(à changer à la première connexion\) : (\S+)")


def siren(prefix: int) -> str:
    """A valid SIREN (Luhn key) from an 8-digit prefix."""
    digits = f"{prefix:08d}"
    return digits + luhn.calc_check_digit(digits)


class Cli:
    """Runs `liasse --config <file> ...` in-process; returns (exit code, stdout, stderr)."""

    def __init__(self, config: Path, capsys, monkeypatch) -> None:
        self.config = config
        self.capsys = capsys
        self.monkeypatch = monkeypatch

    def __call__(self, *argv: str, stdin: str | None = None,
                 config: bool = True) -> tuple[int, str, str]:
        self.capsys.readouterr()
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        args = (["--config", str(self.config)] if config else []) + list(argv)
        try:
            code = main(args)
        except SystemExit as exc:  # argparse: --help and usage errors
            code = exc.code
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def ok(self, *argv: str, stdin: str | None = None) -> str:
        code, out, err = self(*argv, stdin=stdin)
        assert code == 0, f"liasse {' '.join(argv)} -> {code}: {err}"
        assert err == ""
        return out

    def refused(self, *argv: str, stdin: str | None = None) -> str:
        """Exit 1, nothing on stdout, one sentence on stderr; return the sentence."""
        code, out, err = self(*argv, stdin=stdin)
        assert code == 1, f"liasse {' '.join(argv)} -> {code}: {out}{err}"
        assert_one_sentence(err)
        return err


def assert_one_sentence(err: str) -> None:
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("liasse : "), err
    assert "Traceback" not in err


def rows(out: str) -> list[str]:
    """The data lines of a table printed by the CLI (after the dashes line)."""
    lines = out.rstrip("\n").split("\n")
    dashes = next(i for i, line in enumerate(lines) if set(line) <= {"-", " "} and line)
    return lines[dashes + 1:]


def header(out: str) -> list[str]:
    lines = out.split("\n")
    dashes = next(i for i, line in enumerate(lines) if set(line) <= {"-", " "} and line)
    return re.split(r"\s{2,}", lines[dashes - 1].strip())


def row_of(out: str, text: str) -> str:
    found = [line for line in rows(out) if text in line]
    assert len(found) == 1, f"{text!r} in {out}"
    return found[0]


@pytest.fixture
def cli(settings, capsys, monkeypatch) -> Cli:
    """The CLI on the test database (empty until `demo` or `init` fills it)."""
    return Cli(settings.source, capsys, monkeypatch)


@pytest.fixture
def demo_cli(demo, cli) -> Cli:
    """The CLI on the demo world (acting as the correspondant `expert` unless --as)."""
    return cli


# --- help and usage errors ---------------------------------------------------------------

def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield (*prefix, name)
                yield from _command_paths(child, (*prefix, name))


COMMANDS = sorted(_command_paths(build_parser()))


def test_the_command_tree_is_walked():
    for expected in [("init",), ("serve",), ("demo",), ("cert",), ("company", "protect"),
                     ("cabinet", "set"), ("user", "passwd"), ("grant",),
                     ("portfolio", "remove-member"), ("audit",)]:
        assert expected in COMMANDS


@pytest.mark.parametrize("path", [(), *COMMANDS], ids=lambda p: " ".join(p) or "liasse")
def test_help_of_every_command(path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage : {' '.join(('liasse', *path))}")
    assert "affiche cette aide et quitte" in out


def test_the_help_has_no_elision_left_undone(capsys):
    """French elides: "d'un portefeuille", never "de un"."""
    texts = []
    for path in COMMANDS:
        with pytest.raises(SystemExit):
            main([*path[:-1], "--help"])
        texts.append(capsys.readouterr().out)
    found = re.findall(r"\b(?:de|que|le|la|ne|se) (?:un|une|a|à|e|é|il|elle|on)\b",
                       "\n".join(texts))
    assert found == []


def test_a_reader_that_stops_early_ends_the_command_quietly(demo, settings):
    """`liasse audit | head -1`: the command stops at the closed pipe, says nothing more."""
    for _ in range(3):  # enough audit rows to fill more than the pipe's buffer
        with demo.transaction() as s:
            for n in range(400):
                s.add(AuditEntry(actor_login="expert", action="user.create",
                                 target=f"rempli-{n:04d}-" + "x" * 200, outcome="ok"))
    with subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE) as reader:
        command = subprocess.run(
            [sys.executable, "-m", "liasse.cli", "--config", str(settings.source), "audit",
             "--limit", "1200"], stdout=reader.stdin, stderr=subprocess.PIPE, timeout=120)
        first, _ = reader.communicate(timeout=30)
    assert first.count(b"\n") == 1
    assert command.returncode == 0
    assert command.stderr == b""


def test_the_command_runs_as_a_module_too():
    """`python -m liasse.cli`: what the tests and the benchmark fall back on where the
    installed `liasse` script is missing."""
    done = subprocess.run([sys.executable, "-m", "liasse.cli", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage : liasse")


@pytest.mark.parametrize("argv, message", [
    (["company", "add", "Nouvelle", "--interlocuteur", "n", "--interlocuteur-name", "N"],
     "arguments obligatoires manquants : --siren"),
    (["company", "protect", "Garage Dupont", "--date", "31/02/2026"],
     "argument --date : date invalide « 31/02/2026 »"),
    (["frobnicate"], "argument COMMANDE : choix invalide : 'frobnicate'"),
    (["user", "add", "x", "--name", "X", "--role", "chef"], "rôle inconnu « chef »"),
    (["company", "list", "--bogus"], "arguments non reconnus : --bogus"),
    (["audit", "--limit", "beaucoup"], "nombre invalide « beaucoup »"),
], ids=["missing-siren", "bad-date", "unknown-command", "unknown-role", "unknown-option",
        "bad-integer"])
def test_usage_error_prints_one_french_sentence_and_the_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.rstrip("\n").split("\n")
    assert lines[0].startswith("usage : liasse")
    assert len([line for line in lines if " : erreur : " in line]) == 1
    assert " : erreur : " in lines[-1] and message in lines[-1]
    assert "Traceback" not in captured.err


# --- init ----------------------------------------------------------------------------------

def test_init_creates_cabinet_and_correspondant_with_a_printed_password(cli):
    out = cli.ok("init", "--cabinet", "Cabinet Martel", "--login", "Claire",
                 "--name", "Claire Martel")
    assert "Cabinet « Cabinet Martel » initialisé ; correspondant : claire." in out
    initial = GENERATED.search(out).group(1)
    assert cli.ok("cabinet", "show").split("\n")[0].split() == ["Nom", "Cabinet", "Martel"]
    user = cli.ok("user", "show", "claire")
    assert user.startswith("claire — Claire Martel (correspondant)")
    # The printed password is the real one: Claire changes it with it.
    out = cli.ok("--as", "claire", "user", "passwd", "claire", "--password-stdin",
                 stdin=f"{initial}\nun mot de passe bien à moi\n")
    assert "Mot de passe changé." in out

    # A second init is refused and changes nothing.
    err = cli.refused("init", "--cabinet", "Autre cabinet")
    assert "déjà initialisée" in err
    assert "Cabinet Martel" in cli.ok("cabinet", "show")
    assert cli.refused("init", "--cabinet", "X", "--folders", "A,B").count("existe déjà") == 1


def test_init_with_a_chosen_password(cli):
    assert "trop répétitif" in cli.refused(
        "init", "--cabinet", "Cabinet Martel", "--password-stdin", stdin="abababababababab\n")
    assert "liasse init" in cli.refused("cabinet", "show")  # nothing half-installed
    out = cli.ok("init", "--cabinet", "Cabinet Martel", "--password-stdin",
                 stdin="un mot de passe choisi\n")
    assert GENERATED.search(out) is None
    assert "Mot de passe" not in out
    assert cli.ok("--as", "expert", "user", "passwd", "expert", "--password-stdin",
                  stdin="un mot de passe choisi\nun autre mot de passe\n") \
        == "Mot de passe changé.\n"


def test_init_in_a_new_data_folder_writes_the_settings(tmp_path, database_url, capsys,
                                                        monkeypatch):
    data = tmp_path / "nouveau"
    cli = Cli(data / "liasse.toml", capsys, monkeypatch)
    extra = ["--database-url", database_url] if database_url.startswith("postgresql") else []
    code, out, err = cli("--data", str(data), "init", "--cabinet", "Cabinet Neuf",
                         "--folders", "Achats, Ventes,Banque", "--password-stdin", *extra,
                         stdin="un mot de passe choisi\n", config=False)
    assert (code, err) == (0, ""), err
    settings = data / "liasse.toml"
    assert f"Réglages écrits dans {settings}" in out
    assert f"liasse --data {data} serve" in out
    assert settings.stat().st_mode & 0o777 == 0o600  # it holds the session secret
    assert "allow_plain_http = false" in settings.read_text()
    company = cli.ok("company", "add", "Atelier Neuf", "--siren", siren(12345678),
                     "--interlocuteur", "neuf", "--interlocuteur-name", "Nadia Neuf")
    assert "Atelier Neuf" in company
    assert cli.ok("company", "show", "Atelier Neuf").split("\n")[-2].split(None, 1)[1] \
        == "Achats, Ventes, Banque"


def test_init_with_a_bad_folder_tree_writes_no_settings(tmp_path, capsys, monkeypatch):
    data = tmp_path / "nouveau"
    cli = Cli(data / "liasse.toml", capsys, monkeypatch)
    code, out, err = cli("--data", str(data), "init", "--cabinet", "C",
                         "--folders", "Achats,Ven:tes", config=False)
    assert code == 1
    assert_one_sentence(err)
    assert "section [folders], clé « tree »" in err
    assert not (data / "liasse.toml").exists()
    code, out, err = cli("--data", str(data), "init", "--cabinet", "C", "--folders", "Achats",
                         "--password-stdin", stdin="un mot de passe choisi\n", config=False)
    assert (code, err) == (0, "")


# --- settings and unexpected errors --------------------------------------------------------

@pytest.mark.parametrize("sections, where, problem", [
    ({"server": {"colour": "bleu"}}, "section [server], clé « colour »", "clé inconnue"),
    ({"server": {"port": "huit mille"}}, "section [server], clé « port »",
     "doit être un entier"),
    ({"security": {"argon2_time_cost": 0}}, "section [security], clé « argon2_time_cost »",
     "strictement positif"),
], ids=["unknown-key", "wrong-type", "out-of-range"])
def test_broken_settings_file_is_named_without_traceback(sections, where, problem,
                                                         settings_file, capsys, monkeypatch):
    path = settings_file(**sections)
    for argv in (["company", "list"], ["serve"], ["init", "--cabinet", "C"]):
        code, out, err = Cli(path, capsys, monkeypatch)(*argv)
        assert code == 1
        assert_one_sentence(err)
        assert str(path) in err and where in err and problem in err


def test_missing_settings_file(tmp_path, capsys, monkeypatch):
    cli = Cli(tmp_path / "ailleurs" / "liasse.toml", capsys, monkeypatch)
    code, out, err = cli("user", "list")
    assert code == 1
    assert_one_sentence(err)
    assert "introuvable" in err and "liasse init" in err


def test_not_initialised(cli):
    assert "liasse init" in cli.refused("company", "list")


def test_unexpected_error_is_one_sentence_and_logged(demo_cli, monkeypatch, settings):
    def broken(*_args, **_kwargs):
        raise RuntimeError("panne simulée")

    monkeypatch.setattr("acl.people.companies.visible_companies", broken)
    err = demo_cli.refused("company", "list")
    log = settings.data_dir / "liasse-errors.log"
    assert "erreur inattendue" in err and str(log) in err
    assert "panne simulée" not in err
    text = log.read_text(encoding="utf-8")
    assert "liasse company" in text and "RuntimeError: panne simulée" in text


def test_a_concurrent_duplicate_is_refused_in_one_sentence(demo_cli, monkeypatch):
    """What PostgreSQL answers when two commands take the same login at the same moment."""
    def collide(*_args, **_kwargs):
        raise IntegrityError("INSERT INTO user_account", {}, Exception("duplicate key"))

    monkeypatch.setattr("acl.people.accounts.create_user", collide)
    err = demo_cli.refused("user", "add", "paul", "--name", "Paul", "--role", "assistant")
    assert "conflit avec une opération simultanée" in err and "relancez" in err


def test_unknown_acting_login(demo_cli):
    assert "Aucun compte « personne » (option --as)." in demo_cli.refused(
        "--as", "personne", "company", "list")


# --- refusals and the audit log ------------------------------------------------------------

def test_refused_act_exits_1_with_the_reason_and_is_audited(demo_cli):
    err = demo_cli.refused("--as", "secretaire", "user", "add", "x", "--name", "X",
                           "--role", "associé")
    assert "ne peut pas créer de compte « associé »" in err
    assert demo_cli.refused("user", "show", "x") == "liasse : Aucun compte « x ».\n"

    out = demo_cli.ok("audit", "--refused")
    assert len(rows(out)) == 1
    line = rows(out)[0]
    for text in ("secretaire", "user.create", " x ", "refusé", "ne peut pas créer"):
        assert text in line


def test_audit_is_for_the_correspondant_and_associates(demo_cli):
    assert "réservé" in demo_cli.refused("--as", "assistant", "audit")
    assert rows(demo_cli.ok("--as", "associe", "audit"))


def test_audit_filters(demo_cli):
    demo_cli.ok("company", "disconnect", "Garage Dupont")
    demo_cli.refused("--as", "assistant", "company", "protect", "Boulangerie Martin",
                     "--date", "01/01/2026")
    everything = demo_cli.ok("audit")
    assert header(everything) == ["Date", "Acteur", "Adresse", "Acte", "Cible", "Résultat",
                                  "Détail"]
    newest, previous = rows(everything)[:2]  # newest first
    assert newest.split()[2:7] == ["assistant", "cli:" + _system_user(),
                                   "company.protection_date", "Boulangerie", "Martin"]
    assert "refusé" in newest
    assert previous.split()[2:6] == ["expert", "cli:" + _system_user(), "company.disconnect",
                                     "Garage"]

    by_martin = rows(demo_cli.ok("audit", "--actor", "martin"))
    assert by_martin and all(line.split()[2] == "martin" for line in by_martin)
    assert any("user.create" in line and "secretaire" in line for line in by_martin)

    creations = rows(demo_cli.ok("audit", "--action", "company.create"))
    assert sorted(line.split()[5] for line in creations) == ["Boulangerie", "Garage"]
    prefix = rows(demo_cli.ok("audit", "--action", "company"))
    assert {line.split()[4] for line in prefix} == {
        "company.create", "company.disconnect", "company.protection_date"}

    garage = rows(demo_cli.ok("audit", "--company", "552100554"))
    assert {line.split()[4] for line in garage} == {  # dupont's demo feed token is his
        "company.create", "portfolio.add_company", "company.disconnect", "feed_token.create"}
    assert not any("Boulangerie" in line for line in garage)

    refused = rows(demo_cli.ok("audit", "--refused"))
    assert len(refused) == 1 and "assistant" in refused[0] and "refusé" in refused[0]
    assert rows(demo_cli.ok("audit", "--refused", "--actor", "expert")) == []

    today = datetime.now(PARIS).date()
    day = today.strftime("%d/%m/%Y")
    assert len(rows(demo_cli.ok("audit", "--since", day, "--until", day))) == len(
        rows(everything))
    assert rows(demo_cli.ok("audit", "--since", (today + timedelta(days=1)).isoformat())) == []
    assert rows(demo_cli.ok("audit", "--until", (today - timedelta(days=1)).isoformat())) == []
    assert len(rows(demo_cli.ok("audit", "--limit", "3"))) == 3


def _system_user() -> str:
    import getpass

    return getpass.getuser()


# --- companies -----------------------------------------------------------------------------

def test_company_list_columns(demo_cli):
    out = demo_cli.ok("company", "list")
    assert header(out) == ["Nom", "SIREN", "Créée le", "Protection", "Utilisateurs", "Statut"]
    today = datetime.now(PARIS).strftime("%d/%m/%Y")
    assert [re.split(r"\s{2,}", line) for line in rows(out)] == [
        ["Boulangerie Martin", "732829320", today, "-", "2", "active"],
        ["Garage Dupont", "552100554", today, "-", "1", "active"],
    ]
    assert [line.split()[0] for line in rows(demo_cli.ok("--as", "assistant", "company",
                                                         "list"))] == ["Boulangerie"]


def test_creation_day_is_shown_in_paris_time(demo_cli, demo):
    with demo.transaction() as s:  # 23:30 UTC on 14 January is 00:30 on the 15th in Paris
        company = s.scalars(select(Company).where(Company.siren == "552100554")).one()
        company.created_at = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)
    assert "15/01/2026" in row_of(demo_cli.ok("company", "list"), "Garage Dupont")
    assert "Créée le               15/01/2026" in demo_cli.ok("company", "show", "Garage Dupont")


def test_company_add_and_show(demo_cli):
    number = siren(40404040)
    out = demo_cli.ok("company", "add", "Fromagerie  Bleue", "--siren", number,
                      "--interlocuteur", "Bleue", "--interlocuteur-name", "Bertrand Bleu",
                      "--legal-form", "SAS", "--year-end", "30/06",
                      "--protection-date", "2025-12-31", "--portfolio", "Tous les clients")
    assert f"Entreprise « Fromagerie Bleue » créée (SIREN {number})" in out
    assert "Interlocuteur : bleue" in out
    assert GENERATED.search(out)
    show = demo_cli.ok("company", "show", number)
    for text in ("Fromagerie Bleue", "SAS", "Clôture de l'exercice  30/06",
                 "Date de protection     31/12/2025", "Statut                 active",
                 "Portefeuilles          Tous les clients",
                 "Dossiers               Achats, Ventes, Banque, Fiscalité, Social, Juridique, "
                 "Autres"):
        assert text in show
    assert "Fromagerie Bleue" in demo_cli.ok("--as", "associe", "company", "list")
    assert "(interlocuteur, Fromagerie Bleue)" in demo_cli.ok("user", "show", "bleue")


@pytest.mark.parametrize("argv, reason", [
    (["--siren", "123456789", "--interlocuteur", "nouveau"], "SIREN invalide"),
    (["--siren", "732829320", "--interlocuteur", "nouveau"], "existe déjà"),
    (["--siren", siren(40404040), "--interlocuteur", "martin"], "déjà pris"),
    (["--siren", siren(40404040), "--interlocuteur", "nouveau", "--year-end", "31/02"],
     "clôture invalide"),
    (["--siren", siren(40404040), "--interlocuteur", "nouveau", "--portfolio", "Aucun"],
     "Aucun"),
], ids=["bad-siren", "siren-taken", "login-taken", "bad-year-end", "unknown-portfolio"])
def test_refused_company_creation_leaves_nothing(demo_cli, demo, argv, reason):
    before = demo_cli.ok("company", "list")
    err = demo_cli.refused("company", "add", "Nouvelle Société", "--interlocuteur-name", "N",
                           *argv)
    assert reason in err
    assert demo_cli.ok("company", "list") == before
    assert "Aucun compte « nouveau »" in demo_cli.refused("user", "show", "nouveau")
    with demo.session() as s:
        assert s.scalars(select(Company).where(Company.name == "Nouvelle Société")).all() == []


def test_only_cabinet_heads_create_companies(demo_cli):
    err = demo_cli.refused("--as", "assistant", "company", "add", "Nouvelle Société",
                           "--siren", siren(40404040), "--interlocuteur", "nouveau",
                           "--interlocuteur-name", "N")
    assert "Seuls le correspondant et les associés" in err
    assert "portefeuille" in demo_cli.refused(
        "--as", "associe", "company", "add", "Nouvelle Société", "--siren", siren(40404040),
        "--interlocuteur", "nouveau", "--interlocuteur-name", "N")
    demo_cli.ok("--as", "associe", "company", "add", "Nouvelle Société",
                "--siren", siren(40404040), "--interlocuteur", "nouveau",
                "--interlocuteur-name", "N", "--portfolio", "Tous les clients")
    assert len(rows(demo_cli.ok("audit", "--refused", "--action", "company.create"))) == 2


def test_company_protect_several_at_once(demo_cli):
    out = demo_cli.ok("company", "protect", "Boulangerie Martin", "552100554",
                      "--date", "01/01/2026")
    assert out == "Date de protection « 01/01/2026 » appliquée à 2 entreprise(s).\n"
    listing = demo_cli.ok("company", "list")
    assert all(line.split()[4] == "01/01/2026" for line in rows(listing))

    # All or nothing: one unknown company and none changes.
    assert "Entreprise introuvable : « Inconnue »." in demo_cli.refused(
        "company", "protect", "Garage Dupont", "Inconnue", "--date", "2026-06-30")
    assert demo_cli.ok("company", "list") == listing

    # A period that has not ended cannot be closed.
    assert "est à venir" in demo_cli.refused(
        "company", "protect", "Garage Dupont", "--date", "31/12/2999")
    assert demo_cli.ok("company", "list") == listing

    demo_cli.ok("company", "protect", "Garage Dupont", "--clear")
    assert row_of(demo_cli.ok("company", "list"), "Garage").split()[4] == "-"
    assert "Seuls le correspondant et les associés" in demo_cli.refused(
        "--as", "martin", "company", "protect", "Boulangerie Martin", "--clear")


def test_company_disconnect_and_reconnect(demo_cli):
    assert demo_cli.ok("company", "disconnect", "Garage Dupont") == \
        "« Garage Dupont » : compte déconnecté.\n"
    assert row_of(demo_cli.ok("company", "list"), "Garage").endswith("déconnectée")
    assert "Statut                 déconnectée" in demo_cli.ok("company", "show", "Garage Dupont")
    assert row_of(demo_cli.ok("company", "list"), "Boulangerie").endswith("active")
    assert demo_cli.ok("--as", "associe", "company", "reconnect", "552100554") == \
        "« Garage Dupont » : compte reconnecté.\n"
    assert row_of(demo_cli.ok("company", "list"), "Garage").endswith("active")
    assert "Entreprise introuvable" in demo_cli.refused(
        "--as", "assistant", "company", "disconnect", "Garage Dupont")


def test_cabinet_show_and_set(demo_cli):
    demo_cli.ok("cabinet", "set", "--name", "Cabinet Démo Lyon", "--colour", "#AA3300")
    out = demo_cli.ok("cabinet", "show")
    assert "Cabinet Démo Lyon" in out and "#aa3300" in out
    assert "Couleur invalide" in demo_cli.refused("cabinet", "set", "--colour", "rouge")
    assert "Seul le correspondant" in demo_cli.refused("--as", "associe", "cabinet", "set",
                                                       "--name", "X")


# --- users and rights ----------------------------------------------------------------------

def test_user_add_grant_and_show_folder_levels(demo_cli):
    out = demo_cli.ok("--as", "martin", "user", "add", "Jeanne", "--name", "Jeanne Vendeuse",
                      "--role", "utilisateur", "--company", "Boulangerie Martin",
                      "--email", "jeanne@example.org")
    assert "Compte « jeanne » (utilisateur) créé, sans aucun droit" in out
    assert GENERATED.search(out)
    show = demo_cli.ok("user", "show", "jeanne")
    assert show.startswith("jeanne — Jeanne Vendeuse (utilisateur, Boulangerie Martin)")
    assert "Achats: aucun, Ventes: aucun" in row_of(show, "Boulangerie Martin")

    out = demo_cli.ok("--as", "martin", "grant", "jeanne", "--company", "Boulangerie Martin",
                      "--folder", "Ventes", "--folder", "Banque", "--level", "lecture")
    assert out == "jeanne / Boulangerie Martin : Ventes, Banque en lecture.\n"
    demo_cli.ok("--as", "martin", "grant", "jeanne", "--company", "732829320",
                "--folder", "Ventes", "--level", "écriture")
    demo_cli.ok("--as", "martin", "grant", "jeanne", "--company", "732829320",
                "--service", "messagerie", "--level", "oui")
    show = demo_cli.ok("user", "show", "jeanne")
    assert header(show) == ["Entreprise", "Dossiers", "Services"]
    line = row_of(show, "Boulangerie Martin")
    for text in ("Achats: aucun", "Ventes: écriture", "Banque: lecture", "Fiscalité: aucun",
                 "Autres: aucun", "messagerie"):
        assert text in line
    assert "Garage Dupont" not in show

    # The interlocuteur sees all his company's folders; the secretary only hers.
    assert "Fiscalité: écriture" in row_of(demo_cli.ok("user", "show", "martin"), "Boulangerie")
    assert "Fiscalité: aucun" in row_of(demo_cli.ok("user", "show", "secretaire"), "Boulangerie")

    listing = demo_cli.ok("user", "list", "--company", "Boulangerie Martin")
    assert [line.split()[0] for line in rows(listing)] == ["jeanne", "martin", "secretaire"]
    assert "jeanne@example.org" in row_of(listing, "jeanne")
    assert {line.split()[0] for line in rows(demo_cli.ok("--as", "martin", "user", "list"))} \
        == {"jeanne", "martin", "secretaire"}


@pytest.mark.parametrize("argv, reason", [
    (["--as", "secretaire", "grant", "martin", "--company", "Boulangerie Martin",
      "--folder", "Achats", "--level", "lecture"], "n'administre aucun compte"),
    (["--as", "martin", "grant", "secretaire", "--company", "Boulangerie Martin",
      "--folder", "Compta", "--level", "lecture"], "n'est pas un dossier"),
    (["--as", "martin", "grant", "secretaire", "--company", "Boulangerie Martin",
      "--folder", "Achats", "--level", "bof"], "Niveau refusé"),
    (["--as", "martin", "grant", "secretaire", "--company", "Boulangerie Martin",
      "--service", "facturation", "--level", "peut-être"], "« oui » ou « non »"),
    (["--as", "martin", "grant", "dupont", "--company", "Garage Dupont",
      "--folder", "Achats", "--level", "lecture"], "introuvable"),
    (["--as", "martin", "user", "add", "paul", "--name", "Paul", "--role", "utilisateur",
      "--company", "Garage Dupont"], "introuvable"),
    (["--as", "associe", "user", "add", "paul", "--name", "Paul", "--role", "associé"],
     "ne peut pas créer"),
    (["user", "add", "paul", "--name", "Paul", "--role", "assistant", "--email", "paul@"],
     "Adresse e-mail invalide"),
    (["user", "add", "andré", "--name", "Paul", "--role", "assistant"], "Identifiant invalide"),
    (["user", "add", "martin", "--name", "Paul", "--role", "assistant"], "déjà pris"),
], ids=["not-an-admin", "unknown-folder", "bad-level", "bad-service-answer", "other-company",
        "user-of-other-company", "associate-creates-associate", "bad-email", "bad-login",
        "login-taken"])
def test_refused_user_administration(demo_cli, argv, reason):
    before = demo_cli.ok("user", "show", "secretaire"), demo_cli.ok("user", "list")
    assert reason in demo_cli.refused(*argv)
    assert (demo_cli.ok("user", "show", "secretaire"), demo_cli.ok("user", "list")) == before


def test_cabinet_accounts(demo_cli):
    out = demo_cli.ok("user", "add", "lucie", "--name", "Lucie Associée", "--role", "associe")
    assert "(associé) créé" in out
    demo_cli.ok("--as", "lucie", "user", "add", "hugo", "--name", "Hugo", "--role",
                "assistant")
    assert "Aucun droit sur aucune entreprise." in demo_cli.ok("user", "show", "hugo")
    assert "Cet assistant n'est dans aucun portefeuille" in demo_cli.refused(
        "grant", "hugo", "--company", "Garage Dupont", "--folder", "Achats", "--level",
        "lecture")


def test_password_reset_by_an_administrator_then_own_change(demo_cli):
    out = demo_cli.ok("user", "passwd", "martin")
    assert out.startswith("Mot de passe de « martin » réinitialisé.")
    generated = GENERATED.search(out).group(1)
    assert generated != DEMO_PASSWORD

    assert "ancien mot de passe est incorrect" in demo_cli.refused(
        "--as", "martin", "user", "passwd", "martin", "--password-stdin",
        stdin=f"{DEMO_PASSWORD}\nun nouveau mot de passe\n")
    wrong = rows(demo_cli.ok("audit", "--refused"))
    assert len(wrong) == 1
    assert wrong[0].split()[2:6] == ["martin", "cli:" + _system_user(), "user.password_change",
                                     "martin"]
    assert "--password-stdin" in demo_cli.refused("--as", "martin", "user", "passwd", "martin")
    assert "au moins 12 caractères" in demo_cli.refused(
        "--as", "martin", "user", "passwd", "martin", "--password-stdin",
        stdin=f"{generated}\ncourt\n")
    assert demo_cli.ok("--as", "martin", "user", "passwd", "martin", "--password-stdin",
                       stdin=f"{generated}\nun nouveau mot de passe\n") == "Mot de passe changé.\n"
    # The generated one is spent: it no longer opens the account.
    assert "incorrect" in demo_cli.refused(
        "--as", "martin", "user", "passwd", "martin", "--password-stdin",
        stdin=f"{generated}\nencore un autre mot de passe\n")

    # An administrator may also set a chosen password; nobody resets their own.
    out = demo_cli.ok("--as", "martin", "user", "passwd", "secretaire", "--password-stdin",
                      stdin="mot de passe choisi par martin\n")
    assert out == "Mot de passe de « secretaire » réinitialisé.\n"
    demo_cli.ok("--as", "secretaire", "user", "passwd", "secretaire", "--password-stdin",
                stdin="mot de passe choisi par martin\nle mien maintenant\n")
    assert "n'administre aucun compte" in demo_cli.refused(
        "--as", "secretaire", "user", "passwd", "martin")
    assert "Aucun mot de passe reçu" in demo_cli.refused(
        "user", "passwd", "dupont", "--password-stdin", stdin="")

    resets = rows(demo_cli.ok("audit", "--action", "user.password"))
    # both wrong old passwords and secretaire's reset attempt are audited as refused
    assert sorted(line.split()[4] for line in resets) == [
        "user.password_change"] * 4 + ["user.password_reset"] * 3
    assert sum("refusé" in line for line in resets) == 3


def test_user_disable_and_enable(demo_cli):
    assert demo_cli.ok("--as", "martin", "user", "disable", "secretaire") == \
        "Compte « secretaire » désactivé.\n"
    assert row_of(demo_cli.ok("user", "list"), "secretaire").endswith("désactivé")
    assert demo_cli.ok("user", "show", "secretaire").split("\n")[0].endswith("— désactivé")
    assert "Votre compte est désactivé." in demo_cli.refused(
        "--as", "secretaire", "grant", "secretaire", "--company", "Boulangerie Martin",
        "--folder", "Achats", "--level", "lecture")
    assert "propre compte" in demo_cli.refused("user", "disable", "expert")
    assert "Un interlocuteur administre les utilisateurs" in demo_cli.refused(
        "--as", "martin", "user", "disable", "dupont")
    demo_cli.ok("user", "enable", "secretaire")
    assert row_of(demo_cli.ok("user", "list"), "secretaire").endswith("actif")
    acts = rows(demo_cli.ok("audit", "--action", "user.", "--since", "2000-01-01"))
    assert [line.split()[2:5] for line in acts[:2]] == [
        ["expert", "cli:" + _system_user(), "user.enable"],
        ["martin", "cli:" + _system_user(), "user.disable"]]


# --- portfolios ----------------------------------------------------------------------------

def test_portfolio_commands(demo_cli):
    assert demo_cli.ok("portfolio", "add", "Garages") == "Portefeuille « Garages » créé.\n"
    assert "Le portefeuille « garages » existe déjà." in demo_cli.refused(
        "portfolio", "add", "garages")
    demo_cli.ok("portfolio", "add-company", "Garages", "Garage Dupont")
    demo_cli.ok("portfolio", "add-member", "Garages", "assistant")
    listing = demo_cli.ok("portfolio", "list")
    assert header(listing) == ["Portefeuille", "Entreprises", "Membres"]
    assert re.split(r"\s{2,}", row_of(listing, "Garages")) == ["Garages", "Garage Dupont",
                                                               "assistant"]
    assert "Tous les clients" in listing and "Commerces de bouche" in listing
    # What the assistant notices: the garage is now hers.
    assert "Garage Dupont" in demo_cli.ok("--as", "assistant", "company", "list")

    assert "Seuls les membres du cabinet" in demo_cli.refused(
        "portfolio", "add-member", "Garages", "martin")
    assert "Seul le correspondant" in demo_cli.refused("--as", "associe", "portfolio", "add",
                                                       "Mes clients")

    demo_cli.ok("portfolio", "remove-member", "Garages", "assistant")
    assert "Garage Dupont" not in demo_cli.ok("--as", "assistant", "company", "list")
    demo_cli.ok("portfolio", "remove-company", "Garages", "Garage Dupont")
    assert re.split(r"\s{2,}", row_of(demo_cli.ok("portfolio", "list"), "Garages")) == [
        "Garages", "-", "-"]
    assert demo_cli.ok("portfolio", "delete", "Garages") == \
        "Portefeuille « Garages » supprimé.\n"
    assert "Garages" not in demo_cli.ok("portfolio", "list")
    assert "Garage Dupont" in demo_cli.ok("company", "list")  # its companies stay
    assert "Garages" in demo_cli.refused("portfolio", "delete", "Garages")
    assert len(rows(demo_cli.ok("audit", "--action", "portfolio", "--actor", "expert"))) >= 6


# --- concurrency ---------------------------------------------------------------------------

def _liasse_command() -> list[str]:
    script = Path(sys.executable).parent / "liasse"
    if script.exists():
        return [str(script)]
    found = shutil.which("liasse")
    return [found] if found else [sys.executable, "-m", "liasse.cli"]


def test_concurrent_commands_leave_no_half_user_or_company(demo, settings):
    base = [*_liasse_command(), "--config", str(settings.source)]
    env = {k: v for k, v in os.environ.items() if k not in ("LIASSE_DATA", "LIASSE_CONFIG")}
    logins = [f"assistant{i}" for i in range(8)]
    companies = {f"Société {i}": siren(51000000 + i) for i in range(8)}
    commands = [[*base, "user", "add", login, "--name", f"Assistant {login}", "--role",
                 "assistant"] for login in logins]
    commands += [[*base, "company", "add", name, "--siren", number,
                  "--interlocuteur", f"inter{number}", "--interlocuteur-name", f"Chef {name}"]
                 for name, number in companies.items()]
    # Two conflicting creations too: at most one of each pair may win.
    commands += [[*base, "user", "add", "doublon", "--name", "Doublon", "--role", "assistant"]
                 for _ in range(2)]
    commands += [[*base, "company", "add", f"Jumelle {i}", "--siren", siren(52000000),
                  "--interlocuteur", f"jumelle{i}", "--interlocuteur-name", "J"]
                 for i in range(2)]

    def run(argv):
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120,
                              stdin=subprocess.DEVNULL)

    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        results = list(pool.map(run, commands))

    for argv, result in zip(commands, results, strict=True):
        assert result.returncode in (0, 1), (argv, result.stderr)
        if result.returncode == 1:  # nothing claimed on stdout, the reason on stderr
            assert result.stdout == ""
            assert_one_sentence(result.stderr)
            assert re.search(r"déjà (pris|\.)|existe déjà|conflit avec une opération "
                             r"simultanée", result.stderr), result.stderr
        else:
            assert result.stderr == "", result.stderr
    assert sum(r.returncode == 0 for r in results[16:18]) == 1
    assert sum(r.returncode == 0 for r in results[18:20]) == 1
    # Plain contention (distinct logins and SIRENs) is not a reason to refuse.
    assert [r.returncode for r in results[:16]] == [0] * 16, [r.stderr for r in results[:16]]

    with demo.session() as s:
        audited = {(e.action, e.target) for e in s.scalars(select(AuditEntry))}
        for login in [*logins, "doublon"]:
            user = s.scalars(select(User).where(User.login == login)).one()
            assert ("user.create", user.login) in audited
        created = s.scalars(select(Company).where(
            Company.name.in_([*companies, "Jumelle 0", "Jumelle 1"]))).all()
        assert len(created) == 9
        for company in created:
            interlocuteurs = s.scalars(select(User).where(
                User.company_id == company.id, User.role == Role.INTERLOCUTEUR.value)).all()
            assert len(interlocuteurs) == 1
            assert standard_folders(s, company.id) == list(settings.folders.tree)
            assert ("company.create", company.name) in audited
        orphans = s.scalars(select(User.login).where(
            User.login.in_(["jumelle0", "jumelle1"]))).all()
        assert len(orphans) == 1  # the losing twin's interlocuteur does not exist


# --- hostile input: each a sentence, never a traceback -----------------------------------

def assert_usage_error(result: tuple[int, str, str], text: str) -> None:
    code, out, err = result
    assert code == 2 and out == "", (code, out, err)
    assert text in err and "Traceback" not in err, err


@pytest.mark.parametrize("argv", [
    ["company", "protect", "Boulangerie Martin", "--date", "1/1/99999999999999999999"],
    ["company", "protect", "Boulangerie Martin", "--date", "0001-01-01"],
    ["company", "add", "Nouvelle", "--siren", siren(40404041), "--protection-date",
     "31/12/9999"],
    ["audit", "--since", "0001-01-01"],
    ["audit", "--until", "9999-12-31"],
])
def test_a_date_no_one_means_is_a_usage_error(demo_cli, argv):
    assert_usage_error(demo_cli(*argv), "date invalide")


def test_a_protection_date_of_this_century_is_taken(demo_cli):
    demo_cli.ok("company", "protect", "Boulangerie Martin", "--date", "31/12/1999")


@pytest.mark.parametrize("argv", [
    ["company", "show", "\udcff"],
    ["--as", "\udcff\udcfe", "company", "list"],
    ["company", "add", "Soci\udce9t\udce9", "--siren", siren(40404042)],
])
def test_arguments_that_are_not_utf8_are_a_usage_error(demo_cli, demo, argv):
    """Bytes that are not UTF-8 (a script in Latin-1, a copied name) reach Python as lone
    surrogates: refused before any database work, the argument shown readably."""
    before = companies(demo)
    assert_usage_error(demo_cli(*argv), "les arguments doivent être du texte UTF-8")
    assert companies(demo) == before


def companies(db) -> list[str]:
    with db.session() as s:
        return sorted(s.scalars(select(Company.name)))


def test_a_password_on_stdin_that_is_not_utf8_is_refused(demo_cli, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Mot\xffdepasse-2026!\n"),
                                                       encoding="utf-8"))
    code, _, err = demo_cli("user", "passwd", "secretaire", "--password-stdin")
    assert code == 1 and err == "liasse : Le mot de passe reçu n'est pas du texte UTF-8.\n"


@pytest.mark.parametrize("ref", ["²", "١٢٣"])  # a superscript, Arabic-Indic digits
def test_a_company_reference_of_unicode_digits_is_not_found(demo_cli, ref):
    assert demo_cli.refused("company", "show", ref) == \
        f"liasse : Entreprise introuvable : « {ref} ».\n"


@pytest.mark.parametrize("argv", [["audit", "--limit", "9223372036854775808"],
                                  ["audit", "--limit", "0"],
                                  ["outbox", "list", "--limit", "-1"],
                                  ["outbox", "list", "--limit", "1e9"]])
def test_a_limit_out_of_range_is_a_usage_error(demo_cli, argv):
    assert_usage_error(demo_cli(*argv), f"nombre invalide « {argv[-1]} » (de 1 à 100000)")


def test_the_outbox_refusal_names_the_outbox(demo_cli):
    assert demo_cli.refused("--as", "assistant", "outbox", "list") == (
        "liasse : La file d'envoi des e-mails est réservée au correspondant et aux "
        "associés.\n")


def test_acting_as_nobody_is_refused(demo_cli):
    """`--as ""` (an unset shell variable) acted as the correspondant."""
    assert demo_cli.refused("--as", "", "user", "disable", "secretaire") == \
        "liasse : L'option --as attend l'identifiant d'un compte.\n"
    assert row_of(demo_cli.ok("user", "list"), "secretaire").endswith("actif")


@pytest.fixture
def sqlite_settings(tmp_path) -> Path:
    """Settings of a SQLite database at tmp_path/liasse.db (made by the test)."""
    return write_settings(tmp_path, f"sqlite:///{tmp_path / 'liasse.db'}")


def test_a_file_that_is_not_a_database_is_named_as_such(sqlite_settings, capsys, monkeypatch):
    (sqlite_settings.parent / "liasse.db").write_bytes(b"PK\x03\x04 not a database" * 100)
    code, out, err = Cli(sqlite_settings, capsys, monkeypatch)("company", "list")
    assert code == 1 and out == ""
    assert_one_sentence(err)
    assert "la base de données est illisible" in err


def test_a_database_of_a_newer_version_is_refused(sqlite_settings, capsys, monkeypatch):
    cli = Cli(sqlite_settings, capsys, monkeypatch)
    assert cli("init", "--cabinet", "Cabinet Test")[0] == 0
    database = sqlite3.connect(sqlite_settings.parent / "liasse.db")
    with database:
        database.execute("UPDATE alembic_version SET version_num = 'f00dcafe1234'")
    database.close()
    code, out, err = cli("company", "list")
    assert code == 1 and out == ""
    assert err == ("liasse : La base de données a été mise à jour par une version plus "
                   "récente de Liasse, ou n'est pas une base Liasse : mettez Liasse à jour.\n")


def test_tables_show_no_control_character_of_stored_names(demo_cli, demo):
    """A name typed with an escape sequence (say, in the web profile) or a right-to-left
    override cannot drive the administrator's terminal or disguise a line in `liasse`'s
    tables; a no-break space stays a space."""
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "dupont")).one()
        user.display_name = "Jean\x1b]0;pwned\x07\x1b[2J Dupont\u202eftp.exe\u00a0SARL"
    line = row_of(demo_cli.ok("user", "list"), "dupont")
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line
    assert "Jean\ufffd]0;pwned\ufffd\ufffd[2J Dupont\ufffdftp.exe SARL" in line


@pytest.mark.parametrize("extra, reason", [
    (["--siren", "000000000"], "SIREN invalide : « 000000000 »"),
    (["--contact-email", "pas une adresse"], "Adresse e-mail invalide : « pas une adresse »"),
    (["--legal-form", "S" * 51], "La forme juridique ne peut dépasser 50 caractères."),
    (["--contact-phone", "0" * 41], "Le téléphone du contact ne peut dépasser 40 caractères."),
    (["--address", "rue " * 300], "L'adresse ne peut dépasser 1000 caractères."),
])
def test_company_fields_are_refused_not_cut_or_kept_broken(demo_cli, demo, extra, reason):
    """Nine zeros pass the SIREN's check digit; a contact address was kept unchecked; a long
    legal form was silently cut (and PostgreSQL refuses what its columns cannot hold)."""
    before = companies(demo)
    argv = ["company", "add", "Nouvelle Société", "--siren", siren(40404043),
            "--interlocuteur", "nouveau", "--interlocuteur-name", "Nouveau", *extra]
    assert reason in demo_cli.refused(*argv)
    assert companies(demo) == before


PNG = bytes.fromhex(  # a 1x1 PNG, checksums right
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c494441"
    "54789c63f8ffff3f0005fe02fe0def46b80000000049454e44ae426082"
)


def test_the_logo_is_an_image_that_exists(demo_cli, tmp_path, monkeypatch):
    folder_png = tmp_path / "dossier.png"
    folder_png.mkdir()
    for wrong in (str(tmp_path / "absent.png"), str(folder_png)):
        assert "Logo introuvable ou illisible" in demo_cli.refused(
            "cabinet", "set", "--logo", wrong)
    assert "Logo refusé : une image PNG ou JPEG" in demo_cli.refused(
        "cabinet", "set", "--logo", "/etc/passwd")
    (tmp_path / "logo.png").write_bytes(PNG)
    monkeypatch.chdir(tmp_path)
    demo_cli.ok("cabinet", "set", "--logo", "logo.png")  # relative: read from here, copied
    (tmp_path / "logo.png").unlink()
    shown = demo_cli.ok("cabinet", "show").split("\n")
    assert [line for line in shown if line.startswith("Logo")] == \
        ["Logo     PNG, 1 Kio (copie dans le dossier de données)"]


def test_an_import_template_never_overwrites_a_file(demo_cli, tmp_path):
    existing = tmp_path / "modèle.xlsx"
    existing.write_bytes(b"my own work")
    assert "existe déjà" in demo_cli.refused("import", "--template", str(existing))
    assert existing.read_bytes() == b"my own work"
    assert "indiquez un fichier .xlsx ou .csv" in demo_cli.refused(
        "import", "--template", str(tmp_path / "modèle.ods"))
    assert not (tmp_path / "modèle.ods").exists()
    demo_cli.ok("import", "--template", str(tmp_path / "neuf.csv"))
    assert (tmp_path / "neuf.csv").read_text(encoding="utf-8-sig").startswith("raison_sociale")


def test_a_new_database_is_private(tmp_path, capsys, monkeypatch):
    """It holds the password hashes: mode 600 as the settings file, its journals too."""
    data = tmp_path / "data"
    code, _, err = Cli(tmp_path / "unused.toml", capsys, monkeypatch)(
        "--data", str(data), "init", "--cabinet", "Cabinet Privé", config=False)
    assert code == 0, err
    modes = {p.name: p.stat().st_mode & 0o777 for p in data.iterdir()
             if p.name.startswith("liasse.db") or p.name == "liasse.toml"}
    assert modes["liasse.db"] == 0o600 and modes["liasse.toml"] == 0o600, modes
    assert all(mode == 0o600 for mode in modes.values()), modes


def test_usage_lines_name_values_in_french():
    """argparse shows an option's English name (NAME, LEGAL_FORM...) where no placeholder
    is given: every value has one (or a list of choices)."""
    untranslated = []

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    walk(child)
            elif action.nargs != 0 and not isinstance(action, argparse._HelpAction) \
                    and action.metavar is None and action.choices is None:
                untranslated.append(f"{parser.prog} {action.dest}")

    walk(build_parser())
    assert untranslated == []
    assert "--legal-form FORME" in build_parser()._subparsers._group_actions[0] \
        .choices["company"]._subparsers._group_actions[0].choices["add"].format_usage()
