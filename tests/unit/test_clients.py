"""The download history names the software as a person would, from its User-Agent."""

from __future__ import annotations

import pytest

from config.clients import describe


@pytest.mark.parametrize("agent, name", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
     "Firefox sur Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", "Safari sur macOS"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36", "Chrome sur Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge sur Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari sur iOS"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome sur Android"),
    ("Microsoft-WebDAV-MiniRedir/10.0.19045", "Explorateur Windows (lecteur réseau)"),
    ("WebDAVFS/3.0.0 (03008000) Darwin/23.5.0 (x86_64)", "Finder (macOS)"),
    ("rclone/v1.60.1-DEV", "rclone"),
    ("davfs2/1.7.0 neon/0.32.5", "davfs2 (Linux)"),
    ("cadaver/0.24 neon/0.32.5", "cadaver"),
    ("Cyberduck/8.9.0.41421 (Mac OS X/14.5) (x86_64)", "Cyberduck"),
    ("liasse-sync/1.0", "Synchronisation Liasse"),
    ("MonOutil/2.1 (interne)", "MonOutil"),
    ("", "inconnu"),
    (None, "inconnu"),
])
def test_each_client_has_a_name(agent, name):
    assert describe(agent) == name
