"""Helpers for the buyer-notice command and delivery tests: a store with one shipment, a config
that sends through the loopback SMTP server, and notices queued the way the policy queues them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.support.orders import order
from tests.support.smtp import SmtpSink
from tracker.config import (
    MailConfig,
    QuietHoursConfig,
    RefundConfig,
    SmtpConfig,
    StoreConfig,
    TrackerConfig,
)
from tracker.store.db import open_store
from tracker.store.history import PendingWrites, ShipmentHistory
from tracker.store.models import Notice, Shipment
from tracker.store.shipments import NewShipment, NoticeDraft, add_shipments

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
CHOICES = ["resend", "refund", "keep_waiting"]


def shipment(number: str = "SBNM00000001", **changes: Any) -> NewShipment:
    """A China -> Brazil order of Ana's, shipped 46 days before T0."""
    return order(
        number, **{"order_reference": "ORD-1001", "shipped_at": T0 - timedelta(days=46), **changes}
    )


def smtp_config(
    tmp_path: Path, smtp: SmtpSink, *, refund: RefundConfig | None = None
) -> TrackerConfig:
    """SQLite in ``tmp_path``, mail to the loopback server, no quiet hours unless a test wants."""
    return TrackerConfig(
        store=StoreConfig(url=f"sqlite:///{tmp_path / 'tracker.sqlite3'}"),
        mail=MailConfig(
            transport="smtp",
            smtp=SmtpConfig(host="127.0.0.1", port=smtp.port),
            retry_backoff=timedelta(minutes=5),
        ),
        quiet_hours=QuietHoursConfig(enabled=False),
        refund=refund or RefundConfig(choices=CHOICES),
    )


def queue(url: str, shipment_id: int, kind: str, payload: dict[str, Any] | None = None) -> None:
    """Queue one notice for ``shipment_id``, due at T0, as the policy would."""
    factory = open_store(url)
    with factory.begin() as session:
        row = session.get(Shipment, shipment_id)
        assert row is not None
        writes = PendingWrites()
        writes.add_notices(
            row,
            ShipmentHistory(),
            [NoticeDraft(kind=kind, key=kind, not_before=T0, payload=payload or base_payload())],
            T0,
        )
        writes.flush(session)


def base_payload(choices: list[str] | None = None) -> dict[str, Any]:
    """What transitions.py snapshots for a refund offer or delay."""
    return {
        "reason": None,
        "expected_from": (T0 + timedelta(days=5)).isoformat(),
        "expected_by": (T0 + timedelta(days=10)).isoformat(),
        "choices": CHOICES if choices is None else choices,
        "event": {
            "occurred_at": (T0 - timedelta(days=30)).isoformat(),
            "text": "Presented to import customs",
            "place": "Curitiba International Mail Centre",
            "country": "BR",
            "status": "in_transit",
            "detail": "customs_processing",
        },
    }


def notices(url: str) -> list[Notice]:
    """Every outbox row, oldest first, detached."""
    factory = open_store(url)
    with factory() as session:
        rows = list(session.scalars(select(Notice).order_by(Notice.id)))
        session.expunge_all()
        return rows


def stored(url: str, *items: NewShipment) -> list[int]:
    """Add ``items`` to the store at ``url``."""
    return add_shipments(open_store(url), list(items), T0)
