"""The Latin language hint reads words as the runs of a-z in folded text, split in C."""

from __future__ import annotations

import random
import re

from tracker.normalize.folding import _MARKER_LANG, _NOT_A_TO_Z, fold, latin_country_hint


def _reference_hint(folded: str) -> str | None:
    """The hint as first written: ``re.findall("[a-z]+")`` and a count per language."""
    counts: dict[str, int] = {}
    for word in re.findall("[a-z]+", folded):
        lang = _MARKER_LANG.get(word.encode())
        if lang is not None:
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return None
    best = max(counts, key=counts.__getitem__)
    top = counts[best]
    if best == "en" or top < 2 or sum(1 for n in counts.values() if n == top) > 1:
        return None
    return {"fr": "FR", "pt": "PT", "es": "ES", "de": "DE", "it": "IT", "nl": "NL", "pl": "PL"}[
        best
    ]


def test_words_are_the_runs_of_a_to_z() -> None:
    pieces = ["le", "colis", "est", "été", "livré", "ß", "the", "é", "x1y", "_", "Łódź", "【",
              "𠀀", "do", "objeto", "\u00a0", "ﬁ", "-", "99", "Ё", "nao", "für", "van",
              "het"]  # fmt: skip
    rng = random.Random(5)
    hinted = 0
    for _ in range(3000):
        text = fold("".join(rng.choice(pieces + [" "] * 6) for _ in range(rng.randint(1, 14))))
        words = [w.decode() for w in text.encode().translate(_NOT_A_TO_Z).split()]
        assert words == re.findall("[a-z]+", text), text
        hint = latin_country_hint(text)
        assert hint == _reference_hint(text), text
        hinted += hint is not None
    assert hinted > 100  # the texts do reach a verdict, not only None
