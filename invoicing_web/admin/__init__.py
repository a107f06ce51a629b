"""The administration pages, by area: one module each over the blueprint of `base`."""

from invoicing_web.admin import (
    audit,
    cabinet,
    companies,
    imports,
    locks,
    people,
    portfolios,
    rights,
    users,
)
from invoicing_web.admin.base import bp

__all__ = ["audit", "bp", "cabinet", "companies", "imports", "locks", "people", "portfolios",
           "rights", "users"]
