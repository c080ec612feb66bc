"""The JSON splitter gives what json.loads gives, plus each item's exact source text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.jsonparts import json_array_items

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(
    items=st.lists(values, max_size=6),
    before=st.dictionaries(st.text(), values, max_size=3),
    after=st.dictionaries(st.text(), values, max_size=3),
    indent=st.sampled_from([None, 0, 2]),
    ascii_only=st.booleans(),
)
def test_items_and_sources_match_json_loads(
    items: list[Any], before: dict[str, Any], after: dict[str, Any], indent: int | None,
    ascii_only: bool,
) -> None:  # fmt: skip
    document = {**before, "results": items, **after}
    if "results" in after:
        return  # a later key of that name replaces the array; covered below
    text = json.dumps(document, indent=indent, ensure_ascii=ascii_only)

    split = json_array_items(text, "results")

    assert split is not None
    assert [value for value, _ in split] == json.loads(text)["results"]
    assert [json.loads(source) for _, source in split] == [value for value, _ in split]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "not json",
        '{"results": [1, 2]',  # cut short
        '{"results": [1, 2]} trailing',
        '{"results": [1 2]}',
        '{"results": {"a": 1}}',  # not an array
        '{"other": [1]}',
        '{"results": [1], "results": "replaced"}',  # json.loads keeps the last
        "{}",
    ],
)
def test_anything_but_a_plain_array_under_the_key_is_left_to_the_parser(text: str) -> None:
    assert json_array_items(text, "results") is None


def test_a_repeated_key_keeps_the_last_array_as_json_loads_does() -> None:
    text = '{"results": [1], "n": 2, "results": [{"b": [3]}, "x"]}'
    assert json_array_items(text, "results") == [({"b": [3]}, '{"b": [3]}'), ("x", '"x"')]
    assert json.loads(text)["results"] == [{"b": [3]}, "x"]


def test_sources_are_the_exact_text_with_its_spacing() -> None:
    text = '{ "results" : [ {"a":1,  "b" : [2]} ,\n"c" ] }\n'
    assert json_array_items(text, "results") == [
        ({"a": 1, "b": [2]}, '{"a":1,  "b" : [2]}'),
        ("c", '"c"'),
    ]
