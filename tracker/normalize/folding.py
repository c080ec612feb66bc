"""Text folding (case and accents) and the languages a text's script and country suggest."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

#: languages of raw event text that built-in phrase rules cover
TEXT_LANGUAGES: tuple[str, ...] = (
    "en",
    "zh",
    "ru",
    "pt",
    "es",
    "fr",
    "de",
    "it",
    "pl",
    "nl",
    "uk",
    "ja",
    "ko",
    "tr",
)

# country of the scan -> language its post most likely writes in; only orders the matchers
_COUNTRY_LANG = {
    "CN": "zh", "HK": "zh", "TW": "zh", "RU": "ru", "BY": "ru", "KZ": "ru", "BR": "pt",
    "PT": "pt", "ES": "es", "MX": "es", "AR": "es", "CL": "es", "CO": "es", "PE": "es",
    "FR": "fr", "BE": "fr", "LU": "fr", "DE": "de", "AT": "de", "CH": "de", "IT": "it",
    "PL": "pl", "NL": "nl", "UA": "uk", "JP": "ja", "KR": "ko", "TR": "tr",
}  # fmt: skip

#: languages whose phrases always begin a word (not Chinese: no spaces; not German: compounds)
WORD_START_LANGUAGES = frozenset({"en", "ru", "pt", "es", "fr", "it", "pl", "nl", "uk", "tr"})
#: languages whose phrases are written in a non-Latin script, skipped for Latin-only text
_SCRIPT_LANGUAGES = {"zh", "ru", "uk", "ja", "ko"}
#: languages sharing a script with the one the script suggests, tried right after it
_SCRIPT_SIBLINGS = {"ru": ("uk",), "uk": ("ru",), "zh": ("ja",), "ja": ("zh",)}

# letters that carry no combining mark under NFKD but are "accented" to a reader
_BASE_LETTERS = str.maketrans({"ł": "l", "đ": "d", "ø": "o", "œ": "oe", "æ": "ae", "ı": "i"})


def code_point_class(codes: Iterable[int]) -> str:
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
    code_point_class(
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


def fold_pattern(pattern: str) -> str:
    """Fold a regex phrase like text, leaving escapes such as ``\\D`` or ``\\S`` untouched."""
    parts = re.split(r"(\\.)", pattern)
    return "".join(p if p.startswith("\\") else fold(p) for p in parts)


# Han, Cyrillic, kana, and Hangul jamo (folding decomposes Hangul syllables into jamo)
_NON_LATIN = re.compile("[\u4e00-\u9fff\u0400-\u04ff\u3040-\u30ff\u1100-\u11ff\u3130-\u318f]")
_KANA = re.compile("[\u3040-\u30ff]")
# Ukrainian letters Russian lacks, as folded ("ї" folds to "і"): Ukrainian text then meets its own
# rules before Russian ones that half-match it ("вручено відправнику" is not "вручено")
_UKRAINIAN = re.compile("[\u0456\u0454\u0491]")


def script_lang(folded: str) -> str | None:
    """The language a non-Latin script implies (Chinese, Japanese, Korean, Russian or Ukrainian
    Cyrillic), else None."""
    if folded.isascii():
        return None
    found = _NON_LATIN.search(folded)
    if found is None:
        return None
    ch = found.group()
    if "\u0400" <= ch <= "\u04ff":
        return "uk" if _UKRAINIAN.search(folded) else "ru"
    if "\u1100" <= ch <= "\u11ff" or "\u3130" <= ch <= "\u318f":
        return "ko"
    return "ja" if _KANA.search(folded) else "zh"


# Function words (folded) that mark one Latin-script language of tracking text and no other
# covered one: a cheap guess at the language of Latin text whose event names no country, so that
# French or Portuguese text meets its own rules before English ones that half-match it.
_LATIN_MARKERS: dict[str, tuple[str, ...]] = {
    "en": ("the", "has", "been", "your", "was", "with", "and", "will", "we", "item", "parcel"),
    "fr": ("le", "les", "des", "du", "au", "aux", "est", "ete", "votre", "colis", "une", "pour",
           "dans", "sur", "pas", "vous", "ou", "envoi"),
    "pt": ("o", "os", "do", "da", "dos", "das", "ao", "foi", "seu", "sua", "objeto", "encomenda",
           "nao", "para", "em", "pelo", "pela"),
    "es": ("el", "los", "del", "al", "su", "envio", "fue", "ha", "sido", "por", "paquete", "esta"),
    "de": ("der", "die", "das", "den", "dem", "ist", "wurde", "nicht", "und", "zu", "ihre", "ihr",
           "sendung", "paket", "im", "am", "vom", "zur", "zum", "bei", "wird"),
    "it": ("il", "gli", "della", "dello", "alla", "stato", "stata", "spedizione", "pacco",
           "nella", "consegnata", "consegnato", "presso"),
    "nl": ("het", "een", "uw", "zending", "pakket", "niet", "wordt", "naar", "bij", "van", "is"),
    "pl": ("nie", "jest", "sie", "zostala", "przesylka", "paczka", "odbioru", "przez", "oraz"),
    "tr": ("ve", "bir", "ile", "icin", "kargo", "kargonuz", "gonderi", "gonderiniz", "teslim",
           "edildi", "tarafindan", "alici", "subesinde", "iade", "yapildi"),
}  # fmt: skip
_MARKER_LANG = {word.encode(): lang for lang, words in _LATIN_MARKERS.items() for word in words}
# the runs of a-z as words, then a dict lookup: three times cheaper than one alternation of all
# the markers; every byte but a-z made a space and split in C, 40% cheaper than re.findall
# ("[a-z]+") (UTF-8 encodes every other character in bytes outside a-z)
_NOT_A_TO_Z = bytes(c if 0x61 <= c <= 0x7A else 0x20 for c in range(256))
#: a guessed language -> a country whose language order puts it first
_LANG_COUNTRY = {
    "fr": "FR", "pt": "PT", "es": "ES", "de": "DE", "it": "IT", "nl": "NL", "pl": "PL", "tr": "TR",
}  # fmt: skip


def latin_country_hint(folded: str) -> str | None:
    """A country standing for the language ``folded`` (Latin script) is most likely written in,
    when its function words say so clearly (two or more, more than any other language's), else
    None. English needs no hint: it is tried first anyway."""
    marker = _MARKER_LANG.get
    counts: dict[str, int] = {}
    for word in folded.encode().translate(_NOT_A_TO_Z).split():
        lang = marker(word)
        if lang is not None:
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return None
    best = max(counts, key=counts.__getitem__)
    top = counts[best]
    if best == "en" or top < 2 or sum(1 for n in counts.values() if n == top) > 1:
        return None
    return _LANG_COUNTRY[best]


def language_order(folded: str, country: str | None) -> tuple[str, ...]:
    """Languages to try for ``folded``, most likely first (Latin text skips non-Latin ones)."""
    return language_order_for(script_lang(folded), country)


def language_order_for(script: str | None, country: str | None) -> tuple[str, ...]:
    """The language order for a script hint (``script_lang``) and an event's country."""
    return _order_for(script, _COUNTRY_LANG.get((country or "").upper()))


@lru_cache(maxsize=256)
def _order_for(script: str | None, country_lang: str | None) -> tuple[str, ...]:
    hints = (script, *_SCRIPT_SIBLINGS.get(script or "", ()), country_lang, "en")
    order = tuple(dict.fromkeys((*(h for h in hints if h), *TEXT_LANGUAGES)))
    # Latin-only text cannot match Chinese or Cyrillic phrases
    return order if script else tuple(lang for lang in order if lang not in _SCRIPT_LANGUAGES)
