"""The classifier: carrier code maps, then UPU EMSEVT codes, then language-aware phrase rules."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

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
_CACHE_SIZE = 1 << 16


# letters that carry no combining mark under NFKD but are "accented" to a reader
_BASE_LETTERS = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "œ": "oe", "æ": "ae", "ı": "i"})


def fold(text: str) -> str:
    """Casefold and strip accents so phrase rules match "Entregue" and "ENTREGUE" alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_BASE_LETTERS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


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


class _PhraseMatcher:
    """One combined regex over ordered rules: the first rule in order wins, not the first hit."""

    def __init__(self, rules: Sequence[TextRule], *, word_start: bool = False) -> None:
        self._results = [Classification(r.status, r.detail, r.rule_id) for r in rules]
        branches = (
            f"(?P<r{i}>{'|'.join(_fold_pattern(p) for p in r.phrases)})"
            for i, r in enumerate(rules)
        )
        # zero-width lookahead: every position is tried, so overlapping hits are all seen;
        # anchoring at word starts skips most positions cheaply where words are space-separated
        anchor = r"\b" if word_start else ""
        self._regex = re.compile(f"{anchor}(?=(?:{'|'.join(branches)}))") if rules else None

    def match(self, folded: str) -> Classification | None:
        """The highest-priority rule with a phrase anywhere in ``folded``, or None."""
        if self._regex is None:
            return None
        best: int | None = None
        for m in self._regex.finditer(folded):
            index = int(str(m.lastgroup)[1:])
            if best is None or index < best:
                best = index
                if index == 0:
                    break
        return None if best is None else self._results[best]


class Normalizer:
    """Classifies raw events with a fixed rule set; cheap to call, safe to share between threads."""

    def __init__(self, rules: RuleSet, ops_rule_ids: Iterable[str] = ()) -> None:
        self._carriers = dict(rules.carriers)
        self._codes = {family: dict(table) for family, table in rules.codes.items()}
        self._refinable = frozenset(rules.refinable)
        ops_ids = frozenset(ops_rule_ids)
        self._ops = _PhraseMatcher([r for r in rules.text if r.rule_id in ops_ids])
        builtin = [r for r in rules.text if r.rule_id not in ops_ids]
        self._fallback_ids = frozenset(r.rule_id for r in builtin if r.fallback)
        self._tiers = tuple(
            {
                lang: _PhraseMatcher(
                    [r for r in builtin if r.lang == lang and r.fallback is tier],
                    word_start=lang in _WORD_START_LANGUAGES,
                )
                for lang in {r.lang for r in builtin}
            }
            for tier in (False, True)
        )
        self._cached = lru_cache(maxsize=_CACHE_SIZE)(self._classify)

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
            return Classification(by_text.status, by_text.detail, f"{by_code.rule}+{by_text.rule}")
        return by_code

    def _by_code(self, carrier: str | None, code: str) -> Classification | None:
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
        folded = fold(text)
        found = self._ops.match(folded)
        if found is not None:
            return found
        order = _language_order(folded, country)
        for tier in self._tiers:
            for lang in order:
                matcher = tier.get(lang)
                found = matcher.match(folded) if matcher is not None else None
                if found is not None:
                    return found
        return None


def _carrier_key(carrier: str) -> str:
    return carrier.strip().casefold().replace("-", "_").replace(" ", "_")


@lru_cache(maxsize=4096)
def _script_lang(folded: str) -> str | None:
    """The language a non-Latin script implies (Chinese or Cyrillic), else None."""
    for ch in folded:
        if "\u4e00" <= ch <= "\u9fff":
            return "zh"
        if "\u0400" <= ch <= "\u04ff":
            return "ru"
    return None


def _language_order(folded: str, country: str | None) -> tuple[str, ...]:
    script = _script_lang(folded)
    hints = (script, _COUNTRY_LANG.get((country or "").upper()), "en")
    order = _ordered(tuple(h for h in hints if h))
    # Latin-only text cannot match Chinese or Cyrillic phrases
    return order if script else tuple(lang for lang in order if lang not in _SCRIPT_LANGUAGES)


@lru_cache(maxsize=256)
def _ordered(first: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *TEXT_LANGUAGES)))
