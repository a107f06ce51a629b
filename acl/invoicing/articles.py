"""A company's articles: what it sells, with its unit price and VAT rate, offered while a
line is typed. A line copies the article (a later change of price never alters a document);
an archived article is no longer offered."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from acl.db import folded
from acl.errors import InvalidInput, NameTaken, NotFound
from acl.invoicing import checks
from acl.invoicing.amounts import AmountError, format_rate, parse_decimal, parse_rate
from acl.invoicing.models import Article, Nature
from acl.invoicing.sheet import UNITS
from acl.people.models import Company
from config.names import fold

SUGGESTIONS = 10


@dataclass
class ArticleInput:
    """The article form, as typed."""

    reference: str = ""
    designation: str = ""
    unit: str = "unité"
    unit_price: str = "0"
    vat_rate: str = "20"
    vat_exemption: str = ""
    nature: str = Nature.SERVICE.value

    @classmethod
    def of(cls, article: Article) -> ArticleInput:
        return cls(article.reference, article.designation, article.unit,
                   f"{article.unit_price.normalize():f}".replace(".", ","),
                   format_rate(article.vat_rate), article.vat_exemption, article.nature)


def check_unit(unit: str, field: str = "unit") -> str:
    unit = (unit or "").strip()
    if unit not in UNITS:
        raise InvalidInput(f"Unité inconnue « {unit[:20]} » ({', '.join(UNITS)}).", field=field)
    return unit


def check_nature(nature: str, field: str = "nature") -> str:
    if nature not in {n.value for n in Nature}:
        raise InvalidInput("Nature : bien ou service.", field=field)
    return nature


def _values(data: ArticleInput) -> dict[str, object]:
    try:
        price = parse_decimal(data.unit_price, "Prix unitaire HT")
    except AmountError as exc:
        raise InvalidInput(str(exc), field="unit_price") from None
    try:
        rate, exemption = parse_rate(data.vat_rate, data.vat_exemption)
    except AmountError as exc:
        raise InvalidInput(str(exc), field="vat_rate") from None
    return {
        "reference": checks.text(data.reference, "reference", "Référence", limit=50,
                                 required=True),
        "designation": checks.text(data.designation, "designation", "Désignation", limit=500,
                                   required=True, multiline=True),
        "unit": check_unit(data.unit),
        "unit_price": price,
        "vat_rate": rate,
        "vat_exemption": exemption,
        "nature": check_nature(data.nature),
    }


def _require_unique(session: Session, company: Company, reference: str,
                    article_id: int | None = None) -> None:
    same = select(Article.id).where(Article.company_id == company.id,
                                    Article.reference == reference)
    if article_id is not None:
        same = same.where(Article.id != article_id)
    if session.scalar(same) is not None:
        raise NameTaken(f"La référence « {reference} » est déjà prise.", field="reference")


def create(session: Session, company: Company, data: ArticleInput) -> Article:
    values = _values(data)
    _require_unique(session, company, str(values["reference"]))
    article = Article(company_id=company.id, **values)
    session.add(article)
    session.flush()
    return article


def update(session: Session, company: Company, article: Article,
           data: ArticleInput) -> Article:
    values = _values(data)
    _require_unique(session, company, str(values["reference"]), article.id)
    for name, value in values.items():
        setattr(article, name, value)
    return article


def set_archived(article: Article, archived: bool) -> Article:
    article.archived = archived
    return article


def get(session: Session, company: Company, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None or article.company_id != company.id:
        raise NotFound("Article introuvable.")
    return article


def by_references(session: Session, company: Company, references: Iterable[str]
                  ) -> dict[str, Article]:
    """The active articles of these references, by reference (one query)."""
    wanted = sorted(set(references))
    if not wanted:
        return {}
    return {a.reference: a for a in session.scalars(select(Article).where(
        Article.company_id == company.id, Article.reference.in_(wanted),
        Article.archived.is_(False)))}


def ids_of(session: Session, company: Company, ids: Iterable[int]) -> set[int]:
    """Which of these ids are articles of the company (archived ones included)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set(session.scalars(select(Article.id).where(Article.company_id == company.id,
                                                        Article.id.in_(wanted))))


def listing(session: Session, company: Company, *, query: str = "",
            archived: bool = False) -> list[Article]:
    statement = select(Article).where(Article.company_id == company.id,
                                      Article.archived.is_(archived))
    if query.strip():
        statement = statement.where(_matches(query))
    return list(session.scalars(statement.order_by(Article.reference)))


def suggestions(session: Session, company: Company, query: str) -> list[Article]:
    """The active articles whose reference or designation holds what is being typed."""
    if not query.strip():
        return []
    return list(session.scalars(
        select(Article).where(Article.company_id == company.id, Article.archived.is_(False),
                              _matches(query))
        .order_by(Article.reference).limit(SUGGESTIONS)))


def _matches(query: str):
    text = fold(query.strip())
    return or_(folded(Article.reference).contains(text, autoescape=True),
               folded(Article.designation).contains(text, autoescape=True))
