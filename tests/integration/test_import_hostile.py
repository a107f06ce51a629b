"""`liasse import` against broken or hostile files: exit 1, the reason in French on stderr,
never a traceback or an "erreur inattendue", and nothing created (all or nothing)."""

from __future__ import annotations

import os
import stat
import threading
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from acl import tables
from acl.people.models import Company, User
from liasse.cli import main

HEADER = "raison_sociale;siren;interlocuteur_identifiant;interlocuteur_nom"
GOOD_ROW = "Pharmacie Durand;443061841;durand;Marie Durand"


@pytest.fixture
def run(demo, settings, capsys):
    """`liasse import ...` on the demo world: (exit code, stdout, stderr)."""
    def call(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--config", str(settings.source), "import", *map(str, argv)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return call


def _counts(db) -> tuple[int, int]:
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(Company)),
                s.scalar(select(func.count()).select_from(User)))


def _refused(result: tuple[int, str, str], *expected: str) -> str:
    code, out, err = result
    assert code == 1, out + err
    assert out == ""
    assert err.startswith("liasse : Import refusé"), err
    assert "Traceback" not in err and "inattendue" not in err
    for text in expected:
        assert text in err
    return err


def _xlsx(path, rows):
    book = Workbook()
    sheet = book.active
    sheet.title = "Entreprises"
    for row in [HEADER.split(";"), *rows]:
        sheet.append(row)
    book.save(path)
    return path


# --- whole-file refusals: the reason reaches the user ---------------------------------------

@pytest.mark.parametrize("name, content, expected", [
    ("absent.csv", None, "Fichier introuvable"),
    ("clients.pdf", b"%PDF-1.4", "Format non pris en charge"),
    ("vide.csv", b"", "aucune ligne"),
    ("faux.xlsx", b"PK\x03\x04 pas un zip", "classeur Excel"),
    ("colonnes.csv", b"raison_sociale;sirne\nA;1\n", "colonne inconnue « sirne »"),
    ("nul.csv", b"raison_sociale;siren\nA\x00;1\n", "octets nuls"),
    ("utf16.csv", "raison_sociale\tsiren\nA\t1\n".encode("utf-16"), "enregistrez-le en UTF-8"),
    ("binaire.csv", bytes(range(1, 256)) * 40, "n'est pas un CSV lisible"),
    ("long.csv", f"{HEADER};adresse\n{GOOD_ROW};{'x' * 200_000}\n".encode(),
     "illisible à la ligne 2 : une cellule est trop longue"),
])
def test_a_refused_file_names_its_problem(run, demo, tmp_path, name, content, expected):
    before = _counts(demo)
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    _refused(run(path), expected)
    assert _counts(demo) == before


def test_a_workbook_without_a_known_sheet(run, tmp_path):
    book = Workbook()
    book.active.title = "Feuil1"
    book.save(tmp_path / "c.xlsx")
    _refused(run(tmp_path / "c.xlsx"), "feuille « Entreprises »")


def test_row_errors_go_to_stderr(run, demo, tmp_path):
    before = _counts(demo)
    (tmp_path / "c.csv").write_text(f"{HEADER}\nA;123456789;a;A\n", encoding="utf-8")
    _refused(run(tmp_path / "c.csv"), "Entreprises, ligne 2 : SIREN invalide")
    assert _counts(demo) == before


def test_old_mac_line_endings_are_read(run, demo, tmp_path):
    (tmp_path / "mac.csv").write_bytes(f"{HEADER}\r{GOOD_ROW}\r".encode())
    code, out, err = run(tmp_path / "mac.csv")
    assert code == 0, err
    with demo.session() as s:
        assert s.scalars(select(Company.name).where(Company.siren == "443061841")).one() \
            == "Pharmacie Durand"


def test_a_date_beyond_any_calendar_is_a_row_error(run, demo, tmp_path):
    before = _counts(demo)
    (tmp_path / "c.csv").write_text(f"{HEADER};date_protection\n"
                                    f"{GOOD_ROW};1/1/99999999999999999999\n", encoding="utf-8")
    _refused(run(tmp_path / "c.csv"), "Entreprises, ligne 2 : date invalide")
    assert _counts(demo) == before


# --- not a regular file: refused without being read -----------------------------------------

def test_a_device_or_a_folder_is_refused(run, tmp_path):
    (tmp_path / "null.csv").symlink_to("/dev/null")
    _refused(run(tmp_path / "null.csv"), "n'est pas un fichier ordinaire")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    _refused(run(tmp_path / "zero.csv", "--dry-run"), "n'est pas un fichier ordinaire")
    (tmp_path / "dossier.csv").mkdir()
    _refused(run(tmp_path / "dossier.csv"), "est un dossier")


def test_a_fifo_is_refused_without_waiting_for_a_writer(run, tmp_path):
    fifo = tmp_path / "tube.csv"
    os.mkfifo(fifo)

    def write():  # lets a reader that waits for data finish (and fail the test)
        try:
            with open(fifo, "wb") as out:
                out.write(f"{HEADER}\n{GOOD_ROW}\n".encode())
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        _refused(run(fifo, "--dry-run"), "n'est pas un fichier ordinaire")
    finally:
        keeper = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # unblocks the writer's open
        writer.join()
        os.close(keeper)


# --- sizes --------------------------------------------------------------------------------

def test_an_xlsx_that_unpacks_too_big_is_refused(run, demo, tmp_path, monkeypatch):
    before = _counts(demo)
    path = _xlsx(tmp_path / "bombe.xlsx", [[*GOOD_ROW.split(";")[:3], "x" * 30_000]])
    monkeypatch.setattr(tables, "MAX_XLSX_UNPACKED_BYTES", 30_000)
    _refused(run(path), "trop volumineux une fois décompressé", "Mio au plus")
    assert _counts(demo) == before


def test_an_overlong_cell_is_a_row_error(run, demo, tmp_path):
    before = _counts(demo)
    (tmp_path / "c.csv").write_text(f"{HEADER};adresse\n{GOOD_ROW};{'x' * 5000}\n",
                                    encoding="utf-8")
    _refused(run(tmp_path / "c.csv", "--dry-run"),
             "Entreprises, ligne 2 : la colonne « adresse » dépasse 1000 caractères")
    path = _xlsx(tmp_path / "c.xlsx", [GOOD_ROW.split(";"), ["B" * 201, "542065479", "b", "B"]])
    _refused(run(path, "--dry-run"),
             "Entreprises, ligne 3 : la colonne « raison_sociale » dépasse 200")
    assert _counts(demo) == before


def test_a_formula_is_refused_not_read_as_empty(run, demo, tmp_path):
    before = _counts(demo)
    path = _xlsx(tmp_path / "c.xlsx", [["=1+1", *GOOD_ROW.split(";")[1:]]])
    _refused(run(path), "Entreprises, ligne 2 : la colonne « raison_sociale » contient une "
                        "formule")
    assert _counts(demo) == before


def test_a_formula_saved_with_its_value_by_excel_imports_the_value(run, demo, tmp_path):
    """Excel saves each formula's computed value with it: that value is imported."""
    path = _xlsx(tmp_path / "c.xlsx", [["=1+1", *GOOD_ROW.split(";")[1:]]])
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert b'<c r="A2"><f>1+1</f><v></v></c>' in members[sheet]
    members[sheet] = members[sheet].replace(
        b'<c r="A2"><f>1+1</f><v></v></c>',
        b'<c r="A2" t="str"><f>CONCAT("Pharmacie ","Durand")</f><v>Pharmacie Durand</v></c>')
    with zipfile.ZipFile(path, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)
    code, out, err = run(path)
    assert code == 0, out + err
    with demo.session() as s:
        assert s.scalar(select(Company.name).where(Company.siren == "443061841")) == \
            "Pharmacie Durand"


# --- --credentials ------------------------------------------------------------------------

@pytest.mark.parametrize("where", ["absent/identifiants.csv", "."])
def test_credentials_that_cannot_be_written_stop_the_import_first(run, demo, tmp_path, where):
    before = _counts(demo)
    (tmp_path / "c.csv").write_text(f"{HEADER}\n{GOOD_ROW}\n", encoding="utf-8")
    code, out, err = run(tmp_path / "c.csv", "--credentials", tmp_path / where)
    assert code == 1 and out == ""
    assert err.startswith("liasse : Impossible d'écrire les identifiants"), err
    assert "rien n'a été importé" in err
    assert _counts(demo) == before


def test_credentials_go_to_a_file_made_private(run, demo, tmp_path):
    (tmp_path / "c.csv").write_text(f"{HEADER}\n{GOOD_ROW}\n", encoding="utf-8")
    credentials = tmp_path / "identifiants.csv"
    credentials.write_text("ancien contenu\n", encoding="utf-8")
    credentials.chmod(0o644)
    code, out, err = run(tmp_path / "c.csv", "--credentials", credentials)
    assert code == 0, err
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    lines = credentials.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "identifiant;mot_de_passe_initial"
    assert [line.split(";")[0] for line in lines[1:]] == ["durand"]


def test_a_refused_import_leaves_no_credentials_file(run, tmp_path):
    (tmp_path / "c.csv").write_text(f"{HEADER}\nA;123456789;a;A\n", encoding="utf-8")
    credentials = tmp_path / "identifiants.csv"
    _refused(run(tmp_path / "c.csv", "--credentials", credentials), "SIREN invalide")
    assert not credentials.exists()
