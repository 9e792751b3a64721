"""The knowledge base (客服手册): each merchant's answers to product questions and its policies,
written by supervisors and found by agents from the reply box by any words of the title or the
body."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.pagination import paginate
from daiyun.platform.customer_service import repository, service
from daiyun.platform.customer_service.models import Article
from daiyun.platform.customer_service.schemas import ArticleIn


def find(
    session: Session, text: str | None, cursor: str | None, limit: int
) -> tuple[list[Article], str | None]:
    return paginate(session, repository.articles(text), Article.id, cursor, limit)


def get(session: Session, article_id: uuid.UUID) -> Article:
    found = repository.article(session, article_id)
    if found is None:
        raise Problem(404, "not-found", "No such article")
    return found


def create(session: Session, body: ArticleIn) -> Article:
    article = Article(**body.model_dump())
    session.add(article)
    service.unique(session, f"The title {body.title}")
    audit.record(session, "cs.article_created", f"article:{article.id}")
    return article


def update(session: Session, article_id: uuid.UUID, body: ArticleIn) -> Article:
    article = get(session, article_id)
    article.title, article.body, article.tags = body.title, body.body, body.tags
    service.unique(session, f"The title {body.title}")
    audit.record(session, "cs.article_updated", f"article:{article.id}")
    return article


def delete(session: Session, article_id: uuid.UUID) -> None:
    session.delete(get(session, article_id))
    session.flush()
    audit.record(session, "cs.article_deleted", f"article:{article_id}")
