"""The invoicing space of a company, by area: documents (lists, editor, issue, PDF, print,
sending), customers and articles, their import, expenses and received e-invoices, the
reports, the settings, the firm's access (consent) and its read-only view. Thin views over
`acl.invoicing`, where every rule is decided; one module each over the blueprint of `base`."""

from invoicing_web.invoicing import (
    catalog,
    consent,
    documents,
    expenses,
    reports,
    settings,
)
from invoicing_web.invoicing.base import bp

__all__ = ["bp", "catalog", "consent", "documents", "expenses", "reports", "settings"]
