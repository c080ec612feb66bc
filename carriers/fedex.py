"""FedEx Track API (OAuth2 client credentials): ``POST /track/v1/trackingnumbers``, 30 per request.

Times: scan ``date`` values carry the scan's UTC offset, which we keep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar

import httpx

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings
from carriers.http import parse_timestamp, reply_json, zone_for_country
from carriers.oauth import TokenCache, send_with_token
from tracker.errors import ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "fedex"
_EPOCH = datetime.min.replace(tzinfo=UTC)


class FedExAdapter(CarrierAdapter):
    """FedEx Express, Ground and freight tracking numbers."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "FedEx"
    max_numbers_per_request: ClassVar[int] = 30
    requests_per_second: ClassVar[float] = 1.0
    max_concurrency: ClassVar[int] = 2
    tracking_url_template: ClassVar[str | None] = (
        "https://www.fedex.com/fedextrack/?trknbr={number}"
    )
    default_base_url: ClassVar[str] = "https://apis.fedex.com"

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        self.base_url = (self.settings.base_url or self.default_base_url).rstrip("/")
        self.tokens = TokenCache(
            f"{self.base_url}/oauth/token",
            self.settings.client_id,
            self.settings.client_secret,
            carrier=NAME,
        )

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """Up to 30 numbers in one request, with detailed scans."""
        body = {
            "includeDetailedScans": True,
            "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": n}} for n in numbers],
        }

        def build(token: str) -> httpx.Request:
            headers = {"Authorization": f"Bearer {token}", "X-locale": "en_US"}
            return client.build_request(
                "POST",
                f"{self.base_url}/track/v1/trackingnumbers",
                json=body,
                headers=headers,
                timeout=self.settings.timeout_seconds,
            )

        return await send_with_token(
            client, self.tokens, build, numbers=tuple(numbers), pass_statuses=(400, 404)
        )

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per number; when FedEx returns several shipments for one number (numbers are
        reused), the one with the most recent scan wins and the count goes in ``extra``."""
        data = reply_json(reply, NAME)
        if not isinstance(data, dict):
            raise ParseError("fedex: reply is not a JSON object", body=reply.body, carrier=NAME)
        output = data.get("output")
        if not isinstance(output, dict):
            errors = data.get("errors") or [{"message": "reply has no output"}]
            message = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
            raise ParseError(f"fedex: {message}", body=reply.body, carrier=NAME)
        return [_complete(c) for c in output.get("completeTrackResults") or []]


def _complete(complete: Mapping[str, Any]) -> TrackingResult:
    number = str(complete.get("trackingNumber") or "")
    results = [_result(number, r) for r in complete.get("trackResults") or []]
    if not results:
        return TrackingResult(tracking_number=number, not_found=True)
    best = max(
        results,
        key=lambda r: max((e.occurred_at for e in r.events), default=_EPOCH),
    )
    if len(results) > 1:
        best.extra["shipments_with_this_number"] = str(len(results))
    return best


def _result(number: str, result: Mapping[str, Any]) -> TrackingResult:
    events = tuple(_scan(e) for e in result.get("scanEvents") or [])
    error = result.get("error") or {}
    if not events and str(error.get("code", "")).endswith("NOTFOUND"):
        return TrackingResult(
            tracking_number=number, not_found=True, extra={"error": str(error.get("message"))}
        )
    latest = result.get("latestStatusDetail") or {}
    return TrackingResult(
        tracking_number=number,
        events=events,
        carrier_status=latest.get("description") or latest.get("code"),
        expected_delivery=_expected(result),
        extra={"service": str((result.get("serviceDetail") or {}).get("description") or "")},
    )


def _scan(scan: Mapping[str, Any]) -> RawEvent:
    where = scan.get("scanLocation") or {}
    country = where.get("countryCode") or None
    place = ", ".join(str(p) for p in (where.get("city"), where.get("stateOrProvinceCode")) if p)
    text = str(scan.get("eventDescription") or "")
    if scan.get("exceptionDescription"):
        text = (
            f"{text}: {scan['exceptionDescription']}" if text else str(scan["exceptionDescription"])
        )
    return RawEvent(
        occurred_at=parse_timestamp(str(scan.get("date") or ""), NAME, default_tz=_zone(country)),
        text=text,
        code=scan.get("eventType") or None,
        location=place or None,
        country=country,
        carrier=NAME,
    )


def _zone(country: str | None) -> tzinfo:
    return zone_for_country(country) or UTC


def _expected(result: Mapping[str, Any]) -> datetime | None:
    for entry in result.get("dateAndTimes") or []:
        if entry.get("type") in ("ESTIMATED_DELIVERY", "APPOINTMENT_DELIVERY") and entry.get(
            "dateTime"
        ):
            return parse_timestamp(entry["dateTime"], NAME)
    window = (result.get("estimatedDeliveryTimeWindow") or {}).get("window") or {}
    value = window.get("ends") or window.get("begins")
    return parse_timestamp(value, NAME) if value else None
