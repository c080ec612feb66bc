"""Which language a page speaks: ``?lang=``, then the order's language, then the browser's
``Accept-Language``, then the destination country's language, then the seller's default.

Each candidate is resolved as the notices resolve languages (``notices.languages``): a tag's
region wins (``pt-BR`` stays Brazilian), a bare language takes the destination's region (``pt``
for Lisbon is ``pt-PT``). ``lang`` picks the wording; the page's ``lang`` attribute and its dates
keep the most precise tag known (``pt-BR``, ``de-AT``).
"""

from __future__ import annotations

from dataclasses import dataclass

from babel import Locale, UnknownLocaleError

from notices.countries import choose_language
from notices.languages import babel_locale, canonical, resolve

MAX_ACCEPT_LANGUAGE = 512


@dataclass(frozen=True, slots=True)
class PageLocale:
    """``lang`` picks the wording; ``tag`` goes in ``<html lang>``; ``babel`` formats dates."""

    lang: str
    tag: str
    babel: str


def accepted_languages(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, best first (q=0 dropped, bad entries ignored)."""
    if not header or len(header) > MAX_ACCEPT_LANGUAGE:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            ranked.append((-quality, position, tag.strip()))
    return [tag for _q, _p, tag in sorted(ranked)]


def page_locale(
    query: str | None,
    order_language: str | None,
    accept_language: str | None,
    destination_country: str | None,
    default: str,
) -> PageLocale:
    """The page's language by the order of precedence in the module docstring."""
    country = (destination_country or "").strip().upper() or None
    for candidate in (query, order_language, *accepted_languages(accept_language)):
        lang = resolve(candidate, country) if candidate and len(candidate) <= 35 else None
        if lang is not None:
            return _locale(lang, canonical(candidate), country)
    lang = choose_language(None, country, default)
    return _locale(lang, None, country)


def _speaks(country: str, lang: str) -> bool:
    """True when ``lang`` is the destination's own language: asked with two different
    defaults, the country answers ``lang`` both times only if its language decides."""
    return choose_language(None, country, "en") == lang == choose_language(None, country, "de")


def _locale(lang: str, asked: str | None, country: str | None) -> PageLocale:
    """The most precise tag Babel knows: the asked tag's region, else the destination's when
    its main language is this one, else the resolved tag itself."""
    candidates = []
    if asked and "-" in asked and asked.split("-")[0] == lang.split("-")[0]:
        candidates.append(asked)
    if country and _speaks(country, lang):
        candidates.append(f"{lang.split('-')[0]}-{country}")
    for tag in (*candidates, lang):
        try:
            Locale.parse(babel_locale(tag))
        except (UnknownLocaleError, ValueError):
            continue
        return PageLocale(lang, tag, babel_locale(tag))
    return PageLocale(lang, lang, babel_locale(lang))
