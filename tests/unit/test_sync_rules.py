"""Issue 21: seed 000's rules of the sync tool, one table (sync.rules.plan)."""

from __future__ import annotations

from datetime import datetime

import pytest

from sync.rules import Do, LocalFile, conflict_name, is_ignored, plan, supp_name
from sync.state import Agreed, Remote

P = "Client/Achats/f.pdf"
DIRS_R = {"Client/Achats": Remote(True, "", 0, 0)}
DIRS_L = {"Client/Achats": LocalFile(True, 0, 0)}
DIRS_A = {"Client/Achats": Agreed(True, "", 0, 0)}
OLD = 1_000_000_000  # local files written long ago (ns)


def remote(sha: str) -> dict:
    return {**DIRS_R, P: Remote(False, sha, 3, 0.0)}


def local(size: int = 3, mtime: int = OLD) -> dict:
    return {**DIRS_L, P: LocalFile(False, size, mtime)}


def agreed(sha: str, size: int = 3, mtime: int = OLD, gone: bool = False) -> dict:
    return {**DIRS_A, P: Agreed(False, sha, size, mtime, gone)}


CASES = [
    # (online, local, agreed, local content hash, expected action on P)
    ("new online", remote("a"), DIRS_L, DIRS_A, "", Do.DOWNLOAD),
    ("new locally", DIRS_R, local(), DIRS_A, "b", Do.UPLOAD),
    ("deleted online", DIRS_R, local(), agreed("a"), "a", Do.SUPP),
    ("deleted online, changed locally", DIRS_R, local(9, OLD + 5), agreed("a"), "c", Do.SUPP),
    ("deleted locally", remote("a"), DIRS_L, agreed("a"), "", Do.LOCAL_GONE),
    ("deleted locally, said once", remote("a"), DIRS_L, agreed("a", gone=True), "", None),
    ("deleted locally, changed online", remote("z"), DIRS_L, agreed("a", gone=True), "",
     Do.DOWNLOAD),
    ("changed online", remote("z"), local(), agreed("a"), "a", Do.DOWNLOAD),
    ("changed locally", remote("a"), local(9, OLD + 5), agreed("a"), "c", Do.UPLOAD),
    ("changed on both sides", remote("z"), local(9, OLD + 5), agreed("a"), "c", Do.CONFLICT),
    ("same change on both sides", remote("z"), local(9, OLD + 5), agreed("a"), "z", Do.ADOPT),
    ("touched, not changed", remote("a"), local(3, OLD + 5), agreed("a"), "a", Do.ADOPT),
    ("both, never agreed, same", remote("a"), local(), DIRS_A, "a", Do.ADOPT),
    ("both, never agreed, different", remote("a"), local(), DIRS_A, "b", Do.CONFLICT),
    ("nothing changed", remote("a"), local(), agreed("a"), "a", None),
    ("gone on both sides", DIRS_R, DIRS_L, agreed("a"), "", Do.FORGET),
]


@pytest.mark.parametrize(("online", "here", "before", "content", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(online, here, before, content, expected):
    actions = plan(online, here, before, hash_of=lambda path: content, now_ns=OLD * 10,
                   settle_ns=0)
    on_file = [a.do for a in actions if a.path == P]
    assert on_file == ([expected] if expected else [])


def test_a_file_still_being_written_waits():
    actions = plan(DIRS_R, local(mtime=OLD * 10 - 5), DIRS_A, hash_of=lambda p: "b",
                   now_ns=OLD * 10, settle_ns=2_000_000_000)
    assert [a.do for a in actions if a.path == P] == [Do.WAIT]


def test_a_standard_folder_out_of_reach_is_left_alone():
    """Standard folders cannot be deleted: missing online, it is a right withdrawn."""
    actions = plan({}, local(), agreed("a"), hash_of=lambda p: "a", now_ns=OLD * 10,
                   settle_ns=0)
    assert [(a.do, a.path) for a in actions] == [(Do.SKIP, "Client/Achats")]


def test_a_folder_deleted_online_is_renamed_once_as_a_whole():
    here = {**DIRS_L, "Client/Achats/Vieux": LocalFile(True, 0, 0),
            "Client/Achats/Vieux/a.pdf": LocalFile(False, 1, OLD)}
    before = {**DIRS_A, "Client/Achats/Vieux": Agreed(True, "", 0, 0),
              "Client/Achats/Vieux/a.pdf": Agreed(False, "x", 1, OLD)}
    actions = plan(DIRS_R, here, before, hash_of=lambda p: "x", now_ns=OLD * 10, settle_ns=0)
    assert [(a.do, a.path) for a in actions] == [(Do.SUPP, "Client/Achats/Vieux")]


def test_a_name_windows_cannot_hold_is_skipped_with_its_reason():
    online = {**DIRS_R, "Client/Achats/a:b.pdf": Remote(False, "a", 1, 0)}
    actions = plan(online, DIRS_L, DIRS_A, hash_of=lambda p: "", now_ns=OLD, settle_ns=0)
    assert [(a.do, a.path) for a in actions] == [(Do.SKIP, "Client/Achats/a:b.pdf")]
    assert "Windows" in actions[0].reason


def test_names_equal_but_for_case_online_keep_one_and_report_the_others():
    online = {**DIRS_R, "Client/Achats/Facture.pdf": Remote(False, "a", 1, 0),
              "Client/Achats/facture.pdf": Remote(False, "b", 1, 0),
              "Client/Achats/FACTURE.PDF": Remote(False, "c", 1, 0)}
    actions = plan(online, DIRS_L, DIRS_A, hash_of=lambda p: "", now_ns=OLD, settle_ns=0)
    assert sorted((a.do, a.path) for a in actions) == [
        (Do.DOWNLOAD, "Client/Achats/FACTURE.PDF"),  # the first in order, none held yet
        (Do.SKIP, "Client/Achats/Facture.pdf"), (Do.SKIP, "Client/Achats/facture.pdf")]
    assert all("« FACTURE.PDF »" in a.reason and "Windows" in a.reason
               for a in actions if a.do == Do.SKIP)
    # The one already held locally stays the one kept, whatever arrives after it.
    held = {**DIRS_L, "Client/Achats/facture.pdf": LocalFile(False, 1, OLD)}
    before = {**DIRS_A, "Client/Achats/facture.pdf": Agreed(False, "b", 1, OLD)}
    actions = plan(online, held, before, hash_of=lambda p: "b", now_ns=OLD * 10, settle_ns=0)
    assert sorted((a.do, a.path) for a in actions) == [
        (Do.SKIP, "Client/Achats/FACTURE.PDF"), (Do.SKIP, "Client/Achats/Facture.pdf")]


def test_names_of_renames_and_what_is_never_sent():
    assert supp_name("Facture.pdf", lambda n: False) == "supp_Facture.pdf"
    assert supp_name("Facture.pdf", lambda n: n == "supp_Facture.pdf") == \
        "supp_Facture (2).pdf"
    kept = conflict_name("Facture.pdf", datetime(2026, 1, 2, 10, 30), lambda n: False)
    assert kept == "Facture (conflit 2026-01-02 10h30).pdf"
    for name in ("supp_Facture.pdf", kept, "~$Facture.docx", "Thumbs.db", "._x"):
        assert is_ignored(name)
    assert not is_ignored("Facture.pdf")
