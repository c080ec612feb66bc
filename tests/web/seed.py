"""A store with three parcels a buyer's page can tell about, written through the real models:
a delayed parcel to Brazil with an open offer, a parcel waiting at a German post office, and a
parcel delivered in Poland."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from notices.payload import EventSummary, NoticePayload
from tracker.model import Detail, Status
from tracker.runtime.app import TrackerApp
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.shipments import NewShipment, add_shipments

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
LINK_KEY = "test-link-key-0123456789abcdef"
OPS_TOKEN = "ops-token-for-tests-0123456789"


@dataclass(frozen=True)
class Seeded:
    """Ids of the seeded parcels and of the open offer."""

    delayed: int
    pickup: int
    delivered: int
    offer_notice: int


def web_config(tmp_path: Path, *, extra: str = "") -> Path:
    path = tmp_path / "tracker.toml"
    path.write_text(
        f"""
[store]
url = "sqlite:///{tmp_path / "tracker.sqlite3"}"
[mail]
maildir = "{tmp_path / "mail"}"
[seller]
store_name = "Aurora Presentes"
sender = "Aurora Presentes <orders@aurora.example>"
reply_to = "help@aurora.example"
support_url = "https://aurora.example/help"
signature = "Equipe Aurora"
[refund]
notify_seller_email = "owner@aurora.example"
[carriers.sandbox]
base_url = "http://127.0.0.1:9"
[web]
port = 0
public_url = "https://track.aurora.example"
link_keys_env = "TEST_WEB_KEYS"
ops_token_env = "TEST_OPS_TOKEN"
header_timeout = "5s"
body_timeout = "2s"
lookup_limit = 3
{extra}
""",
        encoding="utf-8",
    )
    return path


def _shipment(
    number: str, email: str, name: str, lang: str | None, country: str, order: str
) -> NewShipment:
    return NewShipment(
        tracking_number=number,
        carrier="sandbox",
        buyer_email=email,
        buyer_name=name,
        buyer_language=lang,
        destination_country=country,
        origin_country="CN",
        order_reference=order,
        shipped_at=NOW - timedelta(days=30),
    )


def _event(
    shipment_id: int,
    days_ago: float,
    text: str,
    where: str | None,
    status: Status,
    detail: Detail | None,
) -> TrackingEvent:
    at = NOW - timedelta(days=days_ago)
    return TrackingEvent(
        shipment_id=shipment_id,
        fingerprint=f"{shipment_id}-{days_ago}",
        occurred_at=at,
        code=None,
        text=text,
        location=where,
        country=None,
        carrier="sandbox",
        status=status.value,
        detail=detail.value if detail else None,
        rule=None,
        recorded_at=at,
    )


def seed(app: TrackerApp) -> Seeded:
    """Write the three parcels, their scans and the delayed parcel's sent offer."""
    delayed, pickup, delivered = add_shipments(
        app.store,
        [
            _shipment(
                "SB000000001CN", "ana.souza@example.com", "Ana Souza", "pt-BR", "BR", "AUR-1001"
            ),
            _shipment("SB000000002CN", "jonas@example.de", "Jonas Weber", None, "DE", "AUR-1002"),
            _shipment("SB000000003CN", "zofia@example.pl", "Zofia Nowak", "pl", "PL", "AUR-1003"),
        ],
        NOW - timedelta(days=30),
    )
    with app.store.begin() as session:
        session.add_all(
            [
                _event(delayed, 28, "Acceptance", "SHENZHEN", Status.IN_TRANSIT, Detail.ACCEPTED),
                _event(
                    delayed,
                    20,
                    "Arrival at inward office of exchange",
                    "CURITIBA",
                    Status.IN_TRANSIT,
                    Detail.ARRIVED_DESTINATION_COUNTRY,
                ),
                _event(
                    delayed,
                    18,
                    "Objeto retido pela fiscalização aduaneira",
                    "CURITIBA",
                    Status.EXCEPTION,
                    Detail.CUSTOMS_HOLD,
                ),
                _event(
                    pickup,
                    25,
                    "Posting/collection",
                    "GUANGZHOU",
                    Status.IN_TRANSIT,
                    Detail.ACCEPTED,
                ),
                _event(
                    pickup,
                    1,
                    "Sendung liegt in der Filiale zur Abholung bereit",
                    "Filiale Berlin 10115",
                    Status.AVAILABLE_FOR_PICKUP,
                    Detail.ARRIVED_DELIVERY_OFFICE,
                ),
                _event(
                    delivered,
                    22,
                    "Przyjęcie przesyłki",
                    "SHANGHAI",
                    Status.IN_TRANSIT,
                    Detail.ACCEPTED,
                ),
                _event(delivered, 2, "Doręczono", "WARSZAWA", Status.DELIVERED, None),
            ]
        )
        session.execute(
            update(Shipment)
            .where(Shipment.id == delayed)
            .values(
                status="exception", detail="customs_hold", last_event_at=NOW - timedelta(days=18)
            )
        )
        session.execute(
            update(Shipment)
            .where(Shipment.id == pickup)
            .values(
                status="available_for_pickup",
                detail="arrived_delivery_office",
                last_event_at=NOW - timedelta(days=1),
            )
        )
        session.execute(
            update(Shipment)
            .where(Shipment.id == delivered)
            .values(
                status="delivered",
                delivered_at=NOW - timedelta(days=2),
                last_event_at=NOW - timedelta(days=2),
            )
        )
        payload = NoticePayload(
            reason="exception",
            event=EventSummary(
                NOW - timedelta(days=18),
                "Objeto retido",
                "CURITIBA",
                "BR",
                Status.EXCEPTION,
                Detail.CUSTOMS_HOLD,
            ),
            expected_from=NOW + timedelta(days=3),
            expected_by=NOW + timedelta(days=9),
            choices=("keep_waiting", "resend", "refund"),
        )
        offer = Notice(
            shipment_id=delayed,
            kind="delayed",
            idempotency_key=f"{delayed}:delayed:1",
            state="sent",
            payload=payload.to_json(),
            created_at=NOW - timedelta(days=1),
            not_before=NOW - timedelta(days=1),
            attempts=1,
            sent_at=NOW - timedelta(days=1),
        )
        session.add(offer)
        session.flush()
        offer_id = offer.id
    return Seeded(delayed, pickup, delivered, offer_id)
