"""The edge's byte scans agree with a real JSON parser on every value hypothesis can think of."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from lms.lib.edge import MAX_JSON_DEPTH, json_depth_exceeds, json_string_problem, string_problem

# Strings full of the characters that could fool a byte scan: brackets, quotes, backslashes.
tricky_text = st.text(alphabet=st.sampled_from([*'[]{}"\\u0a ', "\x00", "\ud800", "é", "\U0001f600"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | tricky_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(tricky_text, children, max_size=3),
    max_leaves=60,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


def nest(value: Any, levels: int) -> Any:
    for i in range(levels):
        value = [value] if i % 2 else {"k[{": value}
    return value


@given(json_values, st.integers(min_value=0, max_value=2 * MAX_JSON_DEPTH))
def test_depth_scan_matches_the_parsed_depth(value: Any, extra: int) -> None:
    nested = nest(value, extra)
    body = json.dumps(nested, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert json_depth_exceeds(body) == (depth(nested) > MAX_JSON_DEPTH)


@given(json_values)
def test_string_scan_finds_exactly_the_unstorable_strings(value: Any) -> None:
    def bad(item: Any) -> bool:
        if isinstance(item, str):
            return string_problem(item) is not None
        if isinstance(item, list):
            return any(bad(v) for v in item)
        if isinstance(item, dict):
            return any(bad(k) or bad(v) for k, v in item.items())
        return False

    for body in (json.dumps(value).encode(), json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")):
        assert (json_string_problem(body) is not None) == bad(value)


def test_the_field_path_is_named() -> None:
    body = b'{"items": [{"title": "ok"}, {"title": "a\\u0000b"}]}'
    assert json_string_problem(body) == ("items[1].title", "must not contain NUL characters")
    assert json_string_problem(b'{"name": "caf\xe9"}') == ("name", "must be valid UTF-8")
    assert json_string_problem(b'{"path": "C:\\\\u0000"}') is None  # an escaped backslash, then text


def test_unclosed_nesting_counts_as_deep() -> None:
    assert json_depth_exceeds(b"[" * 10_000)
    assert not json_depth_exceeds(b"[" * MAX_JSON_DEPTH)
