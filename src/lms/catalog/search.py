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
        params: dict[str, Any] = {"limit": query.limit, "offset": query.offset}
        where = ["c.status = 'published'", "(c.publish_at is null or c.publish_at <= now())"]
        rank = "0::float"
        trigram = await trigram_available(self.session)
        if query.q and query.q.strip():
            params["q"] = query.q.strip()[:200]
            params["prefix"] = prefix_query(params["q"]) or ""
            matches = [
                "c.search_vector @@ websearch_to_tsquery('english', :q)",
                "(:prefix <> '' and c.search_vector @@ to_tsquery('simple', :prefix))",
            ]
            rank = (
                "ts_rank_cd(c.search_vector, websearch_to_tsquery('english', :q))"
                " + 0.5 * coalesce(ts_rank_cd(c.search_vector, to_tsquery('simple', nullif(:prefix, ''))), 0)"
            )
            if trigram:
                matches.append("lower(:q) <% lower(c.title)")
                rank += " + word_similarity(lower(:q), lower(c.title))"
            where.append("(" + " or ".join(matches) + ")")
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
            "relevance": "score desc, c.enrollment_count desc, c.id",
            "popularity": "c.enrollment_count desc, score desc, c.id",
            "newest": "c.created_at desc, c.id",
        }[query.sort]
        condition = " and ".join(where)
        rows = (
            await self.session.execute(
                text(
                    f"""
                    select c.id, c.title, c.slug, c.summary, c.category, c.difficulty::text as difficulty,
                           c.language, c.tags, c.price_cents, c.tenant_id is null as shared,
                           c.enrollment_count, {rank} as score, count(*) over () as total
                      from courses c
                     where {condition}
                     order by {order}
                     limit :limit offset :offset
                    """
                ),
                params,
            )
        ).all()
        total = rows[0].total if rows else await self._count(condition, params)
        return SearchResult(
            items=[
                SearchHit(
                    id=r.id,
                    title=r.title,
                    slug=r.slug,
                    summary=r.summary,
                    category=r.category,
                    difficulty=r.difficulty,
                    language=r.language,
                    tags=list(r.tags),
                    price_cents=r.price_cents,
                    shared=r.shared,
                    enrollment_count=r.enrollment_count,
                    score=round(float(r.score), 4),
                )
                for r in rows
            ],
            total=total,
            limit=query.limit,
            offset=query.offset,
            facets=await self._facets(condition, params) if total else {},
            typo_tolerance=trigram,
        )

    async def _count(self, condition: str, params: dict[str, Any]) -> int:
        found = await self.session.execute(text(f"select count(*) from courses c where {condition}"), params)
        return int(found.scalar_one())

    async def _facets(self, condition: str, params: dict[str, Any]) -> dict[str, dict[str, int]]:
        """Counts per category, difficulty, language and price over the current result set."""
        rows = await self.session.execute(
            text(
                f"""
                select c.category, c.difficulty::text as difficulty, c.language,
                       case when c.price_cents > 0 then 'paid' else 'free' end as price,
                       grouping(c.category) as g_category, grouping(c.difficulty) as g_difficulty,
                       grouping(c.language) as g_language,
                       count(*) as n
                  from courses c
                 where {condition}
                 group by grouping sets ((c.category), (c.difficulty), (c.language),
                                         (case when c.price_cents > 0 then 'paid' else 'free' end))
                """
            ),
            params,
        )
        facets: dict[str, dict[str, int]] = {"category": {}, "difficulty": {}, "language": {}, "price": {}}
        for r in rows:
            if r.g_category == 0:
                facets["category"][r.category or "uncategorised"] = r.n
            elif r.g_difficulty == 0:
                facets["difficulty"][r.difficulty] = r.n
            elif r.g_language == 0:
                facets["language"][r.language] = r.n
            else:
                facets["price"][r.price] = r.n
        return facets
