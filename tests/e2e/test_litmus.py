"""litmus (the WebDAV conformance suite) against a real server, as a restricted user."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

SUITES = ["basic", "copymove", "props", "locks", "http"]


@pytest.mark.e2e
@pytest.mark.parametrize("suite", SUITES)
def test_litmus_suite_passes_for_a_user_with_write_on_one_folder(world, suite, tmp_path,
                                                                 require_binary):
    litmus = require_binary("litmus", "litmus")
    live_server = world.server  # each suite makes its collection and removes it at the end
    # secretaire: write on Achats, Ventes, Banque, Autres of Boulangerie Martin only
    url = live_server.dav("Boulangerie Martin", "Achats") + "/"
    result = subprocess.run(
        [litmus, url, "secretaire", live_server.password], cwd=tmp_path,
        env={**os.environ, "TESTS": suite}, capture_output=True, text=True, timeout=600)
    summary = re.search(r"summary for `\w+': of (\d+) tests run: (\d+) passed", result.stdout)
    assert summary, result.stdout + result.stderr
    run, passed = map(int, summary.groups())
    assert passed == run, result.stdout
