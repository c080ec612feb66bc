"""UPS XML Track (``TrackRequest``/``TrackResponse``), the predecessor of the Track API.

Activity times are local without an offset: the activity's state (US) or country decides the
zone, else UTC. Activities without a date are skipped; the package keeps UPS's status text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from carriers.base import CarrierReply
from carriers.http import local_name, parse_xml, xml_child, xml_find_all, xml_text
from carriers.legacy.zones import local_zone
from tracker.errors import CarrierAuthError, ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "ups"
#: invalid number / no tracking information available
NOT_FOUND_ERRORS = frozenset({"151018", "151044", "151045", "151062", "150022"})
#: invalid access license, user id or password
AUTH_ERRORS = frozenset({"250002", "250003", "250004", "250005"})


def parse_track_response(reply: CarrierReply) -> list[TrackingResult]:
    """One result per package (or per shipment without packages)."""
    root = parse_xml(reply.body, reply.content_type, NAME)
    if local_name(root) != "TrackResponse":
        raise ParseError(
            f"ups: {local_name(root)} is not a TrackResponse", body=reply.body, carrier=NAME
        )
    if xml_text(root, "Response", "ResponseStatusCode") != "1":
        return [_error(xml_child(root, "Response", "Error"), reply)]
    results: list[TrackingResult] = []
    for shipment in (c for c in root if local_name(c) == "Shipment"):
        packages = [c for c in shipment if local_name(c) == "Package"]
        if not packages:
            number = xml_text(shipment, "ShipmentIdentificationNumber") or _fallback(reply)
            results.append(TrackingResult(number, carrier_status=None))
        results.extend(_package(p, shipment, reply) for p in packages)
    return results


def _fallback(reply: CarrierReply) -> str:
    return reply.numbers[0] if reply.numbers else ""


def _error(error: ET.Element | None, reply: CarrierReply) -> TrackingResult:
    code = xml_text(error, "ErrorCode") or ""
    message = f"ups: {code}: {xml_text(error, 'ErrorDescription') or 'request failed'}"
    if code in AUTH_ERRORS:
        raise CarrierAuthError(message, carrier=NAME)
    if code not in NOT_FOUND_ERRORS:
        raise ParseError(message, body=reply.body, carrier=NAME)
    return TrackingResult(_fallback(reply), not_found=True, extra={"error": message})


def _package(package: ET.Element, shipment: ET.Element, reply: CarrierReply) -> TrackingResult:
    number = xml_text(package, "TrackingNumber") or xml_text(
        shipment, "ShipmentIdentificationNumber"
    )
    activities = [c for c in package if local_name(c) == "Activity"]
    latest = activities[0] if activities else None
    expected = xml_text(package, "RescheduledDeliveryDate") or xml_text(
        shipment, "ScheduledDeliveryDate"
    )
    return TrackingResult(
        tracking_number=number or _fallback(reply),
        events=tuple(e for e in (_activity(a) for a in activities) if e is not None),
        carrier_status=xml_text(latest, "Status", "StatusType", "Description"),
        expected_delivery=_compact(expected, None).replace(tzinfo=UTC) if expected else None,
        extra={"service": v} if (v := xml_text(shipment, "Service", "Description")) else {},
    )


def _compact(date: str, time: str | None) -> datetime:
    try:
        return datetime.strptime(date + (time or "000000").ljust(6, "0"), "%Y%m%d%H%M%S")
    except ValueError as exc:
        raise ParseError(
            f"ups: unreadable date {date!r} {time!r}", body=date, carrier=NAME
        ) from exc


def _activity(activity: ET.Element) -> RawEvent | None:
    date = xml_text(activity, "Date")
    if not date:
        return None
    address = xml_child(activity, "ActivityLocation", "Address")
    country = xml_text(address, "CountryCode")
    state = xml_text(address, "StateProvinceCode")
    parts = (xml_text(address, "City"), state, xml_text(address, "PostalCode"))
    place = ", ".join(p for p in parts if p)
    where = xml_text(activity, "ActivityLocation", "Description")  # e.g. "FRONT DOOR"
    text = xml_text(activity, "Status", "StatusType", "Description") or ""
    return RawEvent(
        occurred_at=_compact(date, xml_text(activity, "Time")).replace(
            tzinfo=local_zone(country, state)
        ),
        text=f"{text} ({where})" if where and text else text or where or "",
        code=xml_text(activity, "Status", "StatusCode", "Code"),
        location=place or None,
        country=country,
        carrier=NAME,
    )


def tracking_numbers(root: ET.Element) -> list[str]:
    """Every package number in a reply (for diagnostics)."""
    return [t for e in xml_find_all(root, "TrackingNumber") if (t := (e.text or "").strip())]
