"""Ship24 Tracking API (``/public/v1``, ``Authorization: Bearer`` key): an aggregator.

Each number is asked through ``POST /public/v1/trackers/track``, which creates the tracker on
first use and returns its results (Ship24's OpenAPI 3.1 file documents it as idempotent for the
same fields, so every call sends the same ones): the courier code (``ship24_couriers.toml`` or
``options.courier_code``), the order reference as ``shipmentReference`` and the destination;
never ``recipient.email``, or Ship24 would write to the buyer itself.

Events carry Ship24's ``statusMilestone`` as their code and ``ship24`` as their carrier, so
``ship24_codes.toml`` classifies them; buyers see the courier of the latest event, not Ship24.
The courier's estimated delivery date is kept. Webhooks send the webhook secret itself in
``Authorization: Bearer <secret>``, compared in constant time; a webhook's ``events`` hold only
the events found since the previous push. Times: ``occurrenceDatetime`` is the courier's local
time, with an offset when the courier gave one; without it, it is read as UTC.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from carriers.aggregators import table_beside
from carriers.base import CarrierReply, ParcelAdapter, ParcelInfo, PushReceiver
from carriers.http import parse_timestamp, reply_json, send_for_reply
from tracker.errors import CarrierAuthError, CarrierRateLimited, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "ship24"
#: error codes Ship24 answers when the plan's quota is used up
QUOTA_CODES = frozenset({"quota_limit_reached"})
AUTH_CODES = frozenset({"auth_missing_header", "auth_invalid_header", "auth_invalid_api_key"})


class Ship24Adapter(ParcelAdapter):
    """The Ship24 aggregator."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "Ship24"
    max_numbers_per_request: ClassVar[int] = 1
    requests_per_second: ClassVar[float] = 5.0
    max_concurrency: ClassVar[int] = 4
    default_base_url: ClassVar[str] = "https://api.ship24.com/public/v1"
    required_settings: ClassVar[tuple[str, ...]] = ("api_key",)

    async def fetch_parcels(
        self, client: httpx.AsyncClient, parcels: Sequence[ParcelInfo]
    ) -> CarrierReply:
        """Create-or-read the tracker of the one parcel asked about."""
        if len(parcels) != 1:
            raise ValueError("ship24: one number per request")
        if not self.settings.api_key:
            raise CarrierAuthError("ship24: api_key is required", carrier=NAME)
        (parcel,) = parcels
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        request = client.build_request(
            "POST",
            f"{base}/trackers/track",
            json=self.creation_body(parcel),
            headers={"Authorization": f"Bearer {self.settings.api_key}"},
            timeout=self.settings.timeout_seconds,
        )
        reply = await send_for_reply(
            client,
            request,
            carrier=NAME,
            numbers=(parcel.tracking_number,),
            pass_statuses=(400, 403, 405, 422),
        )
        _raise_for_errors(reply)
        return reply

    def creation_body(self, parcel: ParcelInfo) -> dict[str, Any]:
        """The tracker's fields: the same on every call, never the buyer's contacts."""
        courier = table_beside(__file__).code_for(parcel, self.settings.options.get("courier_code"))
        optional: dict[str, Any] = {
            "shipmentReference": parcel.order_reference,
            "destinationCountryCode": parcel.destination_country,
            "originCountryCode": parcel.origin_country,
            "courierCode": [courier] if courier else None,
        }
        body: dict[str, Any] = {"trackingNumber": parcel.tracking_number}
        body.update({key: value for key, value in optional.items() if value})
        return body

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per tracking in ``data.trackings``."""
        payload = reply_json(reply, NAME)
        data = payload.get("data") if isinstance(payload, dict) else None
        trackings = data.get("trackings") if isinstance(data, dict) else None
        if not isinstance(trackings, list):
            raise ParseError("ship24: reply has no trackings", body=reply.body, carrier=NAME)
        results = [tracking_result(t) for t in trackings if isinstance(t, dict)]
        if not results and reply.numbers:
            return [TrackingResult(reply.numbers[0], not_found=True)]
        return results


def _raise_for_errors(reply: CarrierReply) -> None:
    """Ship24 names what went wrong in ``errors[].code``: quota and credentials get their own
    error types, anything else is a reply we cannot use."""
    if reply.status_code < 300:
        return
    try:
        payload = reply_json(reply, NAME)
    except ParseError:
        payload = None
    errors = payload.get("errors") if isinstance(payload, dict) else None
    codes = {str(e.get("code")) for e in errors or [] if isinstance(e, dict)}
    if codes & QUOTA_CODES:
        raise CarrierRateLimited("ship24: plan quota reached (quota_limit_reached)", carrier=NAME)
    if codes & AUTH_CODES:
        raise CarrierAuthError(
            f"ship24: credentials rejected ({', '.join(sorted(codes & AUTH_CODES))})",
            carrier=NAME,
        )
    listed = ", ".join(sorted(codes)) or "no error code"
    raise ParseError(
        f"ship24: request refused (HTTP {reply.status_code}, {listed})",
        body=reply.body,
        carrier=NAME,
    )


def tracking_result(tracking: Mapping[str, Any]) -> TrackingResult:
    """One Ship24 tracking object (API reply or webhook) as a result."""
    tracker = tracking.get("tracker") or {}
    shipment = tracking.get("shipment") or {}
    raw_events = [e for e in tracking.get("events") or [] if isinstance(e, dict)]
    events = [_event(e) for e in raw_events]
    number = tracker.get("trackingNumber") or (
        raw_events[0].get("trackingNumber") if raw_events else None
    )
    if not number:
        raise ParseError(
            "ship24: tracking without a tracking number", body=json.dumps(tracking), carrier=NAME
        )
    table = table_beside(__file__)
    latest = _latest_courier(raw_events, tracker)
    holder = table.name_of(latest)
    milestone = str(shipment.get("statusMilestone") or "")
    estimate = _estimate(shipment.get("delivery") or {})
    extra = {"status_milestone": milestone, "status_code": str(shipment.get("statusCode") or "")}
    if holder:
        extra["holder"] = holder
    if estimate is not None:
        extra["estimate_source"] = holder or "the courier"
    if tracker.get("isTracked") is False:
        extra["tracked"] = "false"
    return TrackingResult(
        tracking_number=str(number),
        events=tuple(events),
        carrier_status=milestone or None,
        expected_delivery=estimate,
        not_found=milestone in ("", "pending") and not events,
        extra=extra,
    )


def _latest_courier(events: Sequence[Mapping[str, Any]], tracker: Mapping[str, Any]) -> str | None:
    """The courier of the most recent event (events come newest first), else the tracker's."""
    for event in events:
        if event.get("courierCode"):
            return str(event["courierCode"])
    codes = tracker.get("courierCode")
    if isinstance(codes, list) and codes:
        return str(codes[0])
    return str(codes) if isinstance(codes, str) and codes else None


def _event(event: Mapping[str, Any]) -> RawEvent:
    when = str(event.get("occurrenceDatetime") or event.get("datetime") or "")
    if len(when) == 10:
        when += "T00:00:00"  # a date without a time: the start of that day
    return RawEvent(
        occurred_at=parse_timestamp(when, NAME, default_tz=UTC),
        text=str(event.get("status") or ""),
        code=event.get("statusMilestone") or None,
        location=event.get("location") or None,
        carrier=NAME,
    )


def _estimate(delivery: Mapping[str, Any]) -> datetime | None:
    """The courier's estimate: the end of its window, else its single date."""
    window = delivery.get("courierEstimatedDeliveryDate")
    candidates = [window.get("to"), window.get("from")] if isinstance(window, dict) else []
    candidates.append(delivery.get("estimatedDeliveryDate"))
    for value in candidates:
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if len(text) == 10:
                text += "T23:59:59"  # a date alone: by the end of that day
            return parse_timestamp(text, NAME, default_tz=UTC)
    return None


def verify_push(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Ship24 sends the webhook secret itself: ``Authorization: Bearer <secret>``."""
    given = headers.get("authorization", "").strip()
    expected = f"Bearer {secret}"
    return given.isascii() and hmac.compare_digest(given.encode(), expected.encode())


def parse_push(body: bytes) -> list[TrackingResult]:
    """A webhook's ``trackings`` as results (each with the events found since the last push)."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        message = f"ship24: webhook body is not JSON ({exc})"
        raise ParseError(message, body=body, carrier=NAME) from exc
    trackings = payload.get("trackings") if isinstance(payload, dict) else None
    if not isinstance(trackings, list):
        raise ParseError("ship24: webhook without trackings", body=body, carrier=NAME)
    return [tracking_result(t) for t in trackings if isinstance(t, dict)]


Ship24Adapter.push_receiver = PushReceiver(
    path="/webhooks/ship24", verify=verify_push, parse=parse_push
)
