"""USPS Tracking API v3 (OAuth2 client credentials): one number per request.

Times: each event carries ``GMTTimestamp`` (UTC) and ``GMTOffset`` (the scan's local offset); we
keep the instant and show it in the scan's offset. Without ``GMTTimestamp`` the local
``eventTimestamp`` is read with ``GMTOffset``, else as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings
from carriers.http import parse_timestamp, reply_json
from carriers.oauth import TokenCache, send_with_token
from tracker.errors import ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "usps"


class USPSAdapter(CarrierAdapter):
    """USPS domestic and inbound international tracking."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "USPS"
    max_numbers_per_request: ClassVar[int] = 1
    #: the default quota of a new USPS API app is 60 requests per hour
    requests_per_second: ClassVar[float] = 60 / 3600
    max_concurrency: ClassVar[int] = 1
    tracking_url_template: ClassVar[str | None] = (
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}"
    )
    default_base_url: ClassVar[str] = "https://apis.usps.com"

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        self.base_url = base
        self.tokens = TokenCache(
            f"{base}/oauth2/v3/token",
            self.settings.client_id,
            self.settings.client_secret,
            carrier=NAME,
        )

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """GET /tracking/v3/tracking/{number}?expand=DETAIL with a bearer token."""
        (number,) = numbers
        url = f"{self.base_url}/tracking/v3/tracking/{quote(number)}"

        def build(token: str) -> httpx.Request:
            return client.build_request(
                "GET",
                url,
                params={"expand": "DETAIL"},
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                timeout=self.settings.timeout_seconds,
            )

        return await send_with_token(
            client, self.tokens, build, numbers=(number,), pass_statuses=(400, 404)
        )

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result; a 400/404 error body means the number is unknown to USPS."""
        data = reply_json(reply, NAME)
        if not isinstance(data, dict):
            raise ParseError("usps: reply is not a JSON object", body=reply.body, carrier=NAME)
        number = str(data.get("trackingNumber") or (reply.numbers[0] if reply.numbers else ""))
        if "error" in data or reply.status_code in (400, 404):
            return [_not_found(number, data)]
        if "trackingEvents" not in data:
            raise ParseError(
                "usps: reply has neither trackingEvents nor error", body=reply.body, carrier=NAME
            )
        events = tuple(_event(e) for e in data.get("trackingEvents") or [])
        return [
            TrackingResult(
                tracking_number=number,
                events=events,
                carrier_status=data.get("statusCategory") or data.get("status"),
                expected_delivery=_expected(data),
                extra=_extra(data),
            )
        ]


def _not_found(number: str, data: Mapping[str, Any]) -> TrackingResult:
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    return TrackingResult(tracking_number=number, not_found=True, extra={"error": str(message)})


def _offset(text: str | None) -> tzinfo | None:
    if not text:
        return None
    sign = -1 if text.startswith("-") else 1
    hours, _, minutes = text.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def _when(event: Mapping[str, Any]) -> datetime:
    local = _offset(event.get("GMTOffset"))
    if event.get("GMTTimestamp"):
        instant = parse_timestamp(event["GMTTimestamp"], NAME)
        return instant.astimezone(local) if local else instant
    if event.get("eventTimestamp"):
        return parse_timestamp(event["eventTimestamp"], NAME, default_tz=local or UTC)
    raise ParseError("usps: event without a timestamp", body=str(event), carrier=NAME)


def _event(event: Mapping[str, Any]) -> RawEvent:
    city, state, zip_code = event.get("eventCity"), event.get("eventState"), event.get("eventZIP")
    place = ", ".join(p for p in (city, " ".join(p for p in (state, zip_code) if p)) if p)
    country = event.get("eventCountry")
    if not country and (state or zip_code):
        country = "US"
    return RawEvent(
        occurred_at=_when(event),
        text=str(event.get("eventType") or ""),
        code=event.get("eventCode") or None,
        location=place or None,
        country=country.upper() if isinstance(country, str) and len(country) == 2 else None,
        carrier=NAME,
    )


def _expected(data: Mapping[str, Any]) -> datetime | None:
    for key in ("expectedDeliveryDate", "predictedDeliveryDate", "expectedDeliveryTimeStamp"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return parse_timestamp(value, NAME)
    return None


def _extra(data: Mapping[str, Any]) -> dict[str, str]:
    keys = ("mailClass", "statusSummary", "destinationCity", "destinationState", "destinationZIP")
    return {k: str(data[k]) for k in keys if data.get(k)}
