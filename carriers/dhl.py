"""DHL Shipment Tracking - Unified API: one API key for Express, Parcel, eCommerce, Freight.

``GET /track/shipments?trackingNumber=...`` with the ``DHL-API-Key`` header. Times usually carry
an offset; when one does not, the event's country decides the zone when it has only one, else UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from carriers.base import CarrierAdapter, CarrierReply
from carriers.http import parse_timestamp, reply_json, send_for_reply, zone_for_country
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "dhl"


class DHLAdapter(CarrierAdapter):
    """DHL Express, DHL Parcel/Deutsche Post and DHL eCommerce through the Unified API."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "DHL"
    max_numbers_per_request: ClassVar[int] = 1
    #: the default unified-API plan allows one call every 5 seconds (250 a day)
    requests_per_second: ClassVar[float] = 0.2
    max_concurrency: ClassVar[int] = 1
    tracking_url_template: ClassVar[str | None] = (
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={number}"
    )
    default_base_url: ClassVar[str] = "https://api-eu.dhl.com"

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """One number per call; ``service`` in settings options narrows the search."""
        if not self.settings.api_key:
            raise CarrierAuthError("dhl: api_key is required", carrier=NAME)
        (number,) = numbers
        params = {"trackingNumber": number}
        if self.settings.options.get("service"):
            params["service"] = self.settings.options["service"]
        if self.settings.options.get("language"):
            params["language"] = self.settings.options["language"]
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        request = client.build_request(
            "GET",
            f"{base}/track/shipments",
            params=params,
            headers={"DHL-API-Key": self.settings.api_key, "Accept": "application/json"},
            timeout=self.settings.timeout_seconds,
        )
        return await send_for_reply(
            client, request, carrier=NAME, numbers=(number,), pass_statuses=(404,)
        )

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per shipment; a 404 problem body means DHL does not know the number."""
        data = reply_json(reply, NAME)
        if not isinstance(data, dict):
            raise ParseError("dhl: reply is not a JSON object", body=reply.body, carrier=NAME)
        fallback = reply.numbers[0] if reply.numbers else ""
        if "shipments" not in data:
            if data.get("status") == 404 or reply.status_code == 404:
                detail = str(data.get("detail") or data.get("title") or "not found")
                return [
                    TrackingResult(
                        tracking_number=fallback, not_found=True, extra={"error": detail}
                    )
                ]
            raise ParseError(
                f"dhl: unexpected reply {data.get('title')!r}", body=reply.body, carrier=NAME
            )
        return [_shipment(s, fallback) for s in data["shipments"] or []]


def _shipment(shipment: Mapping[str, Any], fallback: str) -> TrackingResult:
    status = shipment.get("status") or {}
    expected = shipment.get("estimatedTimeOfDelivery")
    return TrackingResult(
        tracking_number=str(shipment.get("id") or fallback),
        events=tuple(_event(e) for e in shipment.get("events") or []),
        carrier_status=status.get("statusCode") or status.get("status"),
        expected_delivery=parse_timestamp(expected, NAME) if expected else None,
        extra={k: str(shipment[k]) for k in ("service",) if shipment.get(k)},
    )


def _event(event: Mapping[str, Any]) -> RawEvent:
    address = (event.get("location") or {}).get("address") or {}
    country = address.get("countryCode") or None
    place = " ".join(
        str(p) for p in (address.get("postalCode"), address.get("addressLocality")) if p
    )
    text = event.get("description") or event.get("status") or event.get("remark") or ""
    return RawEvent(
        occurred_at=_when(str(event.get("timestamp") or ""), country),
        text=str(text),
        code=event.get("statusCode") or None,
        location=place or None,
        country=country,
        carrier=NAME,
    )


def _when(value: str, country: str | None) -> datetime:
    return parse_timestamp(value, NAME, default_tz=zone_for_country(country) or UTC)
