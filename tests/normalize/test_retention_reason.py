"""The seller's own example from issue 12: a Russian Post retention for a high-value declaration is
customs clearance under way (the buyer acts only if customs writes), not a customs action."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.model import Detail, RawEvent, Status
from tracker.normalize import load_normalizer


@pytest.mark.parametrize(
    ("text", "status", "detail"),
    [
        (
            "Retention reason: High-value goods - customs declaration required",
            Status.IN_TRANSIT,
            Detail.CUSTOMS_PROCESSING,
        ),
        ("Retention reason: documents required", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
        ("Held by customs: documents required", Status.EXCEPTION, Detail.CUSTOMS_HOLD),
    ],
)
def test_retention_reasons(text: str, status: Status, detail: Detail) -> None:
    event = RawEvent(datetime(2026, 3, 1, tzinfo=UTC), text, country="RU")
    classification = load_normalizer().classify(event)
    assert (classification.status, classification.detail) == (status, detail)
