"""Latin text whose event names no country: its function words pick the rules tried first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.model import RawEvent, Status
from tracker.normalize import fold, load_normalizer
from tracker.normalize.folding import latin_country_hint


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("Le colis est en cours de livraison", "FR"),
        ("O objeto foi entregue ao destinatário", "PT"),
        ("Die Sendung wurde nicht zugestellt", "DE"),
        ("El paquete fue entregado por el cartero", "ES"),
        ("Przesyłka nie została doręczona", "PL"),
        ("Kargonuz alıcı şubesinde teslim edildi", "TR"),
    ],
)
def test_function_words_name_the_language(text: str, country: str) -> None:
    assert latin_country_hint(fold(text)) == country


@pytest.mark.parametrize(
    "text",
    [
        "The parcel has been delivered",  # English is tried first without a hint
        "Colis",  # one word is too little to decide
        "Delivered to the depot, le service",  # one marker each: a tie decides nothing
    ],
)
def test_no_hint_without_clear_evidence(text: str) -> None:
    assert latin_country_hint(fold(text)) is None


def test_portuguese_without_a_country_meets_portuguese_rules_first() -> None:
    """'transporte' half-matches the English catch-all "in transit"; the Portuguese rule for an
    item that cannot travel is the right one (corpus row, Correios)."""
    normalizer = load_normalizer(cache_size=0)
    text = "Objeto contém líquido, impossibilitando seu transporte"
    event = RawEvent(datetime(2024, 5, 1, tzinfo=UTC), text, None, carrier="unheard-of-carrier")
    assert normalizer.classify(event).status is Status.EXCEPTION
