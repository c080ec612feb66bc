"""Order lines for tests: a valid ``NewShipment`` with every field a test does not care about
filled in, so a test names only what it checks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from carriers.sandbox.journeys import Journey, sandbox_number
from tracker.store.shipments import NewShipment

SHIPPED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def order(number: str, carrier: str = "sandbox", **changes: Any) -> NewShipment:
    """Ana Souza's China -> Brazil order (buyer writes Portuguese); keywords replace any field."""
    line = NewShipment(
        tracking_number=number,
        carrier=carrier,
        buyer_email="ana@buyers.example",
        buyer_name="Ana Souza",
        buyer_language="pt",
        destination_country="BR",
        origin_country="CN",
        order_reference=f"ORD-{number}",
        shipped_at=SHIPPED_AT,
    )
    return replace(line, **changes)


def journey_order(journey: Journey, serial: int, **changes: Any) -> NewShipment:
    """An order the sandbox carrier answers with ``journey``: its number encodes the journey, its
    countries are the journey's, its buyer address is unique per ``serial``."""
    return order(
        sandbox_number(journey, serial),
        **{
            "buyer_email": f"buyer{serial:03d}@example.com",
            "destination_country": journey.destination,
            "origin_country": journey.origin,
            "order_reference": f"ORD-{serial:04d}",
            **changes,
        },
    )
