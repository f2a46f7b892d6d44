"""Search input becomes a safe prefix query: words only, whatever the user types."""

from __future__ import annotations

from lms.catalog.search import prefix_query


def test_words_become_anded_prefixes() -> None:
    assert prefix_query("Data Priv") == "data:* & priv:*"


def test_tsquery_syntax_is_dropped() -> None:
    assert prefix_query("a & (b | !c):*") == "a:* & b:* & c:*"
    assert prefix_query("'; drop table courses; --") == "drop:* & table:* & courses:*"


def test_nothing_searchable_gives_none() -> None:
    assert prefix_query("&&& !!") is None
