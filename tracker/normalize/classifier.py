"""The classifier: carrier code maps, then UPU EMSEVT codes, then language-aware phrase rules.

Phrase rules are matched cheaply even when an event's wording has never been seen before: two
regex scans of the folded text, each one compiled trie of literal strings (the beginnings of
word-start phrases; rare-letter tails of the other phrases' anchors), name the few phrases the
text may hold, and only those run their own regular expression, in priority order. A literal
phrase found at a word start needs no regex at all. See "the phrase index" below."""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from tracker.model import Classification, Detail, RawEvent, Status

#: which statuses each detail may refine (DESIGN.md, "Canonical vocabulary")
VALID_DETAILS: Mapping[Detail, frozenset[Status]] = {
    Detail.ACCEPTED: frozenset({Status.IN_TRANSIT}),
    Detail.ARRIVED_DESTINATION_COUNTRY: frozenset({Status.IN_TRANSIT}),
    Detail.CUSTOMS_PROCESSING: frozenset({Status.IN_TRANSIT}),
    Detail.CUSTOMS_RELEASED: frozenset({Status.IN_TRANSIT}),
    Detail.ARRIVED_DELIVERY_OFFICE: frozenset({Status.IN_TRANSIT, Status.AVAILABLE_FOR_PICKUP}),
    Detail.CUSTOMS_HOLD: frozenset({Status.EXCEPTION}),
    Detail.CUSTOMS_DUTIES_DUE: frozenset({Status.EXCEPTION}),
    Detail.ADDRESS_ISSUE: frozenset({Status.EXCEPTION}),
    Detail.RECIPIENT_UNAVAILABLE: frozenset({Status.DELIVERY_FAILED}),
    Detail.REFUSED: frozenset({Status.EXCEPTION}),
    Detail.DAMAGED: frozenset({Status.EXCEPTION}),
    Detail.LOST: frozenset({Status.EXCEPTION}),
    Detail.RETURNING: frozenset({Status.EXCEPTION}),
    Detail.DELAYED_EXTERNAL: frozenset({Status.EXCEPTION, Status.IN_TRANSIT}),
}

#: languages of raw event text that built-in phrase rules cover
TEXT_LANGUAGES: tuple[str, ...] = ("en", "zh", "ru", "pt", "es", "fr", "de", "it", "pl", "nl")

# country of the scan -> language its post most likely writes in; only orders the matchers
_COUNTRY_LANG = {
    "CN": "zh", "HK": "zh", "TW": "zh", "RU": "ru", "BY": "ru", "KZ": "ru", "BR": "pt",
    "PT": "pt", "ES": "es", "MX": "es", "AR": "es", "CL": "es", "CO": "es", "PE": "es",
    "FR": "fr", "BE": "fr", "LU": "fr", "DE": "de", "AT": "de", "CH": "de", "IT": "it",
    "PL": "pl", "NL": "nl",
}  # fmt: skip

#: languages whose phrases always begin a word (not Chinese: no spaces; not German: compounds)
_WORD_START_LANGUAGES = frozenset({"en", "ru", "pt", "es", "fr", "it", "pl", "nl"})
#: languages whose phrases are written in a non-Latin script, skipped for Latin-only text
_SCRIPT_LANGUAGES = {"zh", "ru"}

UNKNOWN = Classification(Status.UNKNOWN)
DEFAULT_CACHE_SIZE = 1 << 16
_CODE_CACHE_SIZE = 4096
#: how many (script, country) pairs the phrase index remembers the language order of
_MAX_HINTS = 4096


# letters that carry no combining mark under NFKD but are "accented" to a reader
_BASE_LETTERS = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "œ": "oe", "æ": "ae", "ı": "i"})


def _code_point_class(codes: Iterable[int]) -> str:
    """A regex character class matching exactly ``codes``."""
    spans: list[list[int]] = []
    for code in sorted(codes):
        if spans and spans[-1][1] == code - 1:
            spans[-1][1] = code
        else:
            spans.append([code, code])
    parts = (
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in spans
    )
    return f"[{''.join(parts)}]"


def _fold_char(ch: str) -> str:
    """Fold one character of casefolded text: base letters, NFKD, combining marks dropped."""
    decomposed = unicodedata.normalize("NFKD", ch.translate(_BASE_LETTERS))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _FoldTable(dict[str, str]):
    """Character -> its fold, worked out the first time it is needed."""

    def __missing__(self, ch: str) -> str:
        folded = self[ch] = _fold_char(ch)
        return folded


_FOLD_TABLE = _FoldTable()
# Characters folding may change (a superset is fine: the table maps the rest to themselves):
# those with a decomposition, combining marks, the base letters, Hangul syllables (decomposed
# by rule, not by table) and everything outside the Basic Multilingual Plane.
_CHANGING = re.compile(
    _code_point_class(
        code
        for code in range(0x80, 0x10000)
        if not 0xD800 <= code < 0xE000
        and (
            unicodedata.decomposition(chr(code))
            or unicodedata.combining(chr(code))
            or code in _BASE_LETTERS
        )
    )[:-1]
    + "\\uac00-\\ud7a3\\U00010000-\\U0010FFFF]"
)


def _fold_match(found: re.Match[str]) -> str:
    return _FOLD_TABLE[found.group()]


def fold(text: str) -> str:
    """Casefold and strip accents so phrase rules match "Entregue" and "ENTREGUE" alike.

    Casefold, then replace the letters of ``_BASE_LETTERS``, decompose (NFKD) and drop combining
    marks. All of these act character by character (the marks NFKD could reorder are dropped), so
    after one C-level casefold only the few characters that change are touched.
    """
    if text.isascii():
        return text.lower()  # casefold of ASCII is lower(), and ASCII has nothing to drop
    return _CHANGING.sub(_fold_match, text.casefold())  # one scan, whether or not it changes


def _fold_pattern(pattern: str) -> str:
    """Fold a regex phrase like text, leaving escapes such as ``\\D`` or ``\\S`` untouched."""
    parts = re.split(r"(\\.)", pattern)
    return "".join(p if p.startswith("\\") else fold(p) for p in parts)


@dataclass(frozen=True, slots=True)
class TextRule:
    """A phrase rule: any of ``phrases`` (regexes on folded text) means ``status``/``detail``."""

    rule_id: str
    lang: str
    status: Status
    detail: Detail | None
    phrases: tuple[str, ...]
    #: a catch-all ("in transit", "exception"), tried only after every language's specific rules
    fallback: bool = False


@dataclass(slots=True)
class RuleSet:
    """Everything the classifier knows, merged from built-in and ops rule files."""

    carriers: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, Classification]] = field(default_factory=dict)
    text: list[TextRule] = field(default_factory=list)
    #: code rule ids whose meaning a more specific text rule may replace (e.g. "upu.EME")
    refinable: set[str] = field(default_factory=set)


# --- anchors: literal strings one of which every match of a phrase contains --------------------

# the regex parser of the standard library (``re._parser`` in Python 3.11; no type stubs)
_sre: Any = importlib.import_module("re._parser")
_LITERAL, _IN, _RANGE, _BRANCH = _sre.LITERAL, _sre.IN, _sre.RANGE, _sre.BRANCH
_SUBPATTERN, _AT, _ASSERT, _ASSERT_NOT = _sre.SUBPATTERN, _sre.AT, _sre.ASSERT, _sre.ASSERT_NOT
_REPEATS = (_sre.MAX_REPEAT, _sre.MIN_REPEAT)
_IGNORECASE = int(re.IGNORECASE)
#: the most strings an exact set may hold before it stops being worth enumerating
_MAX_EXACT = 48


def phrase_anchors(folded_phrase: str) -> frozenset[str] | None:
    """Strings one of which every match of ``folded_phrase`` contains; None if none are known.

    Conservative: whenever the pattern uses something the analysis does not follow (character
    classes, unbounded repeats, case-insensitive flags), that part simply yields no anchor.
    """
    parsed = _sre.parse(folded_phrase)
    if parsed.state.flags & _IGNORECASE:
        return None
    return _requirement(list(parsed))


def _requirement(items: list[Any]) -> frozenset[str] | None:
    options: list[frozenset[str]] = []
    run: frozenset[str] = frozenset({""})
    literal = ""  # the current stretch of single characters (one string: cheap to look for)
    for op, av in items:
        exact = _exact_item(op, av)
        if exact is not None and len(exact) == 1:
            literal += next(iter(exact))
        else:
            options.append(frozenset({literal}))
            literal = ""
        if exact is not None:
            if len(run) * len(exact) <= _MAX_EXACT:
                run = frozenset(a + b for a in run for b in exact)
            else:
                options.append(run)
                run = exact
            continue
        options.append(run)
        run = frozenset({""})
        inner = _inner_requirement(op, av)
        if inner is not None:
            options.append(inner)
    options += (run, frozenset({literal}))
    valid = [o for o in options if "" not in o]
    return max(valid, key=_anchor_score, default=None)


def _anchor_score(anchors: frozenset[str]) -> tuple[int, int, int]:
    shortest = min(len(a) for a in anchors)
    # four characters or more go into the sparse index; past six, fewer strings beat longer ones
    return (shortest >= 4, min(shortest, 6), -len(anchors))


def _inner_requirement(op: Any, av: Any) -> frozenset[str] | None:
    if op is _SUBPATTERN:
        return None if av[1] & _IGNORECASE else _requirement(list(av[3]))
    if op is _BRANCH:
        union: set[str] = set()
        for alternative in av[1]:
            found = _requirement(list(alternative))
            if found is None:
                return None
            union |= found
        return frozenset(union)
    if op in _REPEATS and av[0] >= 1:
        return _requirement(list(av[2]))
    return None


def _exact(items: Iterable[Any]) -> frozenset[str] | None:
    """Every string ``items`` can match, if they are few; else None."""
    result: frozenset[str] = frozenset({""})
    for op, av in items:
        exact = _exact_item(op, av)
        if exact is None or len(result) * len(exact) > _MAX_EXACT:
            return None
        result = frozenset(a + b for a in result for b in exact)
    return result


def _exact_item(op: Any, av: Any) -> frozenset[str] | None:
    if op is _LITERAL:
        return frozenset({chr(av)})
    if op is _AT or op is _ASSERT or op is _ASSERT_NOT:
        return frozenset({""})  # zero-width: adds no characters
    if op is _IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is _LITERAL:
                chars.add(chr(value))
            elif kind is _RANGE and value[1] - value[0] < 16:
                chars.update(chr(c) for c in range(value[0], value[1] + 1))
            else:
                return None  # negated sets, categories such as \w, wide ranges
        return frozenset(chars) if len(chars) <= _MAX_EXACT else None
    if op is _SUBPATTERN:
        return None if av[1] & _IGNORECASE else _exact(av[3])
    if op is _BRANCH:
        union: set[str] = set()
        for alternative in av[1]:
            found = _exact(alternative)
            if found is None:
                return None
            union |= found
        return frozenset(union) if len(union) <= _MAX_EXACT else None
    if op in _REPEATS and av[1] <= 4:
        lo, hi, sub = av
        once = _exact(sub)
        if once is None:
            return None
        total: set[str] = set()
        power: frozenset[str] = frozenset({""})
        for count in range(hi + 1):
            if count >= lo:
                total |= power
            if count < hi:
                if len(power) * len(once) > _MAX_EXACT:
                    return None
                power = frozenset(a + b for a in power for b in once)
        return frozenset(total) if len(total) <= _MAX_EXACT else None
    return None


_NON_LATIN = re.compile("[\u4e00-\u9fff\u0400-\u04ff]")

# --- the phrase index ---------------------------------------------------------------------------
#
# Two regex scans of the folded text tell which phrases may be there; only those run their own
# regex, in priority order. Each scan is one compiled alternation written as a trie, so at any
# position it finds the longest key in one pass, and each starts with a character set, so the
# regex engine skips in C over the positions where no key can begin.
#
# * Word starts: a phrase of a language whose phrases begin a word is matched as ``\b(?:phrase)``,
#   so every match begins right after a non-word character (the text gets a leading space) with
#   one of the phrase's literal beginnings ("ready for pick", "available for pick", ...). The scan
#   looks ahead at each non-word character for the longest beginning there; every beginning that
#   is a prefix of it is there too. A phrase whose beginnings are all it can match (a plain
#   literal such as "delivered") is thereby already matched and needs no regex of its own.
# * Substrings: the other phrases (German, Chinese, ops rules) are indexed by anchors, literal
#   strings one of which every match contains (``phrase_anchors``). Each anchor is represented by
#   one of its tails (a tail of a required string is required too) that begins with a character
#   rarely seen in text, so the scan stops at few positions. The scan does not overlap its hits,
#   so a hit also stands for every key inside it and every key that may begin inside it.


def _is_word(ch: str) -> bool:
    """Whether ``\\w`` (Unicode) matches ``ch``."""
    return ch.isalnum() or ch == "_"


#: every non-word ASCII character
_ASCII_NON_WORD = _code_point_class(c for c in range(0x80) if not _is_word(chr(c)))
#: every non-word character of the Basic Multilingual Plane, and every character beyond it (a
#: superset: the scan re-checks ``\W`` after it, which costs only where the set matched)
_NON_WORD = (
    _code_point_class(
        c for c in range(0x10000) if not 0xD800 <= c < 0xE000 and not _is_word(chr(c))
    )[:-1]
    + "\\U00010000-\\U0010FFFF]"
)
#: rough per-mille frequency of characters in carrier text (Latin-script wording, dates and
#: numbers); only used to pick selective substring keys, correctness never depends on it
_CHAR_FREQUENCY = {
    " ": 150, "e": 110, "a": 85, "i": 75, "o": 70, "n": 70, "r": 65, "s": 65, "t": 65,
    "l": 45, "d": 40, "u": 40, "c": 35, "m": 30, "p": 25, "h": 20, "g": 20, "v": 15, "b": 15,
    "f": 10, "k": 10, "w": 8, "y": 6, "z": 6, "j": 3, "x": 2, "q": 1,
    **dict.fromkeys("0123456789", 10), **dict.fromkeys(".,-:/()", 8),
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
        branches = [re.escape(ch) + emit(node[ch]) for ch in sorted(node) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        if "" in node:  # a string ends here: try the longer ones first
            return f"(?:{body})?"
        return body

    return emit(root)


def _word_start_beginnings(folded_phrase: str) -> tuple[frozenset[str], bool] | None:
    """The literal beginnings of ``folded_phrase`` and whether they are all it matches.

    None unless every match begins with one of a few known strings, each starting with a word
    character (what a word-start scan can find).
    """
    parsed = _sre.parse(folded_phrase)
    if parsed.state.flags & (_IGNORECASE | int(re.ASCII) | int(re.LOCALE)):
        return None
    items = list(parsed)
    result: frozenset[str] = frozenset({""})
    complete = True
    for op, av in items:
        exact = _exact_item(op, av)
        if exact is None or len(result) * len(exact) > _MAX_EXACT:
            complete = False
            break
        result = frozenset(a + b for a in result for b in exact)
    if not all(text and _is_word(text[0]) for text in result):
        return None
    return result, complete and not _has_assertion(items)


def _has_assertion(items: Iterable[Any]) -> bool:
    """Whether ``items`` hold a zero-width condition (``\\b``, ``^``, lookaround) anywhere."""
    for op, av in items:
        if op is _AT or op is _ASSERT or op is _ASSERT_NOT:
            return True
        if op is _SUBPATTERN and _has_assertion(av[3]):
            return True
        if op is _BRANCH and any(_has_assertion(alternative) for alternative in av[1]):
            return True
        if op in _REPEATS and _has_assertion(av[2]):
            return True
    return False


def _substring_keys(anchors: Iterable[str]) -> dict[str, str]:
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
        if all(chars & (usable - {ch}) for chars in starts.values()):
            usable.discard(ch)
    keys = {}
    for anchor in starts:
        need = min(_KEY_LENGTH, len(anchor))
        offsets = [i for i in range(len(anchor) - need + 1) if anchor[i] in usable]
        best_offset = min(offsets, key=lambda i: (cost(anchor[i]), i))
        keys[anchor] = anchor[best_offset:]
    return keys


class _SubstringScan:
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


def _word_start_scan(beginnings: Mapping[str, Iterable[int]], non_word: str) -> re.Pattern[str]:
    check = "(?<=\\W)" if non_word is _NON_WORD else ""  # the set holds a few word characters
    return _compile_scan(f"{non_word}{check}(?=({_trie_pattern(beginnings)}))")


@lru_cache(maxsize=16)
def _compile_scan(pattern: str) -> re.Pattern[str]:
    """Scans are large: compiled once per rule set, not once per ``Normalizer``."""
    return re.compile(pattern)


@dataclass(frozen=True, slots=True)
class _Phrase:
    """One phrase of one rule, compiled; ``anchored`` when it must also begin a word."""

    result: Classification
    lang: str | None  # None for ops rules, which are tried first whatever the language
    fallback: bool
    plain: re.Pattern[str]
    word_start: bool

    def search(self, folded: str) -> bool:
        found = self.plain.search(folded)
        if found is None:
            return False
        if not self.word_start:
            return True
        anchored = _anchored(self.plain.pattern)
        if anchored.match(folded, found.start()):
            return True
        # the first hit is inside a word; a later one may still begin a word
        return anchored.search(folded) is not None


@cache
def _anchored(pattern: str) -> re.Pattern[str]:
    """``pattern`` matched only where a word begins (compiled when first needed)."""
    return re.compile(rf"\b(?:{pattern})")


class _Plans:
    """For one language order: each phrase's rank, and each scan hit's candidates in rank order."""

    __slots__ = ("always", "beyond", "rank", "sub_any", "sub_ascii", "sub_floor", "word")

    def __init__(self, rank: tuple[int, ...], always: tuple[int, ...]) -> None:
        self.rank = rank
        self.always = always
        #: a code above every candidate's
        self.beyond = 0
        #: the best code any phrase of the substring scans can have
        self.sub_floor = 0
        self.word: dict[str, tuple[tuple[int, ...], int]] = {}
        self.sub_ascii: dict[str, tuple[int, ...]] = {}
        self.sub_any: dict[str, tuple[int, ...]] = {}


class _PhraseIndex:
    """Ops and built-in phrases behind two scans; the first phrase in priority order wins.

    Priority: ops rules (in file order), then every language's specific rules, then every
    language's catch-alls; languages in the order the text's script and country suggest.
    """

    def __init__(self, ops: Sequence[TextRule], builtin: Sequence[TextRule]) -> None:
        phrases: list[_Phrase] = []
        for is_ops, rule in (*((True, r) for r in ops), *((False, r) for r in builtin)):
            word_start = not is_ops and rule.lang in _WORD_START_LANGUAGES
            result = Classification(rule.status, rule.detail, rule.rule_id)
            for text in rule.phrases:
                folded = _fold_pattern(text)
                phrases.append(
                    _Phrase(
                        result,
                        None if is_ops else rule.lang,
                        rule.fallback,
                        re.compile(folded),
                        word_start,
                    )
                )
        self._phrases = tuple(phrases)
        self._results = tuple(phrase.result for phrase in phrases)
        # what confirms a candidate: the plain regex where no word start is needed
        self._verify: tuple[Callable[[str], object], ...] = tuple(
            phrase.search if phrase.word_start else phrase.plain.search for phrase in phrases
        )
        # (0, None) for ops phrases; (1, lang) for specific and (2, lang) for catch-all ones
        self._tiers: dict[tuple[int, str | None], list[int]] = {}
        for index, phrase in enumerate(phrases):
            tier = 0 if phrase.lang is None else 1 + phrase.fallback
            self._tiers.setdefault((tier, phrase.lang), []).append(index)
        beginnings: dict[str, set[int]] = {}
        by_anchor: dict[str, set[int]] = {}
        always: set[int] = set()
        proven: list[bool] = []
        for index, phrase in enumerate(phrases):
            found = _word_start_beginnings(phrase.plain.pattern) if phrase.word_start else None
            proven.append(found is not None and found[1])
            if found is not None:
                for text in found[0]:
                    beginnings.setdefault(text, set()).add(index)
                continue
            anchors = phrase_anchors(phrase.plain.pattern)
            if anchors is None:
                always.add(index)
            for anchor in anchors or ():
                by_anchor.setdefault(anchor, set()).add(index)
        #: phrases that a hit of the word-start scan proves present (no regex of their own)
        self._proven = tuple(proven)
        self._always = frozenset(always)
        # word-start scan: hit -> every phrase with a beginning that is a prefix of it
        self._word_ids = {
            text: frozenset().union(
                *(
                    beginnings[text[:end]]
                    for end in range(1, len(text) + 1)
                    if text[:end] in beginnings
                )
            )
            for text in beginnings
        }
        ascii_beginnings = [text for text in beginnings if text.isascii()]
        self._word_ascii = (
            _word_start_scan(dict.fromkeys(ascii_beginnings, ()), _ASCII_NON_WORD)
            if ascii_beginnings
            else None
        )
        self._word_any = _word_start_scan(beginnings, _NON_WORD) if beginnings else None
        # substring scans: one for ASCII text (only ASCII anchors can be in it), one for the rest
        key_of = _substring_keys(by_anchor)
        keys: dict[str, set[int]] = {}
        ascii_keys: dict[str, set[int]] = {}
        for anchor, ids in by_anchor.items():
            keys.setdefault(key_of[anchor], set()).update(ids)
            if anchor.isascii():
                ascii_keys.setdefault(key_of[anchor], set()).update(ids)
        self._sub_ids = frozenset().union(*by_anchor.values())
        self._sub_any = _SubstringScan({k: frozenset(v) for k, v in keys.items()})
        self._sub_ascii = _SubstringScan({k: frozenset(v) for k, v in ascii_keys.items()})
        self._shift = max(len(phrases), 1).bit_length()
        self._mask = (1 << self._shift) - 1
        self._plans: dict[tuple[str, ...], _Plans] = {}
        self._plans_by_hint: dict[tuple[str | None, str | None], _Plans] = {}

    @property
    def unanchored(self) -> int:
        """How many phrases have no anchor and so are tried on every text."""
        return len(self._always)

    def match(self, folded: str, script: str | None, country: str | None) -> Classification | None:
        """The highest-priority phrase found in ``folded``, trying only phrases it may contain.

        ``script``: what ``_script_lang`` says of ``folded``; ``country``: the event's country.
        """
        plans = self._plans_by_hint.get((script, country))
        if plans is None:
            plans = self._plans_for_hint(script, country)
        if folded.isascii():
            word, sub, sub_plans = self._word_ascii, self._sub_ascii, plans.sub_ascii
        else:
            word, sub, sub_plans = self._word_any, self._sub_any, plans.sub_any
        # candidates as rank << shift | index, so sorting them sorts by priority
        codes = list(plans.always)
        best = plans.beyond  # the best candidate already known to be present
        if word is not None:
            word_plans = plans.word
            for hit in word.findall(" " + folded):
                entry = word_plans.get(hit)
                if entry is None:
                    entry = word_plans[hit] = self._word_plan(hit, plans)
                codes += entry[0]
                if entry[1] < best:
                    best = entry[1]
        # the substring scan can only add phrases of its own (German, Chinese, ops); skip it when
        # none of them could outrank a phrase already found
        if sub.pattern is not None and best > plans.sub_floor:
            for hit in sub.pattern.findall(folded):
                plan = sub_plans.get(hit)
                if plan is None:
                    plan = sub_plans[hit] = self._plan(sub.ids[hit], plans.rank)
                codes += plan
        if not codes:
            return None
        if len(codes) > 1:
            codes.sort()
        mask = self._mask
        proven = self._proven
        verify = self._verify
        for code in codes:
            index = code & mask
            if proven[index] or verify[index](folded):
                return self._results[index]
        return None

    def _plans_for_hint(self, script: str | None, country: str | None) -> _Plans:
        order = _language_order_for(script, country)
        plans = self._plans.get(order)
        if plans is None:
            plans = self._new_plans(order)
        if len(self._plans_by_hint) < _MAX_HINTS:  # countries are a short list, unless garbled
            self._plans_by_hint[(script, country)] = plans
        return plans

    def _new_plans(self, order: tuple[str, ...]) -> _Plans:
        rank = self._rank(order)
        plans = _Plans(rank, self._plan(self._always, rank))
        plans.beyond = len(rank) << self._shift
        plans.sub_floor = min(
            (rank[i] << self._shift | i for i in self._sub_ids if rank[i] < len(rank)),
            default=plans.beyond,
        )
        self._plans[order] = plans
        return plans

    def _word_plan(self, hit: str, plans: _Plans) -> tuple[tuple[int, ...], int]:
        """A word-start hit's plan, and the code of the phrase it proves present (if any)."""
        plan = self._plan(self._word_ids[hit], plans.rank)
        found = plan and self._proven[plan[-1] & self._mask]
        return plan, plan[-1] if found else plans.beyond

    def _plan(self, ids: Iterable[int], rank: tuple[int, ...]) -> tuple[int, ...]:
        """``ids`` in priority order, as codes, up to the first one a scan hit proves present."""
        excluded = len(rank)
        codes = sorted(rank[i] << self._shift | i for i in ids if rank[i] < excluded)
        for end, code in enumerate(codes, 1):
            if self._proven[code & self._mask]:
                return tuple(codes[:end])
        return tuple(codes)

    def match_all(self, folded: str, order: tuple[str, ...]) -> Classification | None:
        """The same answer as ``match`` by trying every phrase: the reference for tests."""
        rank = self._rank(order)
        for index in sorted(range(len(self._phrases)), key=rank.__getitem__):
            if rank[index] < len(self._phrases) and self._phrases[index].search(folded):
                return self._phrases[index].result
        return None

    def _rank(self, order: tuple[str, ...]) -> tuple[int, ...]:
        """Each phrase's place in the priority order for ``order``; excluded ones sort last.

        Ops phrases first, then each language's specific phrases, then each language's catch-alls
        (languages as ``order`` lists them, phrases in file order within one).
        """
        tiers = self._tiers
        sequence = list(tiers.get((0, None), ()))
        for tier in (1, 2):
            for lang in order:
                sequence += tiers.get((tier, lang), ())
        rank = [len(self._phrases)] * len(self._phrases)
        for place, index in enumerate(sequence):
            rank[index] = place
        return tuple(rank)


class Normalizer:
    """Classifies raw events with a fixed rule set; cheap to call, safe to share between threads.

    Results are memoised for repeated (carrier, code, text, country); ``cache_size=0`` turns the
    memo off, which is how the benchmark measures wording never seen before.
    """

    def __init__(
        self,
        rules: RuleSet,
        ops_rule_ids: Iterable[str] = (),
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        self._carriers = dict(rules.carriers)
        self._codes = {family: dict(table) for family, table in rules.codes.items()}
        self._refinable = frozenset(rules.refinable)
        ops_ids = frozenset(ops_rule_ids)
        builtin = [r for r in rules.text if r.rule_id not in ops_ids]
        self._fallback_ids = frozenset(r.rule_id for r in builtin if r.fallback)
        self._phrases = _PhraseIndex([r for r in rules.text if r.rule_id in ops_ids], builtin)
        self._cached = (
            lru_cache(maxsize=cache_size)(self._classify) if cache_size > 0 else self._classify
        )
        self._merged: dict[tuple[str | None, str | None], Classification] = {}
        # codes come from a small vocabulary: remembered whatever ``cache_size`` says
        self._by_code = lru_cache(maxsize=_CODE_CACHE_SIZE)(self._by_code_uncached)

    def classify(self, raw: RawEvent) -> Classification:
        """Status, detail and rule id for ``raw``; ``Status.UNKNOWN`` when no rule applies."""
        return self._cached(raw.carrier, raw.code, raw.text, raw.country)

    def _classify(
        self, carrier: str | None, code: str | None, text: str, country: str | None
    ) -> Classification:
        by_code = self._by_code(carrier, code) if code else None
        refinable = by_code is not None and by_code.rule in self._refinable
        if by_code is not None and (not text or (by_code.detail is not None and not refinable)):
            return by_code
        by_text = self._by_text(text, country) if text else None
        if by_code is None:
            return by_text or UNKNOWN
        if by_text is None or by_text.rule in self._fallback_ids:
            return by_code
        # a generic code ("held by customs", "delivery attempt") takes the reason from the text;
        # any code may take a detail from text that agrees with its status
        if refinable or (by_text.status == by_code.status and by_text.detail is not None):
            key = (by_code.rule, by_text.rule)
            merged = self._merged.get(key)
            if merged is None:  # one per pair of rules: built once
                merged = Classification(by_text.status, by_text.detail, f"{key[0]}+{key[1]}")
                self._merged[key] = merged
            return merged
        return by_code

    def _by_code_uncached(self, carrier: str | None, code: str) -> Classification | None:
        code = code.strip()
        family = self._carriers.get(_carrier_key(carrier)) if carrier else None
        if family is not None:
            table = self._codes.get(family, {})
            found = table.get(code) or table.get(code.upper())
            if found is None and "." in code:
                found = table.get(code.split(".", 1)[0])
            if found is not None:
                return found
        return self._codes.get("upu", {}).get(code.upper())

    def _by_text(self, text: str, country: str | None) -> Classification | None:
        if text.isascii():  # fold's own shortcut, without the call
            folded = text.lower()
            script = None
        else:
            folded = fold(text)
            script = None if folded.isascii() else _script_lang(folded)
        return self._phrases.match(folded, script, country)

    def classify_text_exhaustively(self, text: str, country: str | None = None) -> Classification:
        """Phrase rules alone, every phrase tried without the index (tests compare the two)."""
        folded = fold(text)
        return self._phrases.match_all(folded, _language_order(folded, country)) or UNKNOWN

    def classify_text(self, text: str, country: str | None = None) -> Classification:
        """Phrase rules alone, through the anchor index."""
        return self._by_text(text, country) or UNKNOWN

    @property
    def unanchored_phrases(self) -> int:
        """How many phrases the index cannot skip (each costs a regex search on every text)."""
        return self._phrases.unanchored


@lru_cache(maxsize=1024)
def _carrier_key(carrier: str) -> str:
    return carrier.strip().casefold().replace("-", "_").replace(" ", "_")


def _script_lang(folded: str) -> str | None:
    """The language a non-Latin script implies (Chinese or Cyrillic), else None."""
    if folded.isascii():
        return None
    found = _NON_LATIN.search(folded)
    if found is None:
        return None
    return "ru" if "\u0400" <= found.group() <= "\u04ff" else "zh"


def _language_order(folded: str, country: str | None) -> tuple[str, ...]:
    return _language_order_for(_script_lang(folded), country)


def _language_order_for(script: str | None, country: str | None) -> tuple[str, ...]:
    return _order_for(script, _COUNTRY_LANG.get((country or "").upper()))


@lru_cache(maxsize=256)
def _order_for(script: str | None, country_lang: str | None) -> tuple[str, ...]:
    hints = (script, country_lang, "en")
    order = tuple(dict.fromkeys((*(h for h in hints if h), *TEXT_LANGUAGES)))
    # Latin-only text cannot match Chinese or Cyrillic phrases
    return order if script else tuple(lang for lang in order if lang not in _SCRIPT_LANGUAGES)
