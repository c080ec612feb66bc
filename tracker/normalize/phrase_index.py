"""The phrase index: which of many phrase rules a folded text holds, at the cost of two scans."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from tracker.model import Classification
from tracker.normalize import pattern
from tracker.normalize.folding import WORD_START_LANGUAGES, fold_pattern, language_order_for
from tracker.normalize.rules import TextRule
from tracker.normalize.scans import (
    BEYOND_BMP,
    SubstringScan,
    commonness,
    substring_keys,
    word_start_scan,
)

#: a concept term held by at most this per mille of carrier texts is rare enough to look for
_RARE_ENOUGH = 20
#: how many (script, country) pairs the phrase index remembers the language order of
_MAX_HINTS = 4096


class _Phrase:
    """One phrase of one rule; its regex is compiled the first time a text may hold it.

    Compiling every phrase up front is most of what building an index would cost, and most
    phrases are never a candidate in a given process (a CLI call classifies a few events).
    """

    __slots__ = (
        "_also",
        "_anchored",
        "_regex",
        "also",
        "fallback",
        "folded",
        "lang",
        "result",
        "word_start",
    )

    def __init__(
        self,
        result: Classification,
        lang: str | None,
        fallback: bool,
        folded: str,
        word_start: bool,
        also: tuple[str, ...] = (),
    ) -> None:
        self.result = result
        self.lang = lang  # None for ops rules, which are tried first whatever the language
        self.fallback = fallback
        self.folded = folded
        #: whether a match must also begin a word
        self.word_start = word_start
        #: a concept's other terms: each must be somewhere in the text too, in any order
        self.also = also
        self._regex: re.Pattern[str] | None = None
        self._anchored: re.Pattern[str] | None = None
        self._also: tuple[re.Pattern[str], ...] | None = None

    def search(self, folded: str) -> bool:
        """Whether ``folded`` holds this phrase (at a word start, where that is required) and
        every other term of its concept."""
        regex = self._regex
        if regex is None:
            regex = self._regex = re.compile(self.folded)
        found = regex.search(folded)
        if found is None:
            return False
        if self.word_start:
            anchored = self._anchored
            if anchored is None:
                anchored = self._anchored = re.compile(rf"\b(?:{self.folded})")
            # the first hit may be inside a word; a later one may still begin a word
            if not anchored.match(folded, found.start()) and anchored.search(folded) is None:
                return False
        return not self.also or self._has_the_other_terms(folded)

    def _has_the_other_terms(self, folded: str) -> bool:
        regexes = self._also
        if regexes is None:
            start = r"\b" if self.word_start else ""
            regexes = self._also = tuple(re.compile(f"{start}(?:{term})") for term in self.also)
        return all(regex.search(folded) for regex in regexes)


class _Plans:
    """For one language order: each phrase's rank, and each scan hit's candidates in rank order."""

    __slots__ = ("always", "beyond", "rank", "sub_ascii", "sub_floor", "sub_other", "word")

    def __init__(self, rank: tuple[int, ...], always: tuple[int, ...]) -> None:
        self.rank = rank
        self.always = always
        #: a code above every candidate's
        self.beyond = 0
        #: the best code any phrase of the substring scans can have
        self.sub_floor = 0
        self.word: dict[str, tuple[tuple[int, ...], int]] = {}
        self.sub_ascii: dict[str, tuple[int, ...]] = {}
        self.sub_other: dict[str, tuple[int, ...]] = {}


class PhraseIndex:
    """Ops and built-in phrases behind two scans; the first phrase in priority order wins.

    Priority: ops rules (in file order), then every language's specific rules, then every
    language's catch-alls; languages in the order the text's script and country suggest.
    """

    def __init__(self, ops: Sequence[TextRule], builtin: Sequence[TextRule]) -> None:
        phrases: list[_Phrase] = []
        for is_ops, rule in (*((True, r) for r in ops), *((False, r) for r in builtin)):
            word_start = not is_ops and rule.lang in WORD_START_LANGUAGES
            result = Classification(rule.status, rule.detail, rule.rule_id)
            lang = None if is_ops else rule.lang
            for text in rule.phrases:
                folded = fold_pattern(text)
                phrases.append(_Phrase(result, lang, rule.fallback, folded, word_start))
            for concept in rule.concepts:
                terms = [fold_pattern(term) for term in concept]
                first = terms.pop(_rarest(terms, word_start))
                phrases.append(
                    _Phrase(result, lang, rule.fallback, first, word_start, tuple(terms))
                )
        self._phrases = tuple(phrases)
        self._results = tuple(phrase.result for phrase in phrases)
        # what confirms a candidate (a truthy result)
        self._verify: list[Callable[[str], object]] = [
            p.search if p.word_start or p.also else self._plain_search(index, p.folded)
            for index, p in enumerate(phrases)
        ]
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
            found = pattern.beginnings(phrase.folded) if phrase.word_start else None
            if found is not None and any(ch > "\uffff" for text in found[0] for ch in text):
                found = None  # the word-start scan sees none: indexed by its anchors instead
            proven.append(found is not None and found[1] and not phrase.also)
            if found is not None:
                for text in found[0]:
                    beginnings.setdefault(text, set()).add(index)
                continue
            anchors = pattern.anchors(phrase.folded)
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
        self._word_any: re.Pattern[str] | None = None
        self._stand_in: Callable[[re.Match[str]], str] = re.Match.group
        if beginnings:
            self._word_any, self._stand_in = word_start_scan(beginnings)
        # substring scans: the ASCII keys (all an ASCII text can hold) on every text, the other
        # keys (Chinese, Japanese, Korean, non-Latin ops phrases) only on text that is not ASCII;
        # apart, each scan's first characters stay few, so Cyrillic or accented text is skipped
        # over quickly by the one and Latin text never meets the other
        key_of = substring_keys(by_anchor)
        ascii_keys: dict[str, set[int]] = {}
        other_keys: dict[str, set[int]] = {}
        for anchor, ids in by_anchor.items():
            key = key_of[anchor]
            (ascii_keys if key.isascii() else other_keys).setdefault(key, set()).update(ids)
        self._sub_ids = frozenset().union(*by_anchor.values())
        self._sub_ascii = SubstringScan({k: frozenset(v) for k, v in ascii_keys.items()})
        self._sub_other = SubstringScan({k: frozenset(v) for k, v in other_keys.items()})
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

        ``script``: what ``script_lang`` says of ``folded``; ``country``: the event's country.
        """
        plans = self._plans_by_hint.get((script, country))
        if plans is None:
            plans = self._plans_for_hint(script, country)
        # candidates as rank << shift | index, so sorting them sorts by priority
        codes = list(plans.always)
        best = plans.beyond  # the best candidate already known to be present
        word = self._word_any
        if word is not None:
            word_plans = plans.word
            scanned = folded
            if not folded.isascii() and BEYOND_BMP.search(folded):
                scanned = BEYOND_BMP.sub(self._stand_in, folded)
            for hit in word.findall(" " + scanned):
                entry = word_plans.get(hit)
                if entry is None:
                    entry = word_plans[hit] = self._word_plan(hit, plans)
                codes += entry[0]
                if entry[1] < best:
                    best = entry[1]
        if len(codes) > 1:
            codes.sort()
        mask = self._mask
        proven = self._proven
        verify = self._verify
        floor = plans.sub_floor
        if best > floor:
            # the substring scans add phrases of their own (German, Chinese, ops rules), none
            # ranked above ``floor``: the candidates that are go first, and the scans run only if
            # none of them is there
            for place, code in enumerate(codes):
                if code > floor:
                    del codes[:place]
                    break
                index = code & mask
                if proven[index] or verify[index](folded):
                    return self._results[index]
            else:
                codes.clear()
            scans = (
                ((self._sub_ascii, plans.sub_ascii),)
                if folded.isascii()
                else ((self._sub_ascii, plans.sub_ascii), (self._sub_other, plans.sub_other))
            )
            for sub, sub_plans in scans:
                if sub.pattern is None:
                    continue
                for hit in sub.pattern.findall(folded):
                    plan = sub_plans.get(hit)
                    if plan is None:
                        plan = sub_plans[hit] = self._plan(sub.ids[hit], plans.rank)
                    codes += plan
            codes.sort()
        for code in codes:
            index = code & mask
            if proven[index] or verify[index](folded):
                return self._results[index]
        return None

    def _plain_search(self, index: int, folded_pattern: str) -> Callable[[str], object]:
        """What confirms a phrase that is just its regex: compiled on its first use, after which
        the regex's own search (no Python frame between) takes its place."""

        def first_search(folded: str) -> object:
            search = re.compile(folded_pattern).search
            self._verify[index] = search
            return search(folded)

        return first_search

    def _plans_for_hint(self, script: str | None, country: str | None) -> _Plans:
        order = language_order_for(script, country)
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


def _rarest(terms: Sequence[str], word_start: bool) -> int:
    """Which term of a concept the index should look for: the one common words hold least (a
    concept means all its terms, in any order, so any one may stand for it; "deliver" would make
    the concept a candidate on most English texts). Ties leave the author's first term."""
    costs = []
    for term in terms:
        found = pattern.beginnings(term) if word_start else None
        strings = found[0] if found is not None else pattern.anchors(term)
        costs.append(commonness(strings) if strings else 1 << 30)
        if costs[0] <= _RARE_ENOUGH:
            return 0  # the usual case: the others need not be read (start-up time)
    return costs.index(min(costs))


@lru_cache(maxsize=8)
def phrase_index(ops: tuple[TextRule, ...], builtin: tuple[TextRule, ...]) -> PhraseIndex:
    """The index of these rules, built once per process and shared by every ``Normalizer``.

    Sharing is safe: an index only ever adds entries to its memo of plans, each the same
    whichever thread computes it first.
    """
    return PhraseIndex(ops, builtin)
