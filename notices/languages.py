"""Which languages notices speak: exactly the locale files present, with CLDR's fallbacks.

A language is its files, nothing else: ``notices/locales/<tag>.toml`` (the sentences of every
notice) and ``notices/explanations/<tag>.toml`` (what a status means). Adding a language is adding
those two files; ``tests/notices/test_languages.py`` names any file a language lacks.

A regional variant (``pt-PT``, ``es-419``) holds only what differs from its base language's
files (``pt``, ``es``) and falls back to them key by key. Which variant a buyer gets: the region of
the order's language tag if it has one, else the destination country, then CLDR's parent chain
(``es-MX`` -> ``es-419`` -> ``es``; ``pt-AO`` -> ``pt-PT`` -> ``pt``), as Babel, ICU and browsers
resolve locales.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import cache, lru_cache
from pathlib import Path

from babel.core import Locale, get_global
from babel.dates import format_date

from tracker.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
LOCALES_DIR = PACKAGE_DIR / "locales"
EXPLANATIONS_DIR = PACKAGE_DIR / "explanations"
REFERENCE = "en"
"""The language every other base language must match key for key."""

_TAG = re.compile(r"^(?P<lang>[A-Za-z]{2,3})(?:[-_](?P<region>[A-Za-z]{2}|\d{3}))?$")


@lru_cache(maxsize=1024)  # pure; looked up for every string of every notice
def canonical(tag: str | None) -> str | None:
    """``"pt_br"`` -> ``"pt-BR"``, ``"ES-419"`` -> ``"es-419"``; None for empty or unreadable tags.

    Script and other subtags (``zh-Hant-TW``, ``de-DE-1996``) are dropped down to language and
    region, which is all our files distinguish.
    """
    if not tag or not tag.strip():
        return None
    parts = tag.strip().replace("_", "-").split("-")
    language = parts[0]
    region = next((p for p in parts[1:] if len(p) == 2 or (len(p) == 3 and p.isdigit())), None)
    match = _TAG.match(f"{language}-{region}" if region else language)
    if match is None:
        return None
    lang, reg = match["lang"].lower(), match["region"]
    return f"{lang}-{reg.upper()}" if reg else lang


def base_of(tag: str) -> str:
    """The language part of a tag: ``pt-PT`` -> ``pt``."""
    return tag.split("-", 1)[0]


@cache
def supported_languages() -> tuple[str, ...]:
    """Every tag with a locale file, the reference language first, then sorted."""
    tags = sorted(path.stem for path in LOCALES_DIR.glob("*.toml"))
    if REFERENCE not in tags:
        raise ConfigError(f"{LOCALES_DIR}/{REFERENCE}.toml: the reference language is missing")
    for tag in tags:
        if canonical(tag) != tag:
            raise ConfigError(f"{LOCALES_DIR}/{tag}.toml: name it by a tag such as pt or pt-PT")
        if base_of(tag) not in tags:
            raise ConfigError(
                f"{LOCALES_DIR}/{tag}.toml: variant of {base_of(tag)!r}, which has no file"
            )
    return (REFERENCE, *(t for t in tags if t != REFERENCE))


def base_languages() -> tuple[str, ...]:
    """The supported tags that are whole languages, not regional variants."""
    return tuple(t for t in supported_languages() if "-" not in t)


@lru_cache(maxsize=1024)  # pure (the locale files are read once); walked for every string
def fallback_chain(tag: str) -> tuple[str, ...]:
    """``tag`` and the tags it falls back to, most specific first, all of them supported.

    ``es-MX`` -> ``("es-419", "es")``; ``pt-BR`` -> ``("pt",)``; ``xx`` -> ``()``.
    """
    parents: Mapping[str, str] = get_global("parent_exceptions")
    chain: list[str] = []
    current: str | None = canonical(tag)
    while current:
        if current in supported_languages() and current not in chain:
            chain.append(current)
        if "-" not in current:
            break
        parent = parents.get(current.replace("-", "_"))
        current = parent.replace("_", "-") if parent else base_of(current)
    return tuple(chain)


def resolve(tag: str | None, country: str | None = None) -> str | None:
    """The most specific supported tag for a language tag (the order's) and a destination country.

    A region in the tag wins; a bare language takes the destination's region, so ``es`` for a
    Mexican address is ``es-419`` and ``pt`` for Lisbon is ``pt-PT``. None if unsupported.
    """
    canonical_tag = canonical(tag)
    if canonical_tag is None:
        return None
    if "-" not in canonical_tag and country and len(country.strip()) == 2:
        chain = fallback_chain(f"{canonical_tag}-{country.strip().upper()}")
    else:
        chain = fallback_chain(canonical_tag)
    return chain[0] if chain else None


def require(tag: str) -> str:
    """``tag`` itself if notices can be written in it; ConfigError listing the choices if not."""
    if tag not in supported_languages():
        raise ConfigError(f"language {tag!r} is not one of {', '.join(supported_languages())}")
    return tag


def babel_locale(tag: str) -> str:
    """The Babel/CLDR locale name of a tag: ``pt-PT`` -> ``pt_PT``."""
    return tag.replace("-", "_")


@lru_cache(maxsize=256)
def cldr_locale(tag: str) -> Locale:
    """The Babel locale of a tag, parsed once: Babel parses a locale name on every call given
    one, which cost more than the formatting in a notice's dates and country names."""
    return Locale.parse(babel_locale(tag))


#: CLDR long-date patterns we replace. Russian "5 марта 2024 г." ends in an abbreviation that
#: clashes with a sentence's full stop ("г.."). Italian dates carry the weekday, as Italian shops
#: write them ("entro giovedì 11 marzo"): it needs no article, so no "il 11" for "l'11".
_DATE_PATTERNS = {"ru": "d MMMM y", "it": "EEEE d MMMM y"}
#: the year and what joins it to the day and month in CLDR's long patterns (", y", " 'de' y")
_YEAR = re.compile(r"(,\s*|\s*'de'\s*|\s*)y+(\u202f'г'\.)?")


@lru_cache(maxsize=4096)
def long_date(value: date, tag: str, *, year: bool = True) -> str:
    """A date written out as a native would in running text (French "1er décembre 2026").

    ``year=False`` leaves the year out, for the first day of a range that ends in the same year
    ("between March 1 and March 11, 2026").
    """
    base = base_of(tag)
    locale = cldr_locale(tag)
    pattern = _DATE_PATTERNS.get(base) or locale.date_formats["long"].pattern
    if not year:
        pattern = _YEAR.sub("", pattern).strip()
    text = format_date(value, pattern, locale=locale)
    if base == "fr" and value.day == 1:
        text = "1er" + text[1:]  # French writes the first day as an ordinal
    return text
