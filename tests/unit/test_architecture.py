"""The dependency direction of ../shared/DESIGN.md: nothing imports upward.

config <- acl <- davserver, invoicing_web <- feeds; only the composition root
(`davserver.server`, `davserver.cli`) imports everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
ALLOWED = {
    "config": {"config"},
    "acl": {"config", "acl"},
    "invoicing_web": {"config", "acl", "invoicing_web"},
    "davserver": {"config", "acl", "davserver"},
    "feeds": {"config", "acl", "invoicing_web", "feeds"},
}
COMPOSITION_ROOT = ("davserver/server.py", "davserver/cli/")
PACKAGES = set(ALLOWED)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PACKAGES


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_upward_import(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(COMPOSITION_ROOT):
            continue
        upward = _imports(path) - ALLOWED[package]
        assert not upward, f"{relative} imports {sorted(upward)}"
