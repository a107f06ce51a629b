"""Screenshots of the main pages, to look at: `python3 dev.py screenshots [OUT_DIR]`.

Starts `liasse demo` on a free port in a temporary data folder, signs in as the demo
accounts in headless Debian Chromium (Playwright, never a downloaded browser) and writes one
PNG per page, at desktop and phone widths, into OUT_DIR (default ./screenshots).
"""

from __future__ import annotations

import queue
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BAKERY = quote("Boulangerie Martin")
INVOICE = quote("Facture Moulin Giraud octobre.pdf")
PAGES = [  # (login, name, path)
    (None, "connexion", "/connexion"),
    ("expert", "tableau-de-bord-cabinet", "/tableau-de-bord"),
    ("expert", "documents", f"/documents/{BAKERY}/"),
    ("expert", "dossier-achats", f"/documents/{BAKERY}/Achats"),
    ("expert", "fiche-document", f"/documents/{BAKERY}/Achats/{INVOICE}"),
    ("expert", "monter-le-lecteur", "/monter-le-lecteur"),
    ("expert", "administration", "/administration"),
    ("expert", "entreprises", "/administration/entreprises"),
    ("expert", "utilisateurs", "/administration/utilisateurs"),
    ("expert", "journal", "/administration/journal"),
    ("martin", "habilitations", "/administration/habilitations"),
    ("martin", "tableau-de-bord-entreprise", "/tableau-de-bord"),
]


def start_demo(data: Path, password: str) -> tuple[subprocess.Popen, str]:
    liasse = Path(sys.executable).parent / "liasse"
    process = subprocess.Popen([str(liasse), "demo", "--data", str(data), "--port", "0",
                                "--password", password], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if "Application web" in line:
            return process, line.split(":", 1)[1].strip().rstrip("/")
    process.kill()
    raise SystemExit("liasse demo did not start")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory() as data:
        process, base = start_demo(Path(data) / "demo", password)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
                for width, suffix in ((1280, ""), (390, "-telephone")):
                    pages: dict[str | None, object] = {}
                    for login, name, path in PAGES:
                        if login not in pages:
                            context = browser.new_context(viewport={"width": width,
                                                                    "height": 900})
                            page = context.new_page()
                            if login:
                                page.goto(base + "/connexion")
                                page.get_by_label("Identifiant").fill(login)
                                page.get_by_label("Mot de passe").fill(password)
                                page.get_by_role("button", name="Se connecter").click()
                                page.wait_for_load_state()
                            pages[login] = page
                        page = pages[login]
                        response = page.goto(base + path)
                        status = response.status if response else 0
                        target = out / f"{name}{suffix}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(f"{status}  {target}")
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
