"""Split a JSON reply's array of per-number results into values *and their source text*.

A carrier that answers many numbers in one JSON reply (``{"results": [{...}, {...}]}``) repeats
most parts unchanged from one poll to the next. Keeping each part's exact text lets the poll job
recognise an unchanged part by its digest without building its events (tracker.jobs.unchanged).
The values are decoded by the same scanner ``json.loads`` uses, so they are the same values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
#: the decoder's own scanner (what ``raw_decode`` calls), without the method around it
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]


class _Unsplittable(Exception):
    """The text is not an object holding the array plainly; the caller parses it whole."""


def json_array_items(text: str, key: str) -> list[tuple[Any, str]] | None:
    """``[(value, source text)]`` of the array under the top-level ``key`` of the JSON object
    ``text``; None when ``text`` is not such an object (not JSON, no such array, trailing
    text...), so the caller's ordinary parser can judge it and name the problem. A repeated key
    counts as ``json.loads`` counts it: the last one wins."""
    try:
        return _split(text, key)
    except (_Unsplittable, json.JSONDecodeError):
        return None


def _skip(text: str, index: int) -> int:
    match = _SPACE.match(text, index)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _expect(text: str, index: int, chars: str) -> str:
    found = text[index : index + 1]
    if not found or found not in chars:
        raise _Unsplittable
    return found


def _split(text: str, key: str) -> list[tuple[Any, str]] | None:
    index = _skip(text, 0)
    _expect(text, index, "{")
    index = _skip(text, index + 1)
    found: list[tuple[Any, str]] | None = None
    while True:
        _expect(text, index, '"')
        name, index = _DECODER.raw_decode(text, index)  # a JSON string: the key
        index = _skip(text, index)
        _expect(text, index, ":")
        index = _skip(text, index + 1)
        if name == key and text[index : index + 1] == "[":
            found, index = _items(text, index)
        else:
            if name == key:
                found = None  # a later plain value under the key replaces an earlier array
            _, index = _DECODER.raw_decode(text, index)
        index = _skip(text, index)
        if _expect(text, index, ",}") == "}":
            break
        index = _skip(text, index + 1)
    if _skip(text, index + 1) != len(text):
        raise _Unsplittable
    return found


#: what follows an item: a comma and the next item's start, or the array's end
_NEXT = re.compile(r"[ \t\n\r]*(?:(,)[ \t\n\r]*|\])")


def _items(text: str, index: int) -> tuple[list[tuple[Any, str]], int]:
    """The array starting at ``text[index] == '['``: its items and the index after it."""
    items: list[tuple[Any, str]] = []
    index = _skip(text, index + 1)
    if text[index : index + 1] == "]":
        return items, index + 1
    # The decoder's scanner and one pattern per separator: a poll splits every reply it gets.
    scan, after = _SCAN, _NEXT.match
    while True:
        try:
            value, end = scan(text, index)
        except StopIteration:  # no JSON value here (raw_decode's "Expecting value")
            raise _Unsplittable from None
        items.append((value, text[index:end]))
        separator = after(text, end)
        if separator is None:
            raise _Unsplittable
        if separator.group(1) is None:
            return items, separator.end()
        index = separator.end()
