"""Course search on PostgreSQL: weighted full-text, trigram typo tolerance, filters, facets, sorting.

Everything goes through `CourseSearch.search`, so a dedicated search engine can replace the body
of that one method. The text match is `search_vector` (title A, summary and tags B, description C)
against the query as typed and as prefixes. When that finds nothing, typos are tolerated: each
query word that no visible title contains is replaced by the most similar title word by trigram
similarity (pg_trgm's measure and default threshold, computed here so that it works on any
PostgreSQL build, the embedded one included), and the search runs again; `corrected_query` says
so. RLS limits results to the tenant's courses and the shared catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import msgspec
from cachetools import TTLCache
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.schemas import SearchHit, SearchQuery, SearchResult, SpokenHit
from lms.media.queries import spoken_matches

_WORD = re.compile(r"[\w]+", re.UNICODE)
# Title words per tenant, per process: read again at most once a minute.
_title_words: TTLCache[UUID, frozenset[str]] = TTLCache(maxsize=10_000, ttl=60)
CORRECTION_THRESHOLD = 0.3  # pg_trgm's default `similarity_threshold`


def prefix_query(q: str) -> str | None:
    """'data priv' -> 'data:* & priv:*' (words only, so the tsquery syntax cannot be injected)."""
    words = _WORD.findall(q.lower())[:8]
    return " & ".join(f"{w}:*" for w in words) if words else None


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: lower case, two spaces before and one after."""
    padded = f"  {word.lower()} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    """pg_trgm's `similarity`: shared trigrams over all trigrams of both words."""
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / len(ta | tb) if ta or tb else 0.0


def one_edit_apart(a: str, b: str) -> bool:
    """Whether `b` is `a` with one letter added, dropped, changed, or two neighbours swapped: the
    typing slips ("saftey", "complaince") that trigrams of short words score too low."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def corrected(q: str, vocabulary: Iterable[str], threshold: float = CORRECTION_THRESHOLD) -> str | None:
    """`q` with each word the vocabulary lacks replaced by its most similar vocabulary word, or
    None when no word changed. A word of 4+ letters one slip away from a known word counts as
    similar whatever its trigram score (the closest such word by trigrams wins)."""
    known = set(vocabulary)
    words = _WORD.findall(q.lower())[:8]
    changed = False
    for n, word in enumerate(words):
        if word in known or len(word) < 3:
            continue
        slips = [c for c in known if len(word) >= 4 and one_edit_apart(word, c)] if known else []
        pool = slips or known
        best = max(pool, key=lambda candidate: (similarity(word, candidate), candidate), default=None)
        if best is not None and (slips or similarity(word, best) >= threshold):
            words[n], changed = best, True
    return " ".join(words) if changed else None


@dataclass
class _Filters:
    """The WHERE clause shared by the search and the title-word lookup."""

    where: list[str]
    params: dict[str, Any]


class CourseSearch:
    """Released courses visible to the current tenant, ranked and faceted."""

    def __init__(self, session: AsyncSession, tenant_id: UUID) -> None:
        """`session` is bound to `tenant_id` (RLS decides what is visible)."""
        self.session, self.tenant_id = session, tenant_id

    async def search(self, query: SearchQuery) -> SearchResult:
        """Full-text first; when that finds nothing, again with misspelt words corrected."""
        result = await self._run(query)
        if result.total or not (query.q and query.q.strip()):
            return result
        fixed = corrected(query.q, await self.title_words())
        if fixed is None:
            return result
        result = await self._run(msgspec.structs.replace(query, q=fixed))
        result.corrected_query = fixed
        return result

    async def title_words(self) -> frozenset[str]:
        """Distinct words (3+ letters) of the titles this tenant's learners can find."""
        words = _title_words.get(self.tenant_id)
        if words is None:
            rows = await self.session.execute(
                text(
                    f"""
                    select distinct w
                      from courses c, regexp_split_to_table(lower(c.title), '[^[:alnum:]]+') as w
                     where {" and ".join(self._filters(SearchQuery()).where)} and length(w) >= 3
                    """
                )
            )
            words = _title_words[self.tenant_id] = frozenset(str(w) for (w,) in rows)
        return words

    @staticmethod
    def _filters(query: SearchQuery) -> _Filters:
        where = [
            "c.status = 'published'",
            "(c.publish_at is null or c.publish_at <= now())",
            # Shared courses only when this tenant offers them (RLS scopes the offers to the tenant).
            "(c.tenant_id is not null or exists (select 1 from shared_course_offers o where o.course_id = c.id))",
        ]
        params: dict[str, Any] = {}
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
        return _Filters(where, params)

    async def _spoken(self, q: str) -> dict[UUID, SpokenHit]:
        """Course -> the lesson whose video says `q`, and when (from the videos' caption cues)."""
        matches = {m.asset_id: m for m in await spoken_matches(self.session, q)}
        if not matches:
            return {}
        rows = await self.session.execute(
            text(
                "select course_id, id, title, media_asset_id from lessons"
                " where media_asset_id = any(cast(:assets as uuid[])) order by course_id, position"
            ),
            {"assets": list(matches)},
        )
        found: dict[UUID, SpokenHit] = {}
        for course_id, lesson_id, title, asset_id in rows:
            match = matches[asset_id]
            best = found.get(course_id)
            if best is None or match.rank > best.rank:
                start = round(match.start_seconds, 3)
                found[course_id] = SpokenHit(lesson_id, title, asset_id, start, match.text, round(match.rank, 4))
        return found

    async def _run(self, query: SearchQuery) -> SearchResult:
        filters = self._filters(query)
        where = filters.where
        params: dict[str, Any] = {**filters.params, "limit": query.limit, "offset": query.offset}
        rank, text_query = "0::real", ""
        spoken: dict[UUID, SpokenHit] = {}
        if query.q and query.q.strip():
            params["q"] = query.q.strip()[:200]
            params["prefix"] = prefix_query(params["q"]) or ""
            # Courses with a video in which the phrase is said (its captions) match too.
            spoken = await self._spoken(params["q"])
            params["spoken"] = list(spoken)
            # The words as typed (English stems) or as prefixes, as one query: one match and one
            # rank per row.
            text_query = (
                ", (select case when :prefix = '' then websearch_to_tsquery('english', :q)"
                " else websearch_to_tsquery('english', :q) || to_tsquery('simple', :prefix) end as query) q"
            )
            where.append("(c.search_vector @@ q.query or c.id = any(cast(:spoken as uuid[])))")
            rank = (
                "ts_rank(c.search_vector, q.query) + case when c.id = any(cast(:spoken as uuid[])) then 0.05 else 0 end"
            )
        order = {
            "relevance": "score desc, enrollment_count desc, id",
            "popularity": "enrollment_count desc, score desc, id",
            "newest": "created_at desc, id",
        }[query.sort]
        # The page's rows come back in the same order (by the unrounded score).
        page_order = order.replace("score", "raw_score")
        # One statement, one pass over the matching rows (kept narrow): the facets and the total in
        # one grouping, then the full rows of the page alone.
        row = (
            await self.session.execute(
                text(
                    f"""
                    with matched as materialized (
                        select c.id, c.category, c.difficulty::text as difficulty, c.language,
                               case when c.price_cents > 0 then 'paid' else 'free' end as price,
                               c.enrollment_count, c.created_at, {rank} as score
                          from courses c{text_query}
                         where {" and ".join(where)}
                    ), page as (
                        select id, score as raw_score, enrollment_count, created_at
                          from matched order by {order} limit :limit offset :offset
                    )
                    select
                        (select coalesce(json_agg(p order by {page_order}), '[]') from (
                            select page.raw_score, c.id, c.title, c.slug, c.summary, c.category,
                                   c.difficulty::text as difficulty, c.language, c.tags, c.price_cents,
                                   c.tenant_id is null as shared, c.enrollment_count, c.created_at,
                                   case when c.cover_name is null then null
                                        else '/courses/' || c.id || '/cover/' || c.cover_name end as cover_url,
                                   round(page.raw_score::numeric, 4)::float as score
                              from page join courses c on c.id = page.id) p) as items,
                        (select coalesce(json_agg(f), '[]') from (
                            select grouping(category) as gc, grouping(difficulty) as gd, grouping(language) as gl,
                                   grouping(price) as gp, category, difficulty, language, price, count(*) as n
                              from matched
                             group by grouping sets ((), (category), (difficulty), (language), (price))) f)
                            as facets
                    """
                ),
                params,
            )
        ).one()
        items = msgspec.convert(row.items, list[SearchHit])
        for hit in items:
            hit.spoken = spoken.get(hit.id)
        total, facets = _facets(row.facets)
        return SearchResult(items=items, total=total, limit=query.limit, offset=query.offset, facets=facets)


def _facets(rows: list[dict[str, Any]]) -> tuple[int, dict[str, dict[str, int]]]:
    """The total, and counts per category, difficulty, language and price over the result set
    (no facets when nothing matched)."""
    facets: dict[str, dict[str, int]] = {"category": {}, "difficulty": {}, "language": {}, "price": {}}
    total = 0
    for r in rows:
        if r["gc"] == 0:
            facets["category"][r["category"] or "uncategorised"] = r["n"]
        elif r["gd"] == 0:
            facets["difficulty"][r["difficulty"]] = r["n"]
        elif r["gl"] == 0:
            facets["language"][r["language"]] = r["n"]
        elif r["gp"] == 0:
            facets["price"][r["price"]] = r["n"]
        else:
            total = r["n"]
    return total, (facets if total else {})
