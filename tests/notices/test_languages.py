"""A language is its files: the supported set is what notices/locales holds, and nothing is missing.

Adding a language is adding ``notices/locales/<tag>.toml`` and ``notices/explanations/<tag>.toml``;
these tests name the file a language lacks and the keys a file lacks.
"""

from __future__ import annotations

import tomllib
from datetime import date

import pytest

from notices.compose import _range_start
from notices.explain import read_explanations
from notices.languages import (
    EXPLANATIONS_DIR,
    LOCALES_DIR,
    REFERENCE,
    base_languages,
    canonical,
    fallback_chain,
    long_date,
    resolve,
    supported_languages,
)
from notices.strings import SAMPLE, Catalog, flatten, sample_buyer


def test_the_supported_languages_are_the_locale_files() -> None:
    on_disk = {path.stem for path in LOCALES_DIR.glob("*.toml")}
    assert set(supported_languages()) == on_disk
    assert supported_languages()[0] == REFERENCE
    assert {"pt-PT", "es-419"} <= on_disk  # the variants buyers notice


@pytest.mark.parametrize("tag", supported_languages())
def test_every_language_has_its_explanations_file(tag: str) -> None:
    path = EXPLANATIONS_DIR / f"{tag}.toml"
    assert path.is_file(), f"language {tag!r} has no {path.relative_to(LOCALES_DIR.parents[1])}"


def test_no_explanations_file_without_a_language() -> None:
    orphans = {p.stem for p in EXPLANATIONS_DIR.glob("*.toml")} - set(supported_languages())
    assert orphans == set(), f"explanations without notices/locales/<tag>.toml: {sorted(orphans)}"


@pytest.mark.parametrize("tag", base_languages())
def test_base_languages_explain_everything_english_explains(tag: str) -> None:
    reference, own = read_explanations(REFERENCE), read_explanations(tag)
    for section, table in reference.items():
        missing = sorted(set(table) - set(own[section]))
        assert missing == [], f"explanations/{tag}.toml [{section}] lacks {missing}"


@pytest.mark.parametrize("tag", supported_languages())
def test_no_file_holds_keys_english_lacks(tag: str) -> None:
    reference = read_explanations(REFERENCE)
    for section, table in read_explanations(tag).items():
        assert set(table) - set(reference[section]) == set(), f"explanations/{tag}.toml"
    strings = tomllib.loads((LOCALES_DIR / f"{tag}.toml").read_text("utf-8"))
    english = tomllib.loads((LOCALES_DIR / f"{REFERENCE}.toml").read_text("utf-8"))
    strings.pop(SAMPLE, None)
    english.pop(SAMPLE, None)
    assert set(flatten(strings)) - set(flatten(english)) == set(), f"locales/{tag}.toml"


def test_a_variant_words_only_what_differs_and_falls_back_for_the_rest() -> None:
    catalog = Catalog()
    assert "pt" in fallback_chain("pt-PT")
    own = catalog.own_keys("pt-PT")
    every_key = catalog.keys()
    inherited = next(k for k in every_key if k not in own)
    assert catalog.raw("pt-PT", inherited) == catalog.raw("pt", inherited)


@pytest.mark.parametrize("tag", supported_languages())
def test_every_language_names_a_sample_buyer(tag: str) -> None:
    buyer = sample_buyer(tag)
    assert {"name", "country", "exchange", "local"} <= set(buyer)
    if "-" in tag:
        assert resolve(tag.split("-")[0], buyer["country"]) == tag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("pt_br", "pt-BR"), ("ES-419", "es-419"), ("zh-Hant-TW", "zh-TW"), ("", None), ("1x", None)],
)
def test_tags_are_read_leniently(raw: str, expected: str | None) -> None:
    assert canonical(raw) == expected


def test_cldr_parents_give_latin_american_spanish_and_european_portuguese() -> None:
    assert fallback_chain("es-MX") == ("es-419", "es")
    assert fallback_chain("pt-MZ") == ("pt-PT", "pt")
    assert fallback_chain("de-AT") == ("de",)
    assert fallback_chain("xx-YY") == ()


@pytest.mark.parametrize(
    ("tag", "same_year", "across_years"),
    [
        (
            "en",
            "between March 1 and March 11, 2026",
            "between December 28, 2026 and January 5, 2027",
        ),
        ("ru", "с 1 марта по 11 марта 2026", "с 28 декабря 2026 по 5 января 2027"),
        (
            "pt",
            "entre 1 de março e 11 de março de 2026",
            "entre 28 de dezembro de 2026 e 5 de janeiro de 2027",
        ),
    ],
)
def test_a_window_gives_its_year_once_unless_it_spans_two(
    tag: str, same_year: str, across_years: str
) -> None:
    def window(start: date, end: date) -> str:
        first, last = _range_start(start, end, tag), long_date(end, tag)
        return {"en": f"between {first} and {last}", "ru": f"с {first} по {last}"}.get(
            tag, f"entre {first} e {last}"
        )

    assert window(date(2026, 3, 1), date(2026, 3, 11)) == same_year
    assert window(date(2026, 12, 28), date(2027, 1, 5)) == across_years
