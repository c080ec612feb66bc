"""How common words are in carrier text: which term of a concept the phrase index looks for.

A concept means all its terms, in any order, so any one may stand for it in the index; the one
common words hold least makes the concept a candidate on the fewest texts. Only speed depends on
these tables, never a decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

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
