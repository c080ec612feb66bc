"""Plain-language explanations of a status and detail, for a worried buyer, in the buyer's language.

The sentences live in ``notices/explanations/<lang>.toml`` (data, not code); place and date are
rendered for the locale with Babel.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import lru_cache
from importlib import resources

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from tracker.errors import ConfigError
from tracker.model import Detail, Status

SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "ru", "fr", "de", "it", "pl")
DEFAULT_LANGUAGE = "en"


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


def normalize_language(lang: str | None) -> str:
    """``"pt_BR"``, ``"pt-br"`` or ``"PT"`` -> ``"pt"``; anything unsupported -> ``"en"``."""
    base = (lang or "").replace("-", "_").split("_", 1)[0].casefold()
    return base if base in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def _context(
    texts: dict[str, dict[str, str]], lang: str, place: str | None, when: datetime | None
) -> str:
    where = _place_name(place, lang) if place and place.strip() else None
    date = format_date(when, format="long", locale=lang) if when is not None else None
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
    # some locales end a long date with an abbreviation ("5 марта 2024 г.")
    return text.replace("..", ".")


def _place_name(place: str, lang: str) -> str:
    """A bare ISO country code becomes the country's name in ``lang``; other places pass through."""
    place = place.strip()
    if len(place) == 2 and place.isalpha():
        try:
            name = Locale.parse(lang).territories.get(place.upper())
        except (UnknownLocaleError, ValueError):
            name = None
        return str(name) if name else place
    return place


@lru_cache(maxsize=len(SUPPORTED_LANGUAGES))
def _texts(lang: str) -> dict[str, dict[str, str]]:
    name = f"{lang}.toml"
    source = resources.files("notices.explanations").joinpath(name).read_text("utf-8")
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"notices/explanations/{name}: not valid TOML: {exc}") from exc
    for section in ("status", "detail", "context"):
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"notices/explanations/{name}: missing [{section}] table")
    return {section: dict(data[section]) for section in ("status", "detail", "context")}
