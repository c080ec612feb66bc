"""What the buyer's page reads and writes in the store, one transaction per call (blocking; run
through ``app.in_store``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from notices.payload import NoticePayload
from tracker.errors import NoticeError
from tracker.jobs.dispatch import carrier_facing
from tracker.model import Milestone
from tracker.policy.window import carriers_date, expected_window
from tracker.runtime.app import TrackerApp
from tracker.store.models import Notice, Shipment, TrackingEvent
from tracker.store.optout import opt_out
from tracker.web.answers import answers, latest_offer, shipment_notices
from tracker.web.story import EventRecord, ParcelRecord, Window

#: the most scans a page lists (newest first); older ones are rarely news to anyone
MAX_EVENTS = 100


def load_parcel(app: TrackerApp, shipment_id: int) -> ParcelRecord | None:
    """Everything the page shows of one shipment, or None if it no longer exists."""
    with app.store() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None:
            return None
        # plain rows, not ORM objects: a page reads these and nothing else
        events = session.execute(
            select(
                TrackingEvent.occurred_at,
                TrackingEvent.text,
                TrackingEvent.location,
                TrackingEvent.country,
                TrackingEvent.status,
                TrackingEvent.detail,
            )
            .where(TrackingEvent.shipment_id == shipment_id)
            .order_by(TrackingEvent.occurred_at.desc(), TrackingEvent.id.desc())
            .limit(MAX_EVENTS)
        ).all()
        notices = shipment_notices(session, shipment_id)
        offer = latest_offer(shipment.status, notices)
        answer = answers(notices).get(offer.notice_id) if offer else None
        promised = _promised_window(notices)
        name, url = carrier_facing(
            app, shipment.carrier, shipment.tracking_number, shipment.carrier_holder
        )
        return ParcelRecord(
            shipment_id=shipment.id,
            tracking_number=shipment.tracking_number,
            carrier_name=name,
            carrier_url=url,
            order_reference=shipment.order_reference,
            buyer_email=shipment.buyer_email,
            buyer_language=shipment.buyer_language,
            destination_country=shipment.destination_country,
            origin_country=shipment.origin_country,
            status=shipment.status,
            detail=shipment.detail,
            delivered_at=shipment.delivered_at,
            window=_window(app, shipment, promised),
            events=tuple(EventRecord(*row) for row in events),
            offer=offer,
            answer=answer,
            pickup_until=_pickup_until(notices),
        )


def _promised_window(notices: list[Notice]) -> Window | None:
    """The window the last email sent promised (``notices`` newest first) and whether it gave
    the carrier's date, so the page never contradicts it."""
    milestones = {m.value for m in Milestone}
    for notice in notices:
        if notice.state != "sent" or notice.kind not in milestones:
            continue
        try:
            payload = NoticePayload.from_json(dict(notice.payload))
        except NoticeError:
            return None
        if payload.expected_by is None:
            return None
        return Window(payload.expected_from, payload.expected_by, payload.carrier_estimate)
    return None


def _pickup_until(notices: list[Notice]) -> datetime | None:
    """The collection deadline the latest sent pickup email gave (``notices`` newest first), so
    the page says the same date."""
    for notice in notices:
        if notice.state != "sent" or notice.kind != Milestone.ARRIVED_LOCALLY.value:
            continue
        try:
            until = NoticePayload.from_json(dict(notice.payload)).until
        except NoticeError:
            return None
        if until is not None:
            return until
    return None


def _window(app: TrackerApp, shipment: Shipment, promised: Window | None) -> Window:
    now = app.clock.now()
    if promised is not None and promised.by is not None and promised.by >= now:
        return promised
    limits = app.config.thresholds.for_shipment(shipment.carrier, shipment.destination_country)
    estimate = shipment.expected_delivery
    start, end = expected_window(
        Milestone.IN_TRANSIT, shipment.shipped_at, estimate, None, limits, now
    )
    if carriers_date(end, estimate, shipment.expected_delivery_source):
        return Window(None, end, carrier_estimate=True)  # the carrier's one date, as notices say
    return Window(start, end)


def unsubscribe_parcel(app: TrackerApp, shipment_id: int, via: str) -> ParcelRecord | None:
    """Put the shipment's buyer on the suppression list (as ``tracker opt-out`` does)."""
    with app.store() as session:
        shipment = session.get(Shipment, shipment_id)
        email = shipment.buyer_email if shipment is not None else None
    if email is None:
        return None
    opt_out(app.store, app.clock.now(), email=email, source=f"web:{via}")
    return load_parcel(app, shipment_id)
