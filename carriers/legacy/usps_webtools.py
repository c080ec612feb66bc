"""USPS Web Tools TrackV2 (``TrackFieldRequest``) XML, retired in favour of Tracking API v3.

Times are local to the scan without an offset: the scan's state decides the zone (its main zone),
else its country, else UTC. Details without a date are skipped (they carry no usable time).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from carriers.base import CarrierReply
from carriers.http import local_name, parse_xml, xml_find_all, xml_text
from carriers.legacy.zones import country_code, local_zone
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "usps"
#: TrackInfo errors that mean USPS has no record of the number (yet) or will not show it
NOT_FOUND_ERRORS = frozenset({"-2147219302", "-2147219301", "-2147219283", "-2147219284"})
#: the same number asked twice in one batch: USPS answers the first only
DUPLICATE_ERROR = "-2147219303"


def parse_track_response(reply: CarrierReply) -> list[TrackingResult]:
    """One result per ``TrackInfo``; a top-level ``Error`` raises (auth or request problem)."""
    root = parse_xml(reply.body, reply.content_type, NAME)
    if local_name(root) == "Error":
        raise _top_level_error(root, reply.body)
    if local_name(root) != "TrackResponse":
        raise ParseError(f"usps: unexpected root {root.tag!r}", body=reply.body, carrier=NAME)
    results: list[TrackingResult] = []
    for info in xml_find_all(root, "TrackInfo"):
        result = _info(info, reply.body)
        if result is not None:
            results.append(result)
    return results


def _top_level_error(root: ET.Element, body: bytes) -> Exception:
    description = xml_text(root, "Description") or "unknown error"
    message = f"usps: {xml_text(root, 'Number')}: {description}"
    if "authoriz" in description.lower() or "userid" in description.lower():
        return CarrierAuthError(message, carrier=NAME)
    return ParseError(message, body=body, carrier=NAME)


def _info(info: ET.Element, body: bytes) -> TrackingResult | None:
    number = info.get("ID") or ""
    error = next((c for c in info if local_name(c) == "Error"), None)
    if error is not None:
        code = xml_text(error, "Number") or ""
        if code == DUPLICATE_ERROR:
            return None
        text = xml_text(error, "Description") or ""
        if code in NOT_FOUND_ERRORS:
            return TrackingResult(number, not_found=True, extra={"error": text})
        raise ParseError(f"usps: {number}: {code}: {text}", body=body, carrier=NAME)
    scans = [c for c in info if local_name(c) in ("TrackSummary", "TrackDetail")]
    events = tuple(e for e in (_event(s) for s in scans) if e is not None)
    expected = xml_text(info, "ExpectedDeliveryDate") or xml_text(info, "PredictedDeliveryDate")
    return TrackingResult(
        tracking_number=number,
        events=events,
        carrier_status=xml_text(info, "StatusCategory") or xml_text(info, "Status"),
        expected_delivery=_date(expected) if expected else None,
        extra={k: v for k in ("Class", "StatusSummary") if (v := xml_text(info, k))},
    )


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%B %d, %Y").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ParseError(f"usps: unreadable date {text!r}", body=text, carrier=NAME) from exc


def _event(scan: ET.Element) -> RawEvent | None:
    date, time = xml_text(scan, "EventDate"), xml_text(scan, "EventTime")
    if not date:
        return None
    state, city, zip_code = (xml_text(scan, k) for k in ("EventState", "EventCity", "EventZIPCode"))
    country = country_code(xml_text(scan, "EventCountry")) or ("US" if state or zip_code else None)
    try:
        local = datetime.strptime(f"{date} {time or '12:00 am'}".upper(), "%B %d, %Y %I:%M %p")
    except ValueError as exc:
        raise ParseError(
            f"usps: unreadable time {date!r} {time!r}", body=date, carrier=NAME
        ) from exc
    place = ", ".join(p for p in (city, " ".join(p for p in (state, zip_code) if p)) if p)
    return RawEvent(
        occurred_at=local.replace(tzinfo=local_zone(country, state)),
        text=xml_text(scan, "Event") or "",
        code=xml_text(scan, "EventCode"),
        location=place or None,
        country=country,
        carrier=NAME,
    )
