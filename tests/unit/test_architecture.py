"""The dependency direction of ../shared/DESIGN.md and ARCHITECTURE.md: nothing imports upward.

config <- acl <- davserver, invoicing_web, feeds (siblings: none imports another); only the
composition root, `liasse`, imports everything. The domain (`config`, `acl`) imports no web
or WebDAV framework, so that the CLI, the worker and tests use it without a request.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
OURS = {"config", "acl", "davserver", "invoicing_web", "feeds", "sync", "liasse"}
ALLOWED = {
    "config": {"config"},
    "acl": {"config", "acl"},
    "davserver": {"config", "acl", "davserver"},
    "invoicing_web": {"config", "acl", "invoicing_web"},
    "feeds": {"config", "acl", "feeds"},
    # The firm's sync tool is a client of the platform over HTTP(S): no server code.
    "sync": {"config", "sync"},
    "liasse": OURS,
}
FRAMEWORKS = {"flask", "werkzeug", "jinja2", "wsgidav", "cheroot"}
# The wings of the domain that have only one job each; an empty home must stay importable
# without a framework too (invoicing, messaging and calendar are filled by later issues).
WINGS = ("rights", "people", "documents", "events", "invoicing", "messaging", "calendar",
         "backup")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_upward_import(package):
    for path in _sources(package):
        upward = (_imports(path) & OURS) - ALLOWED[package]
        assert not upward, f"{path.relative_to(ROOT).as_posix()} imports {sorted(upward)}"


@pytest.mark.parametrize("package", ["config", "acl", "sync"])
def test_domain_is_framework_free(package):
    for path in _sources(package):
        frameworks = _imports(path) & FRAMEWORKS
        assert not frameworks, f"{path.relative_to(ROOT).as_posix()} imports {sorted(frameworks)}"


def test_every_wing_has_a_home():
    for wing in WINGS:
        init = ROOT / "acl" / wing / "__init__.py"
        assert init.exists(), f"acl/{wing}/ has no package"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), \
            f"acl/{wing}/__init__.py does not say what the wing holds"


def test_nothing_flat_left_in_acl():
    """acl/ holds its wings, plus what every wing shares: the database, the domain errors,
    the schema that gathers every wing's tables, lists written as files. A new module goes
    into the wing of its job."""
    flat = {p.name for p in (ROOT / "acl").glob("*.py")}
    assert flat <= {"__init__.py", "db.py", "errors.py", "schema.py", "tables.py"}, sorted(flat)
