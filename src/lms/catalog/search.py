"""Course search on PostgreSQL: weighted full-text, trigram typo tolerance, filters, facets, sorting.

Everything goes through `CourseSearch.search`, so a dedicated search engine can replace the body
of that one method. The text match is `search_vector` (title A, summary and tags B, description C)
against the query as typed and as prefixes; with pg_trgm installed, a title whose words are
similar to the query also matches (typos). Without pg_trgm (some embedded builds) prefix matching
is the fallback. RLS limits results to the tenant's courses and the shared catalogue.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.models import Difficulty
from lms.catalog.schemas import PriceFilter, SortOrder

_WORD = re.compile(r"[\w]+", re.UNICODE)
_trigram_available: bool | None = None


class SearchQuery(msgspec.Struct, frozen=True):
    q: str | None = None
    category: str | None = None
    difficulty: Difficulty | None = None
    language: str | None = None
    instructor_id: UUID | None = None
    price: PriceFilter | None = None
    sort: SortOrder = "relevance"
    limit: int = 20
    offset: int = 0


class SearchHit(msgspec.Struct):
    id: UUID
    title: str
    slug: str
    summary: str
    category: str | None
    difficulty: str
    language: str
    tags: list[str]
    price_cents: int
    shared: bool
    enrollment_count: int
    score: float


class SearchResult(msgspec.Struct):
    """`typo_tolerance`: whether pg_trgm is available (title similarity is tried when nothing matches)."""

    items: list[SearchHit]
    total: int
    limit: int
    offset: int
    facets: dict[str, dict[str, int]]
    typo_tolerance: bool


async def trigram_available(session: AsyncSession) -> bool:
    global _trigram_available
    if _trigram_available is None:
        found = await session.execute(text("select exists (select 1 from pg_extension where extname = 'pg_trgm')"))
        _trigram_available = bool(found.scalar())
    return _trigram_available


def prefix_query(q: str) -> str | None:
    """'data priv' -> 'data:* & priv:*' (words only, so the tsquery syntax cannot be injected)."""
    words = _WORD.findall(q.lower())[:8]
    return " & ".join(f"{w}:*" for w in words) if words else None


class CourseSearch:
    """Released courses visible to the current tenant, ranked and faceted."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def search(self, query: SearchQuery) -> SearchResult:
        """Full-text first; when that finds nothing and pg_trgm is there, again with title similarity."""
        trigram = await trigram_available(self.session)
        result = await self._run(query, typo_tolerant=False)
        if result.total == 0 and trigram and query.q and query.q.strip():
            result = await self._run(query, typo_tolerant=True)
        result.typo_tolerance = trigram
        return result

    async def _run(self, query: SearchQuery, typo_tolerant: bool) -> SearchResult:
        params: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
        where = [
            "c.status = 'published'",
            "(c.publish_at is null or c.publish_at <= now())",
            # Shared courses only when this tenant offers them (RLS scopes the offers to the tenant).
            "(c.tenant_id is not null or exists (select 1 from shared_course_offers o where o.course_id = c.id))",
        ]
        rank = "0::float"
        if query.q and query.q.strip():
            params["q"] = query.q.strip()[:200]
            params["prefix"] = prefix_query(params["q"]) or ""
            if typo_tolerant:
                where.append("lower(:q) <% lower(c.title)")
                rank = "word_similarity(lower(:q), lower(c.title))"
            else:
                where.append(
                    "(c.search_vector @@ websearch_to_tsquery('english', :q)"
                    " or (:prefix <> '' and c.search_vector @@ to_tsquery('simple', :prefix)))"
                )
                rank = (
                    "ts_rank_cd(c.search_vector, websearch_to_tsquery('english', :q))"
                    " + 0.5 * coalesce(ts_rank_cd(c.search_vector, to_tsquery('simple', nullif(:prefix, ''))), 0)"
                )
        if query.category:
            where.append("c.category = :category")
            params["category"] = query.category
        if query.difficulty:
            where.append("c.difficulty = cast(:difficulty as course_difficulty)")
            params["difficulty"] = query.difficulty.value
        if query.language:
            where.append("c.language = :language")
            params["language"] = query.language
        if query.instructor_id:
            where.append("c.instructor_ids @> array[cast(:instructor as uuid)]")
            params["instructor"] = str(query.instructor_id)
        if query.price == "free":
            where.append("c.price_cents = 0")
        elif query.price == "paid":
            where.append("c.price_cents > 0")
        order = {
            "relevance": "score desc, enrollment_count desc, id",
            "popularity": "enrollment_count desc, score desc, id",
            "newest": "created_at desc, id",
        }[query.sort]
        # One statement, one pass over the matching rows: the page, the total and the facets.
        row = (
            await self.session.execute(
                text(
                    f"""
                    with matched as materialized (
                        select c.id, c.title, c.slug, c.summary, c.category, c.difficulty::text as difficulty,
                               c.language, c.tags, c.price_cents, c.tenant_id is null as shared,
                               c.enrollment_count, c.created_at, {rank} as score
                          from courses c
                         where {" and ".join(where)}
                    )
                    select
                        (select count(*) from matched) as total,
                        (select coalesce(json_agg(p), '[]') from (
                            select id, title, slug, summary, category, difficulty, language, tags, price_cents,
                                   shared, enrollment_count, round(score::numeric, 4)::float as score
                              from matched order by {order} limit :limit offset :offset) p) as items,
                        (select coalesce(json_agg(f), '[]') from (
                            select grouping(category) as gc, grouping(difficulty) as gd, grouping(language) as gl,
                                   category, difficulty, language,
                                   case when price_cents > 0 then 'paid' else 'free' end as price, count(*) as n
                              from matched
                             group by grouping sets ((category), (difficulty), (language),
                                                     (case when price_cents > 0 then 'paid' else 'free' end))) f)
                            as facets
                    """
                ),
                params,
            )
        ).one()
        return SearchResult(
            items=msgspec.convert(row.items, list[SearchHit]),
            total=int(row.total),
            limit=query.limit,
            offset=query.offset,
            facets=_facets(row.facets) if row.total else {},
            typo_tolerance=False,
        )


def _facets(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts per category, difficulty, language and price over the current result set."""
    facets: dict[str, dict[str, int]] = {"category": {}, "difficulty": {}, "language": {}, "price": {}}
    for r in rows:
        if r["gc"] == 0:
            facets["category"][r["category"] or "uncategorised"] = r["n"]
        elif r["gd"] == 0:
            facets["difficulty"][r["difficulty"]] = r["n"]
        elif r["gl"] == 0:
            facets["language"][r["language"]] = r["n"]
        else:
            facets["price"][r["price"]] = r["n"]
    return facets
