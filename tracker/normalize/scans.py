r"""The two regex scans behind the phrase index, each one compiled trie of literal keys.

Two regex scans of the folded text tell which phrases may be there; only those run their own
regex, in priority order. Each scan is one compiled alternation written as a trie, so at any
position it finds the longest key in one pass, and each starts with a character set, so the
regex engine skips in C over the positions where no key can begin.

* Word starts: a phrase of a language whose phrases begin a word is matched as ``\b(?:phrase)``,
  so every match begins right after a non-word character (the text gets a leading space) with
  one of the phrase's literal beginnings ("ready for pick", "available for pick", ...). The scan
  looks ahead at each non-word character for the longest beginning there; every beginning that
  is a prefix of it is there too. A phrase whose beginnings are all it can match (a plain
  literal such as "delivered") is thereby already matched and needs no regex of its own.
* Substrings: the other phrases (German, Chinese, ops rules) are indexed by anchors, literal
  strings one of which every match contains (``pattern.anchors``). Each anchor is represented by
  one of its tails (a tail of a required string is required too) that begins with a character
  rarely seen in text, so the scan stops at few positions. The scan does not overlap its hits,
  so a hit also stands for every key inside it and every key that may begin inside it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from tracker.normalize.folding import code_point_class
from tracker.normalize.pattern import is_word

#: exactly the non-word characters of the Basic Multilingual Plane (lone surrogates included);
#: text beyond it reaches the word-start scan through ``word_start_scan``'s stand-ins
NON_WORD = code_point_class(
    map(ord, re.findall(r"\W", "".join(map(chr, range(0x10000)))))  # found in C: ~10x faster
)
#: a character beyond the Basic Multilingual Plane (emoji, rare ideographs)
BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
#: rough per-mille frequency of characters in carrier text (Latin-script wording, dates and
#: numbers); only used to pick selective substring keys, correctness never depends on it
_CHAR_FREQUENCY = {
    " ": 150, "e": 110, "a": 85, "i": 75, "o": 70, "n": 70, "r": 65, "s": 65, "t": 65,
    "l": 45, "d": 40, "u": 40, "c": 35, "m": 30, "p": 25, "h": 20, "g": 20, "v": 15, "b": 15,
    "f": 10, "k": 10, "w": 8, "y": 6, "z": 6, "j": 3, "x": 2, "q": 1,
    **dict.fromkeys("0123456789", 10), **dict.fromkeys(".,-:/()", 8),
}  # fmt: skip
#: rough per-mille share of carrier texts that hold each of their commonest words (folded; the
#: labelled corpus and dev set, 2,329 texts in 13 languages); only used to choose which term of a
#: concept the phrase index looks for, correctness never depends on it
_WORD_FREQUENCY = {
    "shipment": 194, "the": 143, "to": 143, "at": 89, "in": 86, "delivery": 82, "delivered": 68,
    "is": 65, "has": 60, "not": 60, "be": 58, "zending": 55, "by": 48, "a": 48, "for": 46,
    "de": 42, "sender": 40, "recipient": 40, "been": 40, "die": 39, "on": 38, "sendung": 38,
    "objeto": 37, "parcel": 35, "will": 34, "was": 34, "of": 34, "item": 29, "colis": 29,
    "up": 28, "your": 27, "arrived": 27, "facility": 27, "votre": 27, "received": 26,
    "customs": 26, "обработка": 26, "est": 25, "return": 25, "we": 24, "в": 24, "address": 24,
    "from": 23, "and": 22, "en": 21, "niet": 19, "ort": 19, "destination": 18, "country": 18,
    "picked": 18, "вручения": 18, "incorrect": 18, "nicht": 18, "could": 18, "because": 17,
    "collected": 17, "customer": 17, "or": 17, "вручение": 16, "попытка": 16, "returned": 15,
    "no": 15, "refused": 15, "im": 15, "day": 15, "handed": 15, "wurde": 15, "van": 15,
    "processed": 14, "transit": 14, "location": 14, "auf": 14, "over": 14, "due": 14,
    "information": 13, "package": 13, "origin": 13, "attempt": 13, "entrega": 13, "depot": 13,
    "sorting": 13, "collection": 13, "door": 12, "held": 12, "deliver": 12, "по": 12, "wird": 12,
    "возврат": 12, "nao": 12, "post": 12, "bij": 12, "missing": 12,
}  # fmt: skip
#: how long a substring key should be when its anchor allows it
_KEY_LENGTH = 3
_NEVER: frozenset[int] = frozenset()


def _trie_pattern(strings: Iterable[str]) -> str:
    """A regex alternation matching each of ``strings``; at a position, the longest one there."""
    root: dict[str, Any] = {}
    for text in strings:
        node = root
        for ch in text:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        run = []  # a stretch with one way on: written at once (start-up time)
        while len(node) == 1 and "" not in node:
            ((ch, node),) = node.items()
            run.append(ch)
        prefix = re.escape("".join(run))
        branches = [re.escape(ch) + emit(node[ch]) for ch in sorted(node) if ch]
        if not branches:
            return prefix
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        if "" in node:  # a string ends here: try the longer ones first
            return f"{prefix}(?:{body})?"
        return prefix + body

    return emit(root)


def substring_keys(anchors: Iterable[str]) -> dict[str, str]:
    """Anchor -> the tail that represents it in the substring scan.

    Tails start with characters of one shared set, as rare as it can be (a greedy set cover)
    while every anchor keeps a tail of ``_KEY_LENGTH`` characters (or all of a shorter anchor).
    """
    starts: dict[str, set[str]] = {}
    for anchor in anchors:
        need = min(_KEY_LENGTH, len(anchor))
        starts[anchor] = set(anchor[: len(anchor) - need + 1])

    def cost(ch: str) -> int:
        return _CHAR_FREQUENCY.get(ch, 1)

    usable: set[str] = set()
    uncovered = set(starts)
    while uncovered:
        gain: dict[str, int] = {}
        for anchor in uncovered:
            for ch in starts[anchor]:
                gain[ch] = gain.get(ch, 0) + 1
        best = min(gain, key=lambda c: (cost(c) / gain[c], c))
        usable.add(best)
        uncovered = {anchor for anchor in uncovered if best not in starts[anchor]}
    for ch in sorted(usable, key=lambda c: (-cost(c), c)):
        rest = usable - {ch}
        if all(chars & rest for chars in starts.values()):
            usable.discard(ch)
    keys = {}
    for anchor in starts:
        need = min(_KEY_LENGTH, len(anchor))
        offsets = [i for i in range(len(anchor) - need + 1) if anchor[i] in usable]
        best_offset = min(offsets, key=lambda i: (cost(anchor[i]), i))
        keys[anchor] = anchor[best_offset:]
    return keys


class SubstringScan:
    """Anchors -> phrase ids, through one non-overlapping scan for their keys."""

    def __init__(self, keys: Mapping[str, frozenset[int]]) -> None:
        self.pattern = _compile_scan(f"({_trie_pattern(keys)})") if keys else None
        by_prefix: dict[str, set[str]] = {}
        for key in keys:
            for end in range(1, len(key) + 1):
                by_prefix.setdefault(key[:end], set()).add(key)
        self.ids: dict[str, frozenset[int]] = {}
        for key in keys:
            # keys inside this hit, and keys that may begin inside it and run on past its end
            covered = {key[i:j] for i in range(len(key)) for j in range(i + 1, len(key) + 1)}
            also = {k for k in covered if k in keys}
            for i in range(1, len(key)):
                also |= by_prefix.get(key[i:], set())
            self.ids[key] = frozenset().union(*(keys[k] for k in also))


def word_start_scan(
    beginnings: Mapping[str, Iterable[int]],
) -> tuple[re.Pattern[str], Callable[[re.Match[str]], str]]:
    """The scan, and what ``BEYOND_BMP.sub`` should put for each character beyond the Basic
    Multilingual Plane in a text before it is scanned (none of the beginnings may hold one).

    One scan for ASCII and other text alike: compiling a second, ASCII-only one cost as much
    start-up time as it saved per event (bench/classify_startup.py, bench/classify.py). Its
    first set holds exactly the non-word characters of the BMP, so it needs no lookbehind (one
    cost 10-20% of the scan); a character beyond it is replaced by a BMP word or non-word
    character that no beginning holds, so word starts stay where they were.
    """
    used = set().union(*beginnings)
    if any(ch > "\uffff" for ch in used):
        raise ValueError("a word-start beginning holds a character beyond the BMP")
    word = next(ch for ch in map(chr, range(0x4E00, 0x10000)) if is_word(ch) and ch not in used)
    gap = next(ch for ch in map(chr, range(1, 0x10000)) if not is_word(ch) and ch not in used)

    def stand_in(found: re.Match[str]) -> str:
        return word if is_word(found.group()) else gap

    # the trie's first level is an alternation the engine tries one by one: a separator followed
    # by a digit or a letter no beginning starts with is turned away by one set instead
    first = code_point_class(ord(text[0]) for text in beginnings)
    return _compile_scan(f"{NON_WORD}(?={first})(?=({_trie_pattern(beginnings)}))"), stand_in


@lru_cache(maxsize=16)
def _compile_scan(pattern: str) -> re.Pattern[str]:
    """Scans are large: compiled once per rule set, not once per ``Normalizer``."""
    return re.compile(pattern)


def commonness(found: Iterable[str]) -> int:
    """Roughly how common in carrier text the commonest of ``found`` is (a term's beginnings or
    anchors): a string is as common as its rarest word, a word as the common words holding it."""
    result = 0
    for text in found:
        pieces = _WORD.findall(text)
        if not pieces:
            return 1000
        result = max(result, min(map(_word_commonness, pieces)))
    return result


_WORD = re.compile(r"\w+")


@lru_cache(maxsize=4096)
def _word_commonness(piece: str) -> int:
    return sum(n for word, n in _WORD_FREQUENCY.items() if piece in word)
