"""Cyrillic text is tried against the Russian or the Ukrainian rules first by its letters."""

from __future__ import annotations

import pytest

from tracker.normalize.folding import fold, language_order, script_lang


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Посилка прибула до відділення", "uk"),  # і
        ("Їде до вас", "uk"),  # ї, folded to і
        ("Є затримка", "uk"),  # є
        ("Ґрунтовна перевірка", "uk"),  # ґ
        ("Посылка прибыла в отделение", "ru"),
        ("Вручено", "ru"),  # no letter of one language alone: Russian first, as before
    ],
)
def test_ukrainian_letters_put_the_ukrainian_rules_first(text: str, first: str) -> None:
    folded = fold(text)
    assert script_lang(folded) == first
    order = language_order(folded, None)
    assert order[:2] == (first, "ru" if first == "uk" else "uk")
