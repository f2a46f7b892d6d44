"""Search input becomes a safe prefix query, and misspelt words are corrected by trigram similarity."""

from __future__ import annotations

from lms.catalog.services.search import corrected, one_edit_apart, prefix_query, similarity, trigrams


def test_words_become_anded_prefixes() -> None:
    assert prefix_query("Data Priv") == "data:* & priv:*"


def test_tsquery_syntax_is_dropped() -> None:
    assert prefix_query("a & (b | !c):*") == "a:* & b:* & c:*"
    assert prefix_query("'; drop table courses; --") == "drop:* & table:* & courses:*"


def test_nothing_searchable_gives_none() -> None:
    assert prefix_query("&&& !!") is None


def test_trigrams_are_padded_like_pg_trgm() -> None:
    assert trigrams("Cat") == {"  c", " ca", "cat", "at "}


def test_similarity_matches_pg_trgm() -> None:
    # SELECT similarity('negotiaton', 'negotiation') = 0.64285713 in PostgreSQL
    assert round(similarity("negotiaton", "negotiation"), 4) == 0.6429
    assert similarity("word", "word") == 1.0
    assert similarity("abc", "xyz") == 0.0


def test_only_unknown_words_are_replaced_and_only_by_close_ones() -> None:
    vocabulary = ["negotiation", "skills", "data", "privacy"]
    assert corrected("Negotiaton skills", vocabulary) == "negotiation skills"
    assert corrected("negotiation skills", vocabulary) is None  # nothing to correct
    assert corrected("quantum", vocabulary) is None  # nothing close enough
    assert corrected("negotiaton", []) is None


def test_one_slip_of_the_keyboard_is_corrected_even_where_trigrams_score_low() -> None:
    vocabulary = ["workplace", "safety", "basics", "compliance", "cat"]
    assert similarity("saftey", "safety") < 0.3  # a swap in a short word shares few trigrams
    assert corrected("workplace saftey", vocabulary) == "workplace safety"
    assert corrected("complaince", vocabulary) == "compliance"  # swapped neighbours
    assert corrected("safty", vocabulary) == "safety"  # a letter dropped
    assert corrected("safetty", vocabulary) == "safety"  # a letter doubled
    assert corrected("sefety", vocabulary) == "safety"  # a letter changed
    assert corrected("cta", vocabulary) is None  # three letters: too short to guess
    assert corrected("sfaety basics", ["basics"]) is None  # nothing known within one slip or by trigrams
    assert one_edit_apart("abcd", "abdc")
    assert not one_edit_apart("abcd", "badc")
    assert not one_edit_apart("abcd", "abcd")
