"""UPS Track API (OAuth2 client credentials): ``GET /api/track/v1/details/{number}``.

Times: activities carry local ``date``/``time``; when UPS adds ``gmtDate``/``gmtTime``/``gmtOffset``
we use them. Without them the activity's country decides the zone when it has only one,
else the time is read as UTC (documented guess; the normalizer only orders events by it).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings
from carriers.http import reply_json, zone_for_country
from carriers.oauth import TokenCache, send_with_token
from tracker.errors import ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "ups"
#: warnings and errors that mean "UPS does not know this number (yet)"
NOT_FOUND_CODES = frozenset({"TW0001", "TV1002", "TW0002", "TV1001"})


class UPSAdapter(CarrierAdapter):
    """UPS parcels (1Z numbers, waybills, mail innovations)."""

    name: ClassVar[str] = NAME
    display_name: ClassVar[str] = "UPS"
    max_numbers_per_request: ClassVar[int] = 1
    requests_per_second: ClassVar[float] = 5.0
    max_concurrency: ClassVar[int] = 4
    tracking_url_template: ClassVar[str | None] = "https://www.ups.com/track?tracknum={number}"
    default_base_url: ClassVar[str] = "https://onlinetools.ups.com"

    def __init__(self, settings: CarrierSettings | None = None) -> None:
        super().__init__(settings)
        self.base_url = (self.settings.base_url or self.default_base_url).rstrip("/")
        self.tokens = TokenCache(
            f"{self.base_url}/security/v1/oauth/token",
            self.settings.client_id,
            self.settings.client_secret,
            carrier=NAME,
            credentials_in="basic",
        )

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """One inquiry number per request, with the transId/transactionSrc headers UPS asks for."""
        (number,) = numbers
        url = f"{self.base_url}/api/track/v1/details/{quote(number)}"

        def build(token: str) -> httpx.Request:
            headers = {
                "Authorization": f"Bearer {token}",
                "transId": uuid.uuid4().hex[:32],
                "transactionSrc": "parcel-tracker",
                "Accept": "application/json",
            }
            params = {"locale": "en_US", "returnSignature": "false"}
            return client.build_request(
                "GET", url, params=params, headers=headers, timeout=self.settings.timeout_seconds
            )

        return await send_with_token(
            client, self.tokens, build, numbers=(number,), pass_statuses=(400, 404)
        )

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """One result per package; warnings/errors meaning "unknown number" give ``not_found``."""
        data = reply_json(reply, NAME)
        if not isinstance(data, dict):
            raise ParseError("ups: reply is not a JSON object", body=reply.body, carrier=NAME)
        fallback = reply.numbers[0] if reply.numbers else ""
        errors = (data.get("response") or {}).get("errors")
        if errors:
            return [_problem(fallback, errors, reply)]
        shipments = (data.get("trackResponse") or {}).get("shipment")
        if not isinstance(shipments, list):
            raise ParseError(
                "ups: reply has no trackResponse.shipment", body=reply.body, carrier=NAME
            )
        results: list[TrackingResult] = []
        for shipment in shipments:
            packages = shipment.get("package") or []
            if not packages:
                number = shipment.get("inquiryNumber") or fallback
                results.append(_problem(number, shipment.get("warnings") or [], reply))
            results.extend(_package(p, shipment.get("inquiryNumber") or fallback) for p in packages)
        return results


def _problem(number: str, problems: list[Mapping[str, Any]], reply: CarrierReply) -> TrackingResult:
    codes = {str(p.get("code")) for p in problems}
    message = "; ".join(f"{p.get('code')}: {p.get('message')}" for p in problems)
    if not codes & NOT_FOUND_CODES:
        raise ParseError(
            f"ups: {message or 'shipment without packages'}", body=reply.body, carrier=NAME
        )
    return TrackingResult(tracking_number=number, not_found=True, extra={"error": message})


def _package(package: Mapping[str, Any], inquiry: str) -> TrackingResult:
    status = package.get("currentStatus") or {}
    return TrackingResult(
        tracking_number=str(package.get("trackingNumber") or inquiry),
        events=tuple(_activity(a) for a in package.get("activity") or []),
        carrier_status=status.get("description") or status.get("code"),
        expected_delivery=_expected(package.get("deliveryDate") or []),
    )


def _activity(activity: Mapping[str, Any]) -> RawEvent:
    address = (activity.get("location") or {}).get("address") or {}
    country = address.get("countryCode") or address.get("country")
    status = activity.get("status") or {}
    place = ", ".join(
        str(p)
        for p in (address.get("city"), address.get("stateProvince"), address.get("postalCode"))
        if p
    )
    return RawEvent(
        occurred_at=_when(activity, country),
        text=str(status.get("description") or "").strip(),
        code=status.get("code") or None,
        location=place or None,
        country=country or None,
        carrier=NAME,
    )


def _compact(date: str, time: str) -> datetime:
    try:
        return datetime.strptime(date + (time or "000000").ljust(6, "0"), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise ParseError(
            f"ups: unreadable date {date!r} {time!r}", body=f"{date} {time}", carrier=NAME
        ) from exc


def _when(activity: Mapping[str, Any], country: str | None) -> datetime:
    gmt_date, gmt_time, offset = (
        activity.get("gmtDate"),
        activity.get("gmtTime"),
        activity.get("gmtOffset"),
    )
    if gmt_date and gmt_time:
        instant = _compact(gmt_date, gmt_time.replace(":", "")).replace(tzinfo=UTC)
        if offset:
            sign = -1 if offset.startswith("-") else 1
            hours, _, minutes = offset.lstrip("+-").partition(":")
            zone = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
            return instant.astimezone(zone)
        return instant
    local = _compact(str(activity.get("date") or ""), str(activity.get("time") or ""))
    return local.replace(tzinfo=zone_for_country(country) or UTC)


def _expected(dates: list[Mapping[str, Any]]) -> datetime | None:
    for entry in dates:
        if entry.get("type") not in ("SDD", "RDD"):  # scheduled / rescheduled delivery date
            continue
        value = str(entry.get("date") or "")
        if len(value) == 8 and value.isdigit():
            return _compact(value, "000000").replace(tzinfo=UTC)
    return None
