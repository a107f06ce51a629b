"""`liasse init`, `serve`, `demo` and `cert` against hostile or broken input: one French
sentence, exit 1, and nothing left behind (no half-made data folder, settings or database);
broken settings and databases named without a traceback.

Commands run in-process through `liasse.cli.main`, as in test_cli.py; none listens: the
server class is replaced by one that fails the test if it is ever built.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography import x509
from support.world import write_settings

from config.settings import SettingsError, load_settings, parse_settings
from tests.integration.test_cli import Cli, assert_one_sentence

PASSWORD = "un mot de passe choisi\n"
INJECTION = 'sqlite:////tmp/x.db"\n[smtp]\nhost = "evil.example"\n#'


@pytest.fixture(autouse=True)
def _never_listens(monkeypatch):
    def no_binding(*_args, **_kwargs):
        raise AssertionError("the command must refuse before listening")

    monkeypatch.setattr("liasse.cli.setup.LiasseServer", no_binding)


@pytest.fixture
def run(tmp_path, capsys, monkeypatch) -> Cli:
    """`liasse ARGS` without --config (each test says --data or --config)."""
    cli = Cli(tmp_path / "unused.toml", capsys, monkeypatch)
    return lambda *argv, stdin=None: cli(*argv, stdin=stdin, config=False)


def refused(result: tuple[int, str, str]) -> str:
    code, out, err = result
    assert code == 1, f"{code}: {out}{err}"
    assert out == ""
    assert_one_sentence(err)
    assert "erreur inattendue" not in err
    return err


def installed(tmp_path: Path, run) -> Path:
    """A data folder initialised on SQLite with cheap argon2 settings; its settings file."""
    path = write_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'liasse.db'}")
    code, _, err = run("--config", str(path), "init", "--cabinet", "Cabinet Martel")
    assert (code, err) == (0, "")
    return path


# --- init: refused before anything is written, or everything it wrote taken back ------------

@pytest.mark.parametrize("argv, stdin, reason", [
    (["--cabinet", ""], None, "Le nom du cabinet ne peut pas être vide"),
    (["--login", "../x"], None, "Identifiant invalide"),
    (["--email", "bad"], None, "Adresse e-mail invalide"),
    (["--cabinet-siren", "123"], None, "SIREN invalide"),
    (["--password-stdin"], "court\n", "au moins 12 caractères"),
    (["--database-url", "mysql://x"], None, "seules les bases sqlite:// et postgresql://"),
    (["--database-url", "sqlite+nope:///x"], None, "« sqlite+nope »"),
    (["--database-url", "sqlite://"], None, "en mémoire ne garde rien"),
    (["--database-url", "sqlite:///:memory:"], None, "en mémoire ne garde rien"),
    (["--database-url", "postgresql://liasse@127.0.0.1:1/liasse"], None,
     "inaccessible : aucun serveur PostgreSQL ne répond à cette adresse"),
    (["--database-url", "sqlite:///{tmp}/absent/x.db"], None, "absent de la base"),
    (["--database-url", INJECTION], None, "caractère de contrôle"),
    (["--folders", "Achats,Ven\\tes"], None, "section [folders], clé « tree »"),
], ids=["empty-cabinet", "bad-login", "bad-email", "bad-siren", "short-password", "mysql",
        "unknown-driver", "sqlite-memory", "sqlite-memory-named", "unreachable-postgresql",
        "missing-folder", "toml-injection", "backslash-folder"])
def test_refused_init_leaves_nothing_and_can_be_run_again(argv, stdin, reason, tmp_path, run):
    data = tmp_path / "nouveau"
    argv = [arg.replace("{tmp}", str(tmp_path)) for arg in argv]
    cabinet = [] if "--cabinet" in argv else ["--cabinet", "Cabinet Martel"]
    err = refused(run("--data", str(data), "init", *cabinet, *argv, stdin=stdin))
    assert reason.replace("{tmp}", str(tmp_path)) in err
    assert not data.exists()
    assert not (tmp_path / "absent").exists()

    code, out, err = run("--data", str(data), "init", "--cabinet", "Cabinet Martel",
                         "--password-stdin", stdin=PASSWORD)
    assert (code, err) == (0, "")
    assert "Cabinet « Cabinet Martel » initialisé" in out


def test_refused_init_keeps_the_settings_and_database_it_found(tmp_path, run):
    path = write_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'liasse.db'}")
    before = path.read_bytes()
    refused(run("--config", str(path), "init", "--cabinet", "C", "--email", "bad"))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["liasse.toml"]


def test_init_in_a_regular_file_is_refused(tmp_path, run):
    plain = tmp_path / "fichier"
    plain.write_text("à garder\n")
    for data in (plain, plain / "dessous"):
        err = refused(run("--data", str(data), "init", "--cabinet", "C"))
        assert f"{plain} n'est pas un dossier." in err
    assert plain.read_text() == "à garder\n"


# --- init: values written into liasse.toml ---------------------------------------------------

def test_database_url_with_quote_and_backslash_is_written_as_given(tmp_path, run):
    folder = tmp_path / 'dos"sier\\à # [smtp]'
    folder.mkdir()
    url = f"sqlite:///{folder / 'liasse.db'}"
    data = tmp_path / "nouveau"
    code, _, err = run("--data", str(data), "init", "--cabinet", "C", "--database-url", url,
                       "--password-stdin", stdin=PASSWORD)
    assert (code, err) == (0, "")
    settings = load_settings(data / "liasse.toml")
    assert settings.database.url == url and settings.smtp.host == ""
    assert (folder / "liasse.db").exists()
    assert not (data / "liasse.db").exists()


def test_relative_sqlite_path_of_init_is_from_the_current_folder(tmp_path, run, monkeypatch):
    here, elsewhere = tmp_path / "ici", tmp_path / "ailleurs"
    here.mkdir()
    elsewhere.mkdir()
    data = tmp_path / "données"
    monkeypatch.chdir(here)
    code, _, err = run("--data", str(data), "init", "--cabinet", "C", "--database-url",
                       "sqlite:///base.db", "--password-stdin", stdin=PASSWORD)
    assert (code, err) == (0, "")
    assert f'url = "sqlite:///{here / "base.db"}"' in (data / "liasse.toml").read_text()

    monkeypatch.chdir(elsewhere)  # the same base from any folder
    code, _, err = run("--data", str(data), "cabinet", "show")
    assert (code, err) == (0, "")
    assert list(elsewhere.iterdir()) == []


def test_relative_sqlite_path_in_settings_is_from_the_settings_folder(tmp_path):
    settings = parse_settings('[database]\nurl = "sqlite:///base/liasse.db"\n',
                              tmp_path / "conf" / "liasse.toml", env={})
    assert settings.database.url == f"sqlite:///{tmp_path / 'conf' / 'base' / 'liasse.db'}"


# --- settings that used to slip past validation ---------------------------------------------

@pytest.mark.parametrize("text, section, key, words", [
    ('[storage]\ndata_dir = "\\u0000"\n', "storage", "data_dir", "caractère nul"),
    ('[database]\nurl = "sqlite+nope:///x"\n', "database", "url", "sqlite+nope"),
    ('[database]\nurl = "sqlite://"\n', "database", "url", "en mémoire"),
    ('[database]\nurl = "sqlite:///:memory:"\n', "database", "url", "en mémoire"),
    ('[database]\nurl = "postgresql://u@h:port/base"\n', "database", "url", "illisible"),
    ("[storage]\ntrash_days = 9223372036854775807\n", "storage", "trash_days",
     "entre 0 et 36500"),
    ("[security]\nargon2_memory_kib = 9223372036854775807\n", "security",
     "argon2_memory_kib", "au plus"),
    ("[security]\nargon2_time_cost = 1000000\n", "security", "argon2_time_cost", "au plus"),
    ("[security]\nargon2_parallelism = 100000\n", "security", "argon2_parallelism", "au plus"),
    ("[security]\nargon2_memory_kib = 8\nargon2_parallelism = 2\n", "security",
     "argon2_memory_kib", "8 Kio par fil"),
    ("[security]\nfailure_delay_seconds = nan\n", "security", "failure_delay_seconds",
     "nombre fini"),
    ("[smtp]\ntimeout_seconds = inf\n", "smtp", "timeout_seconds", "nombre fini"),
    ("[alerts]\nmax_hold_seconds = 1e300\n", "alerts", "max_hold_seconds", "entre 0 et"),
    ("[smtp]\nretry_base_seconds = 1e300\n", "smtp", "retry_base_seconds", "au plus"),
], ids=["nul-byte", "unknown-driver", "sqlite-memory", "sqlite-memory-named", "bad-url",
        "trash-days", "argon2-memory", "argon2-time", "argon2-parallelism",
        "argon2-memory-per-lane", "nan", "infinity", "huge-duration", "huge-retry"])
def test_settings_mistakes_are_named_without_traceback(text, section, key, words, tmp_path,
                                                       run):
    path = tmp_path / "data" / "liasse.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    for argv in (["company", "list"], ["user", "passwd", "expert"], ["trash", "purge"]):
        err = refused(run("--config", str(path), *argv))
        assert str(path) in err and f"section [{section}], clé « {key} »" in err
        assert words in err
    with pytest.raises(SettingsError):
        load_settings(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["liasse.toml"]


def test_a_device_is_not_a_settings_file(tmp_path, run):
    existed = Path("/dev/liasse.db").exists()
    err = refused(run("--config", "/dev/null", "company", "list"))
    assert "/dev/null" in err and "fichier ordinaire" in err
    assert Path("/dev/liasse.db").exists() == existed


# --- databases: broken, foreign, absent ------------------------------------------------------

@pytest.mark.parametrize("damage, reason", [
    (lambda db: db.write_bytes(b"pas une base SQLite" * 500), "illisible"),
    (lambda db: db.write_bytes(db.read_bytes()[:20000]), "illisible"),
    (lambda db: _stamp(db, "ffffffffffff"), "version plus récente de Liasse"),
], ids=["garbage", "truncated", "unknown-revision"])
def test_broken_database_is_refused_and_kept(damage, reason, tmp_path, run):
    path = installed(tmp_path, run)
    db = path.parent / "liasse.db"
    damage(db)
    before = db.read_bytes()
    for argv in (["company", "list"], ["init", "--cabinet", "C"]):
        err = refused(run("--config", str(path), *argv))
        assert reason in err
    assert db.read_bytes() == before


def _stamp(db: Path, revision: str) -> None:
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    connection.close()


def test_a_missing_database_folder_is_not_created(tmp_path, run):
    absent = tmp_path / "absent" / "dossier"
    path = write_settings(tmp_path / "data", f"sqlite:///{absent / 'liasse.db'}")
    for argv in (["company", "list"], ["init", "--cabinet", "C"]):
        assert str(absent) in refused(run("--config", str(path), *argv))
    assert not (tmp_path / "absent").exists()


def test_read_only_commands_create_no_database(tmp_path, run):
    path = write_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'liasse.db'}")
    for argv in (["company", "list"], ["serve"], ["trash", "purge"]):
        err = refused(run("--config", str(path), *argv))
        assert "introuvable" in err and "liasse init" in err
    assert sorted(p.name for p in path.parent.iterdir()) == ["liasse.toml"]


# --- serve and demo ----------------------------------------------------------------------------

@pytest.mark.parametrize("port", ["99999", "-1", "65536"])
def test_serve_refuses_a_port_out_of_range(port, tmp_path, run):
    path = installed(tmp_path, run)
    assert "entre 0 et 65535" in refused(run("--config", str(path), "serve", "--port", port))


@pytest.mark.parametrize("argv, reason", [
    (["--password", "  "], "ne peut pas être vide"),
    (["--tls", "--host", "bad host"], "Nom d'hôte invalide"),
], ids=["blank-password", "bad-tls-host"])
def test_refused_demo_writes_nothing(argv, reason, tmp_path, run):
    data = tmp_path / "démo"
    assert reason in refused(run("--data", str(data), "demo", "--port", "0", *argv))
    assert not data.exists()


def test_demo_in_a_regular_file_is_refused(tmp_path, run):
    plain = tmp_path / "fichier"
    plain.write_text("")
    assert f"{plain} n'est pas un dossier." in refused(run("--data", str(plain), "demo"))


# --- cert ------------------------------------------------------------------------------------

@pytest.mark.parametrize("host, reason", [
    ("", "Nom d'hôte vide"),
    ("a" * 100 + ".example", "Nom d'hôte invalide"),
    ("a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63, "253 caractères"),
    ("serveur-.example", "Nom d'hôte invalide"),
    ("serveur..example", "Nom d'hôte invalide"),
    ("serveur\n.example", "Nom d'hôte invalide"),
    ("fe80::1%eth0", "zone"),
], ids=["empty", "long-label", "long-name", "final-hyphen", "empty-label", "newline",
        "ipv6-zone"])
def test_cert_refuses_a_bad_host_and_writes_nothing(host, reason, tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "tls"
    assert reason in refused(run("cert", "localhost", host, "--out", str(out)))
    assert list(tmp_path.iterdir()) == []  # no certificate, no ./liasse-data/ error log


@pytest.mark.parametrize("host, name", [
    ("é.example", "xn--9ca.example"),
    ("Serveur.Cabinet.LOCAL.", "serveur.cabinet.local"),
    ("a" * 63 + ".example", "a" * 63 + ".example"),  # longer than a common name may be
], ids=["unicode", "case-and-final-dot", "long-name"])
def test_cert_writes_names_in_their_ascii_form(host, name, tmp_path, run):
    out = tmp_path / "tls"
    code, _, err = run("cert", host, "--out", str(out))
    assert (code, err) == (0, "")
    cert = x509.load_pem_x509_certificate((out / "liasse.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [name]


def test_cert_refuses_an_output_that_is_not_a_folder(tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plain = tmp_path / "fichier"
    plain.write_text("à garder\n")
    for out in (plain, plain / "tls"):
        err = refused(run("cert", "localhost", "--out", str(out)))
        assert f"{plain} n'est pas un dossier." in err
    assert plain.read_text() == "à garder\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fichier"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_cert_refuses_an_output_folder_it_cannot_make(tmp_path, run, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = refused(run("cert", "localhost", "--out", "/proc/liasse-tls"))
    assert "Impossible de créer le dossier /proc/liasse-tls" in err
    assert list(tmp_path.iterdir()) == []
