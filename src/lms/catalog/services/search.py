"""Course search on PostgreSQL: weighted full-text, trigram typo tolerance, filters, facets, sorting.

Everything goes through `CourseSearch.search`, so a dedicated search engine can replace the body
of that one method. The text match is `search_vector` (title A, summary and tags B, description C)
against the query as typed and as prefixes. When that finds nothing, typos are tolerated: each
query word that no visible title contains is replaced by the most similar title word by trigram
similarity (pg_trgm's measure and default threshold, computed here so that it works on any
PostgreSQL build, the embedded one included), and the search runs again; `corrected_query` says
so. RLS limits results to the tenant's courses and the shared catalogue.

A search is one statement on the read path (lms.db.reads), compiled once per combination of filters, text and
sort order: the page's rows and the facets with the total, whatever the page (one past the end included).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

import msgspec
from cachetools import TTLCache
from sqlalchemy import text

from lms.catalog.schemas import PriceFilter, SearchHit, SearchQuery, SearchResult, SortOrder, SpokenHit
from lms.db.reads import ReadQuery, ReadSource, fetch_all, fetch_one
from lms.media.queries import spoken_cues_sql

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


# Released courses: published, their release time (if any) passed, and shared ones only when this tenant offers
# them (RLS scopes the offers to the tenant).
_RELEASED = (
    "c.status = 'published'",
    "(c.publish_at is null or c.publish_at <= now())",
    "(c.tenant_id is not null or exists (select 1 from shared_course_offers o where o.course_id = c.id))",
)

# The ranking of the matched rows, and the same ranking of the page's rows (by the unrounded score).
_ORDER: dict[str, tuple[str, str]] = {
    "relevance": ("score desc, enrollment_count desc, id", "page.raw_score desc, page.enrollment_count desc, page.id"),
    "popularity": ("enrollment_count desc, score desc, id", "page.enrollment_count desc, page.raw_score desc, page.id"),
    "newest": ("created_at desc, id", "page.created_at desc, page.id"),
}


class _Variant(NamedTuple):
    """What decides the statement's text (the values travel as parameters)."""

    text: bool
    category: bool
    difficulty: bool
    language: bool
    instructor: bool
    price: PriceFilter | None
    sort: SortOrder


def _variant(query: SearchQuery) -> _Variant:
    has_text = bool(query.q and query.q.strip())
    filters = (bool(query.category), bool(query.difficulty), bool(query.language), bool(query.instructor_id))
    return _Variant(has_text, *filters, query.price, query.sort)


def _values(query: SearchQuery) -> dict[str, Any]:
    values: dict[str, Any] = {
        "category": query.category,
        "difficulty": query.difficulty.value if query.difficulty else None,
        "language": query.language,
        "instructor": query.instructor_id,
        "limit": query.limit,
        "offset": query.offset,
    }
    if query.q and query.q.strip():
        values["q"] = query.q.strip()[:200]
        values["prefix"] = prefix_query(values["q"]) or ""
    return values


def _where(variant: _Variant) -> list[str]:
    where = list(_RELEASED)
    if variant.category:
        where.append("c.category = :category")
    if variant.difficulty:
        where.append("c.difficulty = cast(:difficulty as course_difficulty)")
    if variant.language:
        where.append("c.language = :language")
    if variant.instructor:
        where.append("c.instructor_ids @> array[cast(:instructor as uuid)]")
    if variant.price == "free":
        where.append("c.price_cents = 0")
    elif variant.price == "paid":
        where.append("c.price_cents > 0")
    return where


@functools.cache
def _search_query(variant: _Variant) -> ReadQuery:
    """One row: the page's hits (records in SearchHit's field order, then, when the search has words, the
    course's lessons whose video says them) and the facet rows (their grand total is the total)."""
    where = _where(variant)
    spoken, sources, rank, spoken_fields, spoken_join = "", "courses c", "0::real", "", ""
    if variant.text:
        # Courses with a video in which the phrase is said (its captions) match too: per course, the lessons
        # showing such a video, in the course's order (`_spoken_hit` picks one).
        spoken = f"""
            spoken_cues as ({spoken_cues_sql()}),
            spoken as (
                select l.course_id,
                       array_agg((l.id, l.title, l.media_asset_id, s.start_seconds, s.text, s.rank)
                                 order by l.position) as lessons
                  from lessons l join spoken_cues s on s.asset_id = l.media_asset_id
                 group by l.course_id
            ),"""
        # The words as typed (English stems) or as prefixes, as one query: one match and one rank per row.
        sources = (
            "courses c cross join (select case when :prefix = '' then websearch_to_tsquery('english', :q)"
            " else websearch_to_tsquery('english', :q) || to_tsquery('simple', :prefix) end as query) q"
            " left join spoken s on s.course_id = c.id"
        )
        where.append("(c.search_vector @@ q.query or s.course_id is not null)")
        rank = "ts_rank(c.search_vector, q.query) + case when s.course_id is not null then 0.05 else 0 end"
        spoken_fields = ", s.lessons"
        spoken_join = " left join spoken s on s.course_id = page.id"
    order, page_order = _ORDER[variant.sort]
    # One pass over the matching rows (kept narrow): the facets and the total in one grouping, then the full
    # rows of the page alone.
    return ReadQuery(
        text(
            f"""
            with {spoken}
            matched as materialized (
                select c.id, c.category, c.difficulty::text as difficulty, c.language,
                       case when c.price_cents > 0 then 'paid' else 'free' end as price,
                       c.enrollment_count, c.created_at, {rank} as score
                  from {sources}
                 where {" and ".join(where)}
            ), page as (
                select id, score as raw_score, enrollment_count, created_at
                  from matched order by {order} limit :limit offset :offset
            )
            select
                (select array_agg((
                        c.id, c.title, c.slug, c.summary, c.category, c.difficulty::text, c.language, c.tags::text[],
                        c.price_cents, c.tenant_id is null, c.enrollment_count,
                        round(page.raw_score::numeric, 4)::float,
                        case when c.cover_name is null then null
                             else '/courses/' || c.id || '/cover/' || c.cover_name end{spoken_fields}
                    ) order by {page_order})
                   from page join courses c on c.id = page.id{spoken_join}) as items,
                (select array_agg((gc, gd, gl, gp, category, difficulty, language, price, n)) from (
                    select grouping(category) as gc, grouping(difficulty) as gd, grouping(language) as gl,
                           grouping(price) as gp, category, difficulty, language, price, count(*) as n
                      from matched
                     group by grouping sets ((), (category), (difficulty), (language), (price))) f) as facets
            """
        )
    )


@functools.cache
def _title_words_query() -> ReadQuery:
    return ReadQuery(
        text(
            f"""
            select distinct w
              from courses c, regexp_split_to_table(lower(c.title), '[^[:alnum:]]+') as w
             where {" and ".join(_RELEASED)} and length(w) >= 3
            """
        )
    )


class CourseSearch:
    """Released courses visible to the current tenant, ranked and faceted."""

    def __init__(self, reads: ReadSource, tenant_id: UUID) -> None:
        """`reads`: a session bound to `tenant_id`, or sessionless `TenantReads` of it (RLS decides what is
        visible)."""
        self.reads, self.tenant_id = reads, tenant_id

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
            rows = await fetch_all(self.reads, _title_words_query())
            words = _title_words[self.tenant_id] = frozenset(str(w) for (w,) in rows)
        return words

    async def _run(self, query: SearchQuery) -> SearchResult:
        variant = _variant(query)
        row = await fetch_one(self.reads, _search_query(variant), _values(query))
        assert row is not None  # aggregates answer one row
        items = [_hit(fields) for fields in row[0] or ()] if variant.text else [SearchHit(*f) for f in row[0] or ()]
        total, facets = _facets(row[1] or ())
        return SearchResult(items=items, total=total, limit=query.limit, offset=query.offset, facets=facets)


def _hit(fields: Sequence[Any]) -> SearchHit:
    """A hit of a search with words: SearchHit's fields, then the course's lessons whose video says them."""
    hit = SearchHit(*fields[:13])
    hit.spoken = _spoken_hit(fields[13])
    return hit


def _spoken_hit(lessons: Sequence[Sequence[Any]] | None) -> SpokenHit | None:
    """Of the lessons (in the course's order) showing a video that says the words, the one saying them best."""
    best: SpokenHit | None = None
    for lesson_id, title, asset_id, start_seconds, said, rank in lessons or ():
        if best is None or rank > best.rank:
            best = SpokenHit(lesson_id, title, asset_id, round(start_seconds, 3), said, round(rank, 4))
    return best


def _facets(rows: Iterable[Sequence[Any]]) -> tuple[int, dict[str, dict[str, int]]]:
    """The total, and counts per category, difficulty, language and price over the result set
    (no facets when nothing matched)."""
    facets: dict[str, dict[str, int]] = {"category": {}, "difficulty": {}, "language": {}, "price": {}}
    total = 0
    for gc, gd, gl, gp, category, difficulty, language, price, n in rows:
        if gc == 0:
            facets["category"][category or "uncategorised"] = n
        elif gd == 0:
            facets["difficulty"][difficulty] = n
        elif gl == 0:
            facets["language"][language] = n
        elif gp == 0:
            facets["price"][price] = n
        else:
            total = n
    return total, (facets if total else {})
