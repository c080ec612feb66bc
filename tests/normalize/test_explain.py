"""Explanations exist, are translated and are filled in for every status, detail and language."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from notices.explain import explain
from notices.languages import supported_languages
from tracker.model import Detail, Status
from tracker.normalize import VALID_DETAILS

PAIRS = [(s, None) for s in Status] + [
    (s, d) for d, statuses in VALID_DETAILS.items() for s in sorted(statuses)
]


@pytest.mark.parametrize("lang", supported_languages())
@pytest.mark.parametrize(("status", "detail"), PAIRS)
def test_every_pair_has_a_translated_explanation(
    lang: str, status: Status, detail: Detail | None
) -> None:
    text = explain(status, detail, lang)
    assert text.strip()
    assert not re.search(r"[{}]", text)
    english = explain(status, detail, "en")
    if lang != "en":
        assert text != english


@pytest.mark.parametrize("lang", supported_languages())
def test_details_say_more_than_their_status(lang: str) -> None:
    for detail, statuses in VALID_DETAILS.items():
        for status in statuses:
            assert explain(status, detail, lang) != explain(status, None, lang)


def test_place_and_date_are_rendered_for_the_locale() -> None:
    when = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
    assert "5 de março de 2024" in explain(
        Status.DELIVERED, None, "pt", place="Curitiba", when=when
    )
    russian = explain(Status.DELIVERED, None, "ru", when=when)
    assert "5 марта 2024" in russian
    assert not russian.endswith("..")
    assert "Allemagne" in explain(Status.IN_TRANSIT, None, "fr", place="DE")
    assert "March 5, 2024" in explain(Status.IN_TRANSIT, None, "en", place="Leipzig", when=when)


def test_customs_explanations_say_whether_the_buyer_must_act() -> None:
    assert "do not need to do anything" in explain(
        Status.IN_TRANSIT, Detail.CUSTOMS_PROCESSING, "en"
    )
    assert "You need to act" in explain(Status.EXCEPTION, Detail.CUSTOMS_DUTIES_DUE, "en")
    assert "You may need to act" in explain(Status.EXCEPTION, Detail.CUSTOMS_HOLD, "en")


@pytest.mark.parametrize("lang", ["xx", "", "zh", "en-GB"])
def test_unsupported_language_falls_back_to_english(lang: str) -> None:
    assert explain(Status.DELIVERED, None, lang) == explain(Status.DELIVERED, None, "en")


def test_regional_variants_use_their_language() -> None:
    assert explain(Status.DELIVERED, None, "pt_BR") == explain(Status.DELIVERED, None, "pt")
