"""The classifier: carrier code maps, then UPU EMSEVT codes, then language-aware phrase rules.

Phrase rules are matched cheaply even when an event's wording has never been seen before: the
phrase index (``phrase_index.py``) names the few phrases a text may hold, and only those run
their own regular expression, in priority order. The compiled index of a rule set is built once
per process, so every ``Normalizer`` after the first costs little.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from tracker.model import Classification, RawEvent, Status
from tracker.normalize.codes import CodeMaps
from tracker.normalize.folding import fold, language_order, latin_country_hint, script_lang
from tracker.normalize.phrase_index import phrase_index
from tracker.normalize.rules import RuleSet

UNKNOWN = Classification(Status.UNKNOWN)
#: a lower-case letter followed by a capital: where a CamelCase status name splits into words
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
DEFAULT_CACHE_SIZE = 1 << 16
_CODE_CACHE_SIZE = 4096


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
        self._code_maps = CodeMaps(rules.carriers, rules.codes)
        self._refinable = frozenset(rules.refinable)
        ops_ids = self._ops_ids = frozenset(ops_rule_ids)
        builtin = [r for r in rules.text if r.rule_id not in ops_ids]
        self._fallback_ids = frozenset(r.rule_id for r in builtin if r.fallback)
        ops = tuple(r for r in rules.text if r.rule_id in ops_ids)
        self._phrases = phrase_index(ops, tuple(builtin))
        self._cached = (
            lru_cache(maxsize=cache_size)(self._classify) if cache_size > 0 else self._classify
        )
        self._merged: dict[tuple[str | None, str | None], Classification] = {}
        # codes come from a small vocabulary: remembered whatever ``cache_size`` says
        self._by_code = lru_cache(maxsize=_CODE_CACHE_SIZE)(self._code_maps.lookup)

    def classify(self, raw: RawEvent) -> Classification:
        """Status, detail and rule id for ``raw``; ``Status.UNKNOWN`` when no rule applies."""
        return self._cached(raw.carrier, raw.code, raw.text, raw.country)

    def _classify(
        self, carrier: str | None, code: str | None, text: str, country: str | None
    ) -> Classification:
        if not code:  # most events: the text alone decides
            return (self._by_text(text, country) if text else None) or UNKNOWN
        by_code = self._by_code(carrier, code)
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

    def _by_text(self, text: str, country: str | None) -> Classification | None:
        if " " not in text:
            text = _camel_words(text)
        if text.isascii():  # fold's own shortcut, without the call
            folded = text.lower()
            script = None
        else:
            folded = fold(text)
            script = None if folded.isascii() else script_lang(folded)
        if country is None and script is None:
            country = latin_country_hint(folded)
        return self._phrases.match(folded, script, country)

    def decided_by(self, result: Classification) -> str:
        """What decided ``result``: "code", "text", "code+text" (a code refined by text), "ops"
        (a text rule from an ops file) or "none" (unknown)."""
        rule = result.rule
        if rule is None:
            return "none"
        if "+" in rule:
            return "code+text"
        if rule in self._ops_ids:
            return "ops"
        return "text" if rule.startswith("text.") else "code"

    def classify_text_exhaustively(self, text: str, country: str | None = None) -> Classification:
        """Phrase rules alone, every phrase tried without the index (tests compare the two)."""
        folded = fold(_camel_words(text) if " " not in text else text)
        if country is None and script_lang(folded) is None:
            country = latin_country_hint(folded)
        return self._phrases.match_all(folded, language_order(folded, country)) or UNKNOWN

    def classify_text(self, text: str, country: str | None = None) -> Classification:
        """Phrase rules alone, through the anchor index."""
        return self._by_text(text, country) or UNKNOWN

    @property
    def unanchored_phrases(self) -> int:
        """How many phrases the index cannot skip (each costs a regex search on every text)."""
        return self._phrases.unanchored


def _camel_words(text: str) -> str:
    """A status name such as "DeliveryFailure" as words; other text as it is."""
    return _CAMEL.sub(" ", text) if _CAMEL.search(text) else text
