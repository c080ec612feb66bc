"""Plain-language explanations of a status and detail, for a worried buyer, in the buyer's language.

The sentences live in ``notices/explanations/<lang>.toml`` (data, not code); a regional variant's
file (``pt-PT``) holds only the sentences it words differently. Place and date are rendered for the
locale with Babel.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache

from babel import UnknownLocaleError

from notices.languages import (
    EXPLANATIONS_DIR,
    REFERENCE,
    cldr_locale,
    fallback_chain,
    long_date,
    resolve,
)
from tracker.errors import ConfigError
from tracker.model import Detail, Status

SECTIONS = ("status", "detail", "context", "event")


def explain(
    status: Status,
    detail: Detail | None,
    lang: str,
    *,
    place: str | None = None,
    when: datetime | None = None,
) -> str:
    """One or two plain sentences about ``status``/``detail``, plus where and when if known."""
    lang = normalize_language(lang)
    texts = _texts(lang)
    key = f"{status.value}.{detail.value}" if detail is not None else status.value
    sentence = texts["detail"].get(key) or texts["status"][status.value]
    context = _context(texts, lang, place, when)
    return f"{sentence} {context}" if context else sentence


def event_label(status: Status, detail: Detail | None, lang: str) -> str:
    """What happened, in one short past-tense sentence in ``lang`` (a notice's evidence line)."""
    events = _texts(normalize_language(lang))["event"]
    key = f"{status.value}.{detail.value}" if detail is not None else status.value
    return events.get(key) or events.get(status.value, "")


def normalize_language(lang: str | None) -> str:
    """``"pt_BR"`` -> ``"pt"``, ``"es-MX"`` -> ``"es-419"``; anything unsupported -> ``"en"``."""
    return resolve(lang) or REFERENCE


def _context(
    texts: dict[str, dict[str, str]], lang: str, place: str | None, when: datetime | None
) -> str:
    where = _place_name(place, lang) if place and place.strip() else None
    date = long_date(when.date(), lang) if when is not None else None
    if where and date:
        template = texts["context"]["place_and_date"]
    elif where:
        template = texts["context"]["place"]
    elif date:
        template = texts["context"]["date"]
    else:
        return ""
    # replace(), not format(): a place may contain braces
    text = template.replace("{place}", where or "").replace("{when}", date or "")
    return text


def _place_name(place: str, lang: str) -> str:
    """A bare ISO country code becomes the country's name in ``lang``; other places pass through."""
    place = place.strip()
    if len(place) == 2 and place.isalpha():
        try:
            name = cldr_locale(lang).territories.get(place.upper())
        except (UnknownLocaleError, ValueError):
            name = None
        return str(name) if name else place
    return place


def read_explanations(tag: str) -> dict[str, dict[str, str]]:
    """The sections of ``notices/explanations/<tag>.toml`` exactly as the file has them."""
    path = EXPLANATIONS_DIR / f"{tag}.toml"
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"notices/explanations/{tag}.toml: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"notices/explanations/{tag}.toml: not valid TOML: {exc}") from exc
    sections: dict[str, dict[str, str]] = {}
    for section in SECTIONS:
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"notices/explanations/{tag}.toml: [{section}] must be a table")
        sections[section] = {str(k): str(v) for k, v in table.items()}
    return sections


@cache
def _texts(lang: str) -> dict[str, dict[str, str]]:
    """The language's sentences, a variant's own over its base language's."""
    merged: dict[str, dict[str, str]] = {section: {} for section in SECTIONS}
    for tag in reversed(fallback_chain(lang)):
        for section, table in read_explanations(tag).items():
            merged[section].update(table)
    for section in SECTIONS:
        if not merged[section]:
            raise ConfigError(f"notices/explanations/{lang}.toml: missing [{section}] table")
    return merged
