"""The report of each run (seed 000: "un compte-rendu ... détaille, client par client, les
documents qui ont été traités et les éventuelles erreurs"), the monthly journal of downloads
("les noms des documents téléchargés et leurs emplacements sur la plateforme"), and the mail
of the report when the tool has SMTP settings. All in French: the firm reads them.

Files, under the report folder (default `<local>/.liasse-sync/`):
- `rapports/AAAA-MM-JJ_HHMMSS.txt`, and `dernier-rapport.txt` (a copy of the last one);
- `journal/AAAA-MM.txt`: one line per downloaded document, tab-separated: date and time,
  name, place on the platform, local path.
"""

from __future__ import annotations

import smtplib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from sync.settings import MailSettings

SECTIONS = (
    ("downloaded", "Téléchargés depuis la plateforme"),
    ("uploaded", "Envoyés sur la plateforme"),
    ("supp", "Supprimés en ligne : renommés « supp_ » localement (plus jamais recopiés)"),
    ("conflicts", "Conflits (modifiés des deux côtés) : les deux versions sont gardées"),
    ("local_gone", "Supprimés localement : PAS supprimés en ligne (la synchronisation ne "
                   "reporte que les suppressions faites sur la plateforme)"),
    ("waiting", "Reportés au prochain passage"),
    ("errors", "Erreurs"),
)


@dataclass
class CompanyReport:
    downloaded: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    supp: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    local_gone: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    started: datetime
    server: str = ""
    user: str = ""
    local: str = ""
    finished: datetime | None = None
    fatal: str = ""  # why the run stopped before its end
    braked: bool = False
    notes: list[str] = field(default_factory=list)
    companies: dict[str, CompanyReport] = field(
        default_factory=lambda: defaultdict(CompanyReport))
    journal: list[tuple[datetime, str, Path]] = field(default_factory=list)
    requests: int = 0

    def of(self, company: str) -> CompanyReport:
        return self.companies[company]

    @property
    def error_count(self) -> int:
        return sum(len(c.errors) for c in self.companies.values())

    @property
    def exit_code(self) -> int:
        """0 all done, 1 done with errors (or stopped by the brake), 2 could not run."""
        if self.fatal:
            return 2
        return 1 if self.error_count or self.braked else 0

    def render(self) -> str:
        end = self.finished or datetime.now().astimezone()
        lines = ["Compte-rendu de synchronisation Liasse",
                 f"Début : {self.started:%d/%m/%Y %H:%M:%S}   Fin : {end:%d/%m/%Y %H:%M:%S}",
                 f"Serveur : {self.server}   Compte : {self.user}",
                 f"Dossier local : {self.local}", ""]
        outcome = {0: "Résultat : terminé sans erreur.",
                   1: f"Résultat : terminé avec {self.error_count} erreur(s)"
                      + (" ; frein sur les suppressions en ligne." if self.braked else "."),
                   2: f"Résultat : la synchronisation n'a pas pu aller au bout : {self.fatal}"}
        lines.append(outcome[self.exit_code])
        lines.append(f"Requêtes au serveur : {self.requests}")
        lines += [f"Note : {n}" for n in self.notes]
        totals = {key: sum(len(getattr(c, key)) for c in self.companies.values())
                  for key, _ in SECTIONS}
        lines.append("Totaux : " + ", ".join(f"{n} {key_label(k)}" for k, n in totals.items()))
        for name in sorted(self.companies):
            company = self.companies[name]
            lines += ["", f"== {name} =="]
            lines += [f"  ! {n}" for n in company.notes]
            empty = True
            for key, title in SECTIONS:
                items = getattr(company, key)
                if items:
                    empty = False
                    lines.append(f"  {title} ({len(items)}) :")
                    lines += [f"    - {item}" for item in items]
            if empty and not company.notes:
                lines.append("  Rien à faire.")
        return "\n".join(lines) + "\n"

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rapports").mkdir(exist_ok=True)
        text = self.render()
        path = folder / "rapports" / f"{self.started:%Y-%m-%d_%H%M%S}.txt"
        path.write_text(text, encoding="utf-8")
        (folder / "dernier-rapport.txt").write_text(text, encoding="utf-8")
        return path


LABELS = {"downloaded": "téléchargé(s)", "uploaded": "envoyé(s)", "supp": "renommé(s) supp_",
          "conflicts": "conflit(s)", "local_gone": "supprimé(s) localement",
          "waiting": "reporté(s)", "errors": "erreur(s)"}


def key_label(key: str) -> str:
    return LABELS[key]


JOURNAL_HEADER = "date\theure\tdocument\templacement sur la plateforme\tchemin local\n"


def append_journal(folder: Path, when: datetime, platform_path: str, local: Path) -> None:
    """One line in the month's journal, written as soon as the document is in place."""
    journal = folder / "journal"
    journal.mkdir(parents=True, exist_ok=True)
    path = journal / f"{when:%Y-%m}.txt"
    new = not path.exists()
    with path.open("a", encoding="utf-8") as out:
        if new:
            out.write(JOURNAL_HEADER)
        name = platform_path.rsplit("/", 1)[-1]
        out.write(f"{when:%d/%m/%Y}\t{when:%H:%M:%S}\t{name}\t{platform_path}\t{local}\n")


def mail_report(settings: MailSettings, report: Report) -> str | None:
    """Send the report; the reason it could not be sent, or None."""
    message = EmailMessage()
    status = {0: "terminée", 1: "terminée avec erreurs", 2: "échouée"}[report.exit_code]
    message["Subject"] = f"Synchronisation Liasse {status} ({report.started:%d/%m/%Y %H:%M})"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message.set_content(report.render())
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=30) as smtp:
            if settings.starttls:
                smtp.starttls()
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return f"compte-rendu non envoyé par courrier : {exc}"
    return None
