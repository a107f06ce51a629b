"""The firm's export of a portfolio: the unpaid and VAT figures of every company of it that
consents, in one .xlsx (a summary sheet, then a sheet per company). A company that does not
consent is left out — its figures are never read — and named as such, so that the page and
the summary say who is missing and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from acl.errors import NotFound
from acl.invoicing import access, report_files, reports, vat_register
from acl.invoicing.report_files import Table
from acl.invoicing.reports import ReportFilters
from acl.people.models import Company, Portfolio
from acl.rights.models import Role
from acl.rights.policy import Principal


@dataclass
class Split:
    portfolio: Portfolio
    included: list[Company]
    left_out: list[Company]


def split(session: Session, principal: Principal, portfolio_id: int) -> Split:
    """The portfolio's companies the principal reads the invoicing of, and the others (404
    for a portfolio he is not a member of)."""
    portfolio = session.get(Portfolio, portfolio_id)
    if portfolio is None or (principal.role != Role.CORRESPONDANT
                             and portfolio.id not in principal.portfolio_ids):
        raise NotFound("Portefeuille introuvable.")
    companies = sorted(portfolio.companies, key=lambda c: c.name.casefold())
    included = [c for c in companies if access.may_read(principal, c)]
    return Split(portfolio, included,
                 [c for c in companies if c not in included])


def workbook(session: Session, principal: Principal, portfolio_id: int,
             filters: ReportFilters, today: date | None = None) -> tuple[bytes, Split]:
    parts = split(session, principal, portfolio_id)
    summary = Table("Synthèse", ["Entreprise", "SIREN", "Impayés", "Dont plus de 90 jours",
                                 "TVA collectée", "TVA déductible", "TVA nette due"], [])
    sheets = []
    for company in parts.included:
        unpaid = reports.unpaid(session, company, ReportFilters(), today)
        vat = vat_register.register(session, company, filters)
        summary.rows.append([company.name, company.siren, unpaid.total,
                             unpaid.buckets[reports.BUCKETS[-1]], vat.total.collected_vat,
                             vat.total.deductible_vat, vat.total.net_due])
        sheets.append((company.name, [
            Table(f"Registre de TVA ({vat.basis}), du {filters.start:%d/%m/%Y} au "
                  f"{filters.end:%d/%m/%Y}", [], []),
            *report_files.vat_tables(vat)[:2], *report_files.unpaid_tables(unpaid)]))
    for company in parts.left_out:
        summary.rows.append([company.name, company.siren,
                             "non incluse : l'entreprise n'a pas ouvert sa facturation au "
                             "cabinet", None, None, None, None])
    return report_files.to_xlsx([("Synthèse", [summary]), *sheets]), parts
