"""The phrase index: which of many phrase rules a folded text holds, at the cost of two scans."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from ahocorasick_rs import AhoCorasick

from tracker.model import Classification
from tracker.normalize import pattern
from tracker.normalize.folding import WORD_START_LANGUAGES, fold_pattern, language_order_for
from tracker.normalize.rules import TextRule
from tracker.normalize.scans import commonness

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
        self._also: tuple[_Search, ...] | None = None

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
        return not self.also or self.has_the_other_terms(folded)

    def has_the_other_terms(self, folded: str) -> bool:
        """Whether every other term of this phrase's concept is in ``folded`` (at a word start,
        where that is required)."""
        regexes = self._also
        if regexes is None:
            regexes = self._also = tuple(_Search(term, self.word_start) for term in self.also)
        return all(regex.found(folded) for regex in regexes)


class _Search:
    """A term searched for at a word start: first without ``\\b``, which lets the regex engine
    skip ahead to its literal prefix or first characters, then with it only where needed."""

    __slots__ = ("_anchored", "_plain")

    def __init__(self, term: str, word_start: bool) -> None:
        self._plain = re.compile(term).search
        self._anchored = re.compile(rf"\b(?:{term})") if word_start else None

    def found(self, folded: str) -> bool:
        hit = self._plain(folded)
        if hit is None:
            return False
        anchored = self._anchored
        if anchored is None:
            return True
        # the first hit may be inside a word; a later one may still begin a word
        return bool(anchored.match(folded, hit.start()) or anchored.search(folded))


class _Plans:
    """For one language order: each phrase's rank, and each scan key's candidates in rank order."""

    __slots__ = ("always", "any_start", "rank", "word_start")

    def __init__(self, rank: tuple[int, ...], always: tuple[int, ...], keys: int) -> None:
        self.rank = rank
        self.always = always
        #: key -> its candidates where it begins a word, and where it does not (None: not yet
        #: worked out)
        self.word_start: list[tuple[int, ...] | None] = [None] * keys
        self.any_start: list[tuple[int, ...] | None] = [None] * keys


class PhraseIndex:
    """Ops and built-in phrases behind one scan; the first phrase in priority order wins.

    Priority: ops rules (in file order), then every language's specific rules, then every
    language's catch-alls; languages in the order the text's script and country suggest.

    The scan is one Aho-Corasick automaton (``ahocorasick_rs``, in compiled code) over every
    phrase's literal beginnings (or, where a phrase has none, its anchors): one pass over the
    folded text reports every key found, where it starts. A key found where a phrase must begin
    a word and does not is no candidate for it. Only candidates run a regex, in priority order,
    and a phrase known by its beginnings is matched only where one of them was found (``match``
    at that position, not a ``search`` through the text); a phrase whose beginnings are all it
    can match is found by the scan alone.
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
        # (0, None) for ops phrases; (1, lang) for specific and (2, lang) for catch-all ones
        self._tiers: dict[tuple[int, str | None], list[int]] = {}
        for index, phrase in enumerate(phrases):
            tier = 0 if phrase.lang is None else 1 + phrase.fallback
            self._tiers.setdefault((tier, phrase.lang), []).append(index)
        key_ids: dict[str, int] = {}
        #: per key: phrases it begins at a word start / anywhere (or that hold it anywhere)
        at_word: list[set[int]] = []
        anywhere: list[set[int]] = []
        always: set[int] = set()
        proven: list[bool] = []
        #: per phrase: the keys where its matches may begin (empty: found by ``search``)
        starts: list[frozenset[int]] = []

        def key(text: str) -> int:
            found = key_ids.get(text)
            if found is None:
                found = key_ids[text] = len(key_ids)
                at_word.append(set())
                anywhere.append(set())
            return found

        for index, phrase in enumerate(phrases):
            found = pattern.beginnings(phrase.folded)
            if found is not None:
                ids = frozenset(key(text) for text in found[0])
                for k in ids:
                    (at_word if phrase.word_start else anywhere)[k].add(index)
                starts.append(ids)
                proven.append(found[1] and not phrase.also)
                continue
            starts.append(frozenset())
            proven.append(False)
            anchors = pattern.anchors(phrase.folded)
            if anchors is None:
                always.add(index)
            for anchor in anchors or ():
                anywhere[key(anchor)].add(index)
        #: phrases that a key found where they may begin proves present (no regex of their own)
        self._proven = tuple(proven)
        self._starts = tuple(starts)
        self._always = frozenset(always)
        self._at_word = tuple(frozenset(ids) for ids in at_word)
        self._anywhere = tuple(frozenset(ids) for ids in anywhere)
        #: whether a key's hit must be checked for a word start (some phrase needs one)
        self._checked = tuple(bool(ids) for ids in at_word)
        self._scan: Callable[[str, bool], list[tuple[int, int, int]]] | None = None
        if key_ids:
            self._scan = AhoCorasick(list(key_ids)).find_matches_as_indexes
        # what confirms a candidate found by its keys' positions / by a search of the text
        self._at: list[re.Pattern[str] | None] = [None] * len(phrases)
        self._verify: list[Callable[[str], object]] = [
            p.search if p.word_start or p.also else self._plain_search(index, p.folded)
            for index, p in enumerate(phrases)
        ]
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
        hits = self._scan(folded, True) if self._scan is not None else []
        if hits:
            checked = self._checked
            word_start = plans.word_start
            any_start = plans.any_start
            for key, start, _ in hits:
                # a word begins at ``start`` unless a word character (``\w``) comes before it
                if checked[key] and (
                    not start or not ((before := folded[start - 1]).isalnum() or before == "_")
                ):
                    entry = word_start[key]
                    if entry is None:
                        entry = word_start[key] = self._key_plan(key, True, plans.rank)
                else:
                    entry = any_start[key]
                    if entry is None:
                        entry = any_start[key] = self._key_plan(key, False, plans.rank)
                codes += entry
            if len(codes) > 1:
                codes.sort()
        mask = self._mask
        proven = self._proven
        starts = self._starts
        tried = -1
        for code in codes:
            if code == tried:
                continue  # the same phrase from another key: already tried everywhere
            tried = code
            index = code & mask
            if proven[index]:
                return self._results[index]
            keys = starts[index]
            if keys:
                if self._found_at(index, keys, folded, hits):
                    return self._results[index]
            elif self._verify[index](folded):
                return self._results[index]
        return None

    def _found_at(
        self, index: int, keys: frozenset[int], folded: str, hits: list[tuple[int, int, int]]
    ) -> bool:
        """Whether phrase ``index`` matches where one of its beginnings (``keys``) was found,
        and its concept's other terms are anywhere in the text."""
        regex = self._at[index]
        if regex is None:
            phrase = self._phrases[index]
            source = rf"\b(?:{phrase.folded})" if phrase.word_start else phrase.folded
            regex = self._at[index] = re.compile(source)
        match = regex.match
        for key, start, _ in hits:
            if key in keys and match(folded, start):
                phrase = self._phrases[index]
                return not phrase.also or phrase.has_the_other_terms(folded)
        return False

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
            rank = self._rank(order)
            plans = self._plans[order] = _Plans(
                rank, self._plan(self._always, rank), len(self._checked)
            )
        if len(self._plans_by_hint) < _MAX_HINTS:  # countries are a short list, unless garbled
            self._plans_by_hint[(script, country)] = plans
        return plans

    def _key_plan(self, key: int, at_word_start: bool, rank: tuple[int, ...]) -> tuple[int, ...]:
        """A key's candidates where it was found (at a word start or not), in priority order."""
        ids = self._anywhere[key] | self._at_word[key] if at_word_start else self._anywhere[key]
        return self._plan(ids, rank)

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
