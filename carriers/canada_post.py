"""Canada Post: the tracking web service (PWS XML, ``/vis/track/pin/{pin}/detail``).

Replies come in English or French (``Accept-Language: en-CA`` / ``fr-CA``); event texts are
kept in the language asked for. Event times carry a zone abbreviation (EST, PDT, ...), which is
turned into a fixed UTC offset.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import ClassVar
from zoneinfo import ZoneInfo

import httpx

from carriers.base import CarrierAdapter, CarrierReply
from carriers.http import parse_xml, send_for_reply, xml_find_all, xml_text
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

#: Canadian zone abbreviations as Canada Post prints them, with their UTC offsets in hours
ZONE_OFFSETS: dict[str, float] = {
    "NST": -3.5,
    "NDT": -2.5,
    "AST": -4,
    "ADT": -3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "UTC": 0,
    "GMT": 0,
}

#: when the abbreviation is unknown or missing, the province's main zone decides
PROVINCE_ZONES: dict[str, str] = {
    "NL": "America/St_Johns",
    "NS": "America/Halifax",
    "NB": "America/Moncton",
    "PE": "America/Halifax",
    "QC": "America/Toronto",
    "ON": "America/Toronto",
    "MB": "America/Winnipeg",
    "SK": "America/Regina",
    "AB": "America/Edmonton",
    "BC": "America/Vancouver",
    "YT": "America/Whitehorse",
    "NT": "America/Yellowknife",
    "NU": "America/Iqaluit",
}
DEFAULT_ZONE = "America/Toronto"


class CanadaPostAdapter(CarrierAdapter):
    """Canada Post tracking through its developer web service (Basic auth with the API key pair)."""

    name: ClassVar[str] = "canada_post"
    display_name: ClassVar[str] = "Canada Post"
    max_numbers_per_request: ClassVar[int] = 1
    requests_per_second: ClassVar[float] = 2.0
    max_concurrency: ClassVar[int] = 2
    tracking_url_template: ClassVar[str | None] = (
        "https://www.canadapost-postescanada.ca/track-reperage/en#/details/{number}"
    )
    default_base_url: ClassVar[str] = "https://soa-gw.canadapost.ca"

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """GET the tracking detail of one PIN (16 digits) or Delivery Notice Card (15 digits)."""
        (number,) = numbers
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        kind = "dnc" if len(number) == 15 and number.isdigit() else "pin"
        request = client.build_request(
            "GET",
            f"{base}/vis/track/{kind}/{number}/detail",
            headers={
                "Accept": "application/vnd.cpc.track-v2+xml",
                "Accept-Language": self.settings.options.get("language", "en-CA"),
            },
            timeout=self.settings.timeout_seconds,
        )
        return await send_for_reply(
            client, request, carrier=self.name, numbers=(number,), auth=self._auth()
        )

    def _auth(self) -> httpx.BasicAuth:
        """The key pair: ``client_id``/``client_secret``, or ``api_key`` as ``user:password``."""
        user, password = self.settings.client_id, self.settings.client_secret
        if not (user and password) and self.settings.api_key and ":" in self.settings.api_key:
            user, _, password = self.settings.api_key.partition(":")
        if not (user and password):
            raise CarrierAuthError("canada_post: no API key pair configured", carrier=self.name)
        return httpx.BasicAuth(user, password)

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """Tracking details become results; a ``messages`` reply (e.g. 004 No Pin History) is
        not-found for the number asked about."""
        return parse_tracking_xml(reply.body, reply.content_type, reply.numbers)


def parse_tracking_xml(
    body: bytes, content_type: str = "", numbers: Sequence[str] = ()
) -> list[TrackingResult]:
    """Pure parse of a PWS tracking reply (``tracking-detail`` or ``messages``)."""
    root = parse_xml(body, content_type, "canada_post")
    details = xml_find_all(root, "tracking-detail")
    if details:
        return [_detail(d, body) for d in details]
    messages = xml_find_all(root, "message")
    if messages:
        code = xml_text(messages[0], "code") or ""
        text = xml_text(messages[0], "description") or ""
        extra = {"error_code": code, "error_message": text}
        return [TrackingResult(n, not_found=True, extra=extra) for n in numbers or ("",)]
    raise ParseError("canada_post: neither tracking-detail nor messages", body=body)


def _detail(detail: ET.Element, body: bytes) -> TrackingResult:
    pin = xml_text(detail, "pin") or xml_text(detail, "dnc") or ""
    occurrences = xml_find_all(detail, "occurrence")
    events = tuple(_event(o, body) for o in occurrences)
    expected = xml_text(detail, "changed-expected-date") or xml_text(
        detail, "expected-delivery-date"
    )
    extra = {
        key: value
        for key, value in (
            ("service_name", xml_text(detail, "service-name")),
            ("destination_postal_code", xml_text(detail, "destination-postal-id")),
            ("expected_date_change_reason", xml_text(detail, "changed-expected-delivery-reason")),
        )
        if value
    }
    return TrackingResult(
        tracking_number=pin,
        events=events,
        expected_delivery=_expected(expected, body),
        extra=extra,
    )


def _event(occurrence: ET.Element, body: bytes) -> RawEvent:
    day = xml_text(occurrence, "event-date")
    if day is None:
        raise ParseError("canada_post: event without event-date", body=body)
    province = xml_text(occurrence, "event-province")
    site = xml_text(occurrence, "event-site")
    retail = xml_text(occurrence, "event-retail-name")
    place = ", ".join(p for p in (retail or site, province) if p)
    return RawEvent(
        occurred_at=event_time(
            day,
            xml_text(occurrence, "event-time"),
            xml_text(occurrence, "event-time-zone"),
            province,
            body,
        ),
        text=xml_text(occurrence, "event-description") or "",
        code=xml_text(occurrence, "event-identifier"),
        location=place or None,
        country="CA" if province else None,
        carrier="canada_post",
    )


def event_time(
    day: str, clock: str | None, zone: str | None, province: str | None, body: bytes = b""
) -> datetime:
    """Date + time + zone abbreviation → aware datetime. An unknown abbreviation falls back to
    the province's zone, then to Eastern time (where most of Canada Post's sorting happens)."""
    try:
        naive = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock or "00:00:00"))
    except ValueError as exc:
        raise ParseError(f"canada_post: bad event date/time {day!r} {clock!r}", body=body) from exc
    offset = ZONE_OFFSETS.get((zone or "").upper())
    if offset is not None:
        return naive.replace(tzinfo=timezone(timedelta(hours=offset)) if offset else UTC)
    return naive.replace(tzinfo=ZoneInfo(PROVINCE_ZONES.get(province or "", DEFAULT_ZONE)))


def _expected(value: str | None, body: bytes) -> datetime | None:
    """Expected delivery is a bare date; it is anchored at local midnight, Eastern time."""
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=ZoneInfo(DEFAULT_ZONE))
    except ValueError as exc:
        raise ParseError(f"canada_post: bad expected date {value!r}", body=body) from exc
