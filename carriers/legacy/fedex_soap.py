"""FedEx Web Services Track v7 (SOAP ``TrackReply``), the predecessor of the Track API.

Event timestamps carry the scan's offset, which we keep. FedEx's notification severities map
onto the error tree: FAILURE means "retry later" (CarrierUnavailable), a not-found or invalid
number comes back ``not_found``, any other ERROR is a ParseError keeping the body.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from carriers.base import CarrierReply
from carriers.http import (
    local_name,
    parse_timestamp,
    parse_xml,
    xml_child,
    xml_find_all,
    xml_text,
)
from carriers.legacy.zones import local_zone
from tracker.errors import CarrierAuthError, CarrierUnavailable, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "fedex"
#: invalid or unknown tracking number
NOT_FOUND_CODES = frozenset({"5508", "6035", "9040", "9041"})
#: authentication failed / meter or account not authorized
AUTH_CODES = frozenset({"1000", "1001", "1002", "803"})
_EPOCH = datetime.min.replace(tzinfo=UTC)


def parse_track_reply(reply: CarrierReply) -> list[TrackingResult]:
    """One result per tracking number; duplicates (numbers FedEx reuses) keep the newest."""
    root = parse_xml(reply.body, reply.content_type, NAME)
    replies = xml_find_all(root, "TrackReply")
    if not replies:
        raise ParseError("fedex: no TrackReply in reply", body=reply.body, carrier=NAME)
    track = replies[0]
    top = _notification(track, "Notifications")
    if xml_text(track, "HighestSeverity") in ("ERROR", "FAILURE"):
        return [_problem(top, n, reply, "FAILURE") for n in reply.numbers or ("",)]
    best: dict[str, TrackingResult] = {}
    counts: dict[str, int] = {}
    for completed in (c for c in track if local_name(c) == "CompletedTrackDetails"):
        details = [c for c in completed if local_name(c) == "TrackDetails"]
        if not details:
            severity = xml_text(completed, "HighestSeverity") or ""
            if severity in ("ERROR", "FAILURE"):
                _problem(_notification(completed, "Notifications"), "", reply, severity)
        for detail in details:
            result = _detail(detail, reply)
            counts[result.tracking_number] = counts.get(result.tracking_number, 0) + 1
            held = best.get(result.tracking_number)
            if held is None or _newest(result) > _newest(held):
                best[result.tracking_number] = result
    for number, count in counts.items():
        if count > 1:
            best[number].extra["shipments_with_this_number"] = str(count)
    return list(best.values())


def _newest(result: TrackingResult) -> datetime:
    return max((e.occurred_at for e in result.events), default=_EPOCH)


def _notification(parent: ET.Element, name: str) -> tuple[str, str, str]:
    note = xml_child(parent, name)
    return (
        xml_text(note, "Severity") or "",
        xml_text(note, "Code") or "",
        xml_text(note, "Message") or "",
    )


def _problem(
    note: tuple[str, str, str], number: str, reply: CarrierReply, severity: str
) -> TrackingResult:
    _severity, code, text = note
    message = f"fedex: {code}: {text}"
    if code in NOT_FOUND_CODES:
        return TrackingResult(number, not_found=True, extra={"error": message})
    if code in AUTH_CODES:
        raise CarrierAuthError(message, carrier=NAME)
    if severity == "FAILURE":
        raise CarrierUnavailable(message, carrier=NAME)
    raise ParseError(message, body=reply.body, carrier=NAME)


def _detail(detail: ET.Element, reply: CarrierReply) -> TrackingResult:
    number = xml_text(detail, "TrackingNumber") or ""
    note = _notification(detail, "Notification")
    if note[0] in ("ERROR", "FAILURE"):
        return _problem(note, number, reply, note[0])
    estimate = xml_text(detail, "EstimatedDeliveryTimestamp")
    return TrackingResult(
        tracking_number=number,
        events=tuple(_event(e) for e in detail if local_name(e) == "Events"),
        carrier_status=xml_text(detail, "StatusDetail", "Description"),
        expected_delivery=parse_timestamp(estimate, NAME) if estimate else None,
        extra={"service": v} if (v := xml_text(detail, "Service", "Description")) else {},
    )


def _event(event: ET.Element) -> RawEvent:
    address = xml_child(event, "Address")
    country = xml_text(address, "CountryCode")
    state = xml_text(address, "StateOrProvinceCode")
    place = ", ".join(p for p in (xml_text(address, "City"), state) if p)
    text = xml_text(event, "EventDescription") or ""
    exception = xml_text(event, "StatusExceptionDescription")
    if exception:
        text = f"{text}: {exception}" if text else exception
    stamp = xml_text(event, "Timestamp") or ""
    return RawEvent(
        occurred_at=parse_timestamp(stamp, NAME, default_tz=local_zone(country, state)),
        text=text,
        code=xml_text(event, "EventType"),
        location=place or None,
        country=country,
        carrier=NAME,
    )
