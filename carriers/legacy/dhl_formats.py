"""Older and sibling DHL formats: XML-PI ``TrackingResponse`` (DHL Express), Parcel DE
``piece-shipment-list`` XML, and MyDHL API ``/tracking`` JSON.

All three give local times without an offset. Express: the service area's country (named after
the last " - ") decides the zone; Parcel DE: Europe/Berlin; MyDHL: the shipment's
``shipperDetails``/``receiverDetails`` country when given, else UTC (documented guess).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from carriers.base import CarrierReply
from carriers.http import local_name, parse_xml, reply_json, xml_child, xml_text
from carriers.legacy.zones import country_code, local_zone
from tracker.errors import ParseError
from tracker.model import RawEvent, TrackingResult

NAME = "dhl"
BERLIN = ZoneInfo("Europe/Berlin")
#: Parcel DE ``code`` values meaning "no such piece"
PARCEL_DE_NOT_FOUND = frozenset({"100"})


def _fallback(reply: CarrierReply) -> str:
    return reply.numbers[0] if reply.numbers else ""


# --- DHL Express XML-PI ------------------------------------------------------------------------


def parse_express_xml(reply: CarrierReply) -> list[TrackingResult]:
    """One result per ``AWBInfo``; an ``ActionStatus`` other than success is not_found."""
    root = parse_xml(reply.body, reply.content_type, NAME)
    if local_name(root) != "TrackingResponse":
        raise ParseError(
            f"dhl: {local_name(root)} is not a TrackingResponse", body=reply.body, carrier=NAME
        )
    results = []
    for awb in (c for c in root if local_name(c) == "AWBInfo"):
        number = xml_text(awb, "AWBNumber") or _fallback(reply)
        status = xml_text(awb, "Status", "ActionStatus") or ""
        if status.lower() != "success":
            results.append(TrackingResult(number, not_found=True, extra={"error": status}))
            continue
        info = xml_child(awb, "ShipmentInfo")
        scans = [c for c in info if local_name(c) == "ShipmentEvent"] if info is not None else []
        events = tuple(_express_event(s) for s in scans)
        utc = xml_text(info, "EstDlvyDateUTC")
        results.append(
            TrackingResult(
                tracking_number=number,
                events=events,
                carrier_status=events[-1].text if events else None,
                expected_delivery=_stamp(utc, "%Y-%m-%d %H:%M:%S", UTC) if utc else None,
            )
        )
    return results


def _stamp(text: str, fmt: str, zone: tzinfo) -> datetime:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=zone)
    except ValueError as exc:
        raise ParseError(f"dhl: unreadable time {text!r}", body=text, carrier=NAME) from exc


def _express_event(scan: ET.Element) -> RawEvent:
    area = xml_text(scan, "ServiceArea", "Description") or ""
    country = country_code(area.rpartition(" - ")[2]) if " - " in area else None
    date, time = xml_text(scan, "Date") or "", xml_text(scan, "Time") or "00:00:00"
    code = xml_text(scan, "ServiceEvent", "EventCode")
    return RawEvent(
        occurred_at=_stamp(f"{date} {time}", "%Y-%m-%d %H:%M:%S", local_zone(country)),
        text=xml_text(scan, "ServiceEvent", "Description") or code or "",
        code=code,
        location=area or None,
        country=country,
        carrier=NAME,
    )


# --- DHL Parcel DE (piece-shipment-list) --------------------------------------------------------


def parse_parcel_de(reply: CarrierReply) -> list[TrackingResult]:
    """One result per ``piece-shipment``; list code 100 ("No data found") is not_found."""
    root = parse_xml(reply.body, reply.content_type, NAME)
    if root.get("name") != "piece-shipment-list":
        raise ParseError("dhl: not a piece-shipment-list", body=reply.body, carrier=NAME)
    code = root.get("code") or "0"
    if code in PARCEL_DE_NOT_FOUND:
        extra = {"error": root.get("error") or "not found"}
        return [TrackingResult(_fallback(reply), not_found=True, extra=extra)]
    if code != "0":
        raise ParseError(f"dhl: code {code}: {root.get('error')}", body=reply.body, carrier=NAME)
    return [_piece(p) for p in root.iter() if p.get("name") == "piece-shipment"]


def _piece(piece: ET.Element) -> TrackingResult:
    events = [_piece_event(e) for e in piece.iter() if e.get("name") == "piece-event"]
    return TrackingResult(
        tracking_number=piece.get("piece-code") or piece.get("piece-identifier") or "",
        events=tuple(events),
        carrier_status=piece.get("short-status") or piece.get("status"),
        extra={"product": piece.get("product-name") or ""},
    )


def _piece_event(event: ET.Element) -> RawEvent:
    country = country_code(event.get("event-country"))
    return RawEvent(
        occurred_at=_stamp(event.get("event-timestamp") or "", "%d.%m.%Y %H:%M", BERLIN),
        text=event.get("event-text") or event.get("event-status") or "",
        code=event.get("standard-event-code") or event.get("ice") or None,
        location=event.get("event-location") or None,
        country=country,
        carrier=NAME,
    )


# --- MyDHL API JSON ----------------------------------------------------------------------------


def parse_mydhl(reply: CarrierReply) -> list[TrackingResult]:
    """One result per shipment; the problem-details 404 body is not_found."""
    data = reply_json(reply, NAME)
    if not isinstance(data, dict):
        raise ParseError("dhl: reply is not a JSON object", body=reply.body, carrier=NAME)
    if "shipments" not in data:
        if data.get("status") == 404 or reply.status_code == 404:
            extra = {"error": str(data.get("detail") or data.get("title") or "not found")}
            return [TrackingResult(_fallback(reply), not_found=True, extra=extra)]
        title = data.get("title") or ("documents only" if "documents" in data else None)
        raise ParseError(f"dhl: not a tracking reply ({title})", body=reply.body, carrier=NAME)
    return [_mydhl_shipment(s) for s in data["shipments"] or []]


def _mydhl_country(shipment: Mapping[str, Any]) -> str | None:
    for key in ("receiverDetails", "shipperDetails"):
        address = (shipment.get(key) or {}).get("postalAddress") or {}
        if address.get("countryCode"):
            return str(address["countryCode"])
    return None


def _mydhl_shipment(shipment: Mapping[str, Any]) -> TrackingResult:
    zone = local_zone(_mydhl_country(shipment))
    events = tuple(_mydhl_event(e, zone) for e in shipment.get("events") or [])
    expected = shipment.get("estimatedTimeOfDelivery")
    return TrackingResult(
        tracking_number=str(shipment.get("shipmentTrackingNumber") or ""),
        events=events,
        carrier_status=shipment.get("status"),
        expected_delivery=_stamp(expected, "%Y-%m-%dT%H:%M:%S", zone) if expected else None,
        extra={"service": str(shipment.get("description") or "")},
    )


def _mydhl_event(event: Mapping[str, Any], zone: tzinfo) -> RawEvent:
    areas = event.get("serviceArea") or [{}]
    where = str(areas[0].get("description") or "") or None
    stamp = f"{event.get('date')} {event.get('time') or '00:00:00'}"
    return RawEvent(
        occurred_at=_stamp(stamp, "%Y-%m-%d %H:%M:%S", zone),
        text=str(event.get("description") or event.get("typeCode") or ""),
        code=event.get("typeCode") or None,
        location=where,
        carrier=NAME,
    )
