"""The README's HAProxy example is the configuration the multi-node tests run
(tests/support/nodes.py), with a production address and certificate in place of loopback."""

from __future__ import annotations

from pathlib import Path

from support.nodes import haproxy_config

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_shows_the_haproxy_configuration_the_tests_use():
    example = haproxy_config("*:443 ssl crt /etc/haproxy/certs/docs.cabinet.fr.pem",
                             [("node1", "10.0.0.11:8080"), ("node2", "10.0.0.12:8080")])
    assert f"```\n{example}```" in README.read_text(encoding="utf-8")
