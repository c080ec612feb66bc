"""Russian Post (Почта России): SOAP 1.2 single-access tracking, ``getOperationHistory``.

Login and password travel inside the request (``AuthorizationHeader``). Each history record has
an operation type and attribute (``OperType.Id`` / ``OperAttr.Id``, e.g. 2.1 "Вручение адресату"),
which become the event code ``"2.1"``; their Russian (or English, ``Language=ENG``) names are the
event text. A wrong login comes back as a SOAP fault (HTTP 500) with ``AuthorizationFaultReason``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import httpx

from carriers.base import CarrierAdapter, CarrierReply
from carriers.http import (
    parse_xml,
    send_for_reply,
    xml_child,
    xml_find_all,
    xml_text,
)
from tracker.errors import CarrierAuthError, CarrierError, CarrierUnavailable, ParseError
from tracker.model import RawEvent, TrackingResult

#: OperDate normally carries the offset of the place of the operation; when it does not, the
#: time is read as Moscow time, the zone Russian Post's systems report in.
HOME_ZONE = ZoneInfo("Europe/Moscow")

SOAP_NS = "http://www.w3.org/2003/05/soap-envelope"
REQUEST_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" \
xmlns:oper="http://russianpost.org/operationhistory" \
xmlns:data="http://russianpost.org/operationhistory/data">
<soap:Header/>
<soap:Body>
<oper:getOperationHistory>
<data:OperationHistoryRequest>
<data:Barcode>{barcode}</data:Barcode>
<data:MessageType>0</data:MessageType>
<data:Language>{language}</data:Language>
</data:OperationHistoryRequest>
<data:AuthorizationHeader soap:mustUnderstand="1">
<data:login>{login}</data:login>
<data:password>{password}</data:password>
</data:AuthorizationHeader>
</oper:getOperationHistory>
</soap:Body>
</soap:Envelope>"""


class RussianPostAdapter(CarrierAdapter):
    """Russian Post operation history, one barcode per SOAP call."""

    name: ClassVar[str] = "russian_post"
    display_name: ClassVar[str] = "Почта России (Russian Post)"
    max_numbers_per_request: ClassVar[int] = 1
    #: the single-access service allows 100 requests a day per login unless raised by contract
    requests_per_second: ClassVar[float] = 100 / 86_400
    max_concurrency: ClassVar[int] = 1
    tracking_url_template: ClassVar[str | None] = "https://www.pochta.ru/tracking?barcode={number}"
    default_base_url: ClassVar[str] = "https://tracking.russianpost.ru"

    async def fetch(self, client: httpx.AsyncClient, numbers: Sequence[str]) -> CarrierReply:
        """POST one ``getOperationHistory`` envelope; a SOAP fault about credentials raises
        ``CarrierAuthError``, other server faults ``CarrierUnavailable``."""
        (barcode,) = numbers
        login, password = self.settings.client_id, self.settings.client_secret
        if not (login and password):
            raise CarrierAuthError("russian_post: no login/password configured", carrier=self.name)
        envelope = REQUEST_TEMPLATE.format(
            barcode=escape(barcode),
            language=escape(self.settings.options.get("language", "RUS")),
            login=escape(login),
            password=escape(password),
        )
        base = (self.settings.base_url or self.default_base_url).rstrip("/")
        request = client.build_request(
            "POST",
            f"{base}/rtm34",
            content=envelope.encode("utf-8"),
            headers={"Content-Type": "application/soap+xml; charset=utf-8"},
            timeout=self.settings.timeout_seconds,
        )
        reply = await send_for_reply(
            client, request, carrier=self.name, numbers=(barcode,), pass_statuses=(500,)
        )
        if reply.status_code == 500:
            _raise_for_fault(reply)  # returns only for a fault about the barcode: not found
        return reply

    def parse(self, reply: CarrierReply) -> list[TrackingResult]:
        """History records become events; an empty history or an operation-history fault is
        not-found; an authorization fault raises ``CarrierAuthError``."""
        return parse_history_xml(reply.body, reply.content_type, reply.numbers)


def _raise_for_fault(reply: CarrierReply) -> None:
    """Raise for faults that are not about the barcode; leave those to ``parse``."""
    try:
        root = parse_xml(reply.body, reply.content_type, "russian_post")
    except ParseError as exc:
        raise CarrierUnavailable(
            f"russian_post: HTTP {reply.status_code}", carrier="russian_post"
        ) from exc
    fault = next(iter(xml_find_all(root, "Fault")), None)
    if fault is None:
        message = f"russian_post: HTTP {reply.status_code} without a SOAP fault"
        raise CarrierUnavailable(message, carrier="russian_post")
    if _fault_kind(fault)[0] != "OperationHistoryFaultReason":
        _check_fault(root, reply.body, unavailable=True)


def parse_history_xml(
    body: bytes, content_type: str = "", numbers: Sequence[str] = ()
) -> list[TrackingResult]:
    """Pure parse of a ``getOperationHistoryResponse`` (or a SOAP fault)."""
    root = parse_xml(body, content_type, "russian_post")
    asked = numbers[0] if numbers else ""
    fault_text = _check_fault(root, body)
    if fault_text is not None:
        extra = {"error_message": fault_text}
        return [TrackingResult(asked, not_found=True, extra=extra)]
    data = xml_find_all(root, "OperationHistoryData")
    if not data:
        raise ParseError("russian_post: no OperationHistoryData in reply", body=body)
    records = xml_find_all(data[0], "historyRecord")
    events = tuple(_event(r, body) for r in records)
    barcode = next((b for r in records if (b := xml_text(r, "ItemParameters", "Barcode"))), asked)
    mail_type = next(
        (t for r in records if (t := xml_text(r, "ItemParameters", "MailType", "Name"))), None
    )
    extra = {"mail_type": mail_type} if mail_type else {}
    return [TrackingResult(barcode, events=events, not_found=not events, extra=extra)]


def _fault_kind(fault: ET.Element) -> tuple[str, str]:
    """(detail element name, reason text) of a SOAP 1.2 fault."""
    detail = xml_child(fault, "Detail")
    reason = xml_text(fault, "Reason", "Text") or ""
    for child in detail if detail is not None else ():
        name = child.tag.rpartition("}")[2]
        return name, " ".join((child.text or reason).split())
    return "", reason


def _check_fault(root: ET.Element, body: bytes, *, unavailable: bool = False) -> str | None:
    """None when there is no fault; the reason text for a barcode fault; raises otherwise."""
    faults = xml_find_all(root, "Fault")
    if not faults:
        return None
    kind, reason = _fault_kind(faults[0])
    if kind == "AuthorizationFaultReason":
        raise CarrierAuthError(f"russian_post: {reason}", carrier="russian_post")
    if kind == "OperationHistoryFaultReason":
        return reason
    if unavailable:
        raise CarrierUnavailable(
            f"russian_post: SOAP fault {kind} {reason}", carrier="russian_post"
        )
    raise CarrierError(f"russian_post: SOAP fault {kind} {reason}", carrier="russian_post")


def _event(record: ET.Element, body: bytes) -> RawEvent:
    operation = xml_child(record, "OperationParameters")
    type_id = xml_text(operation, "OperType", "Id")
    when = xml_text(operation, "OperDate")
    if type_id is None or when is None:
        raise ParseError("russian_post: history record without OperType or OperDate", body=body)
    attr_id = xml_text(operation, "OperAttr", "Id") or "0"
    names = [xml_text(operation, "OperType", "Name"), xml_text(operation, "OperAttr", "Name")]
    address = xml_child(record, "AddressParameters")
    index = xml_text(address, "OperationAddress", "Index")
    place = xml_text(address, "OperationAddress", "Description")
    location = ", ".join(p for p in (index, place) if p)
    return RawEvent(
        occurred_at=_aware(when, body),
        text=": ".join(n for n in names if n),
        code=f"{type_id}.{attr_id}",
        location=location or None,
        country=xml_text(address, "CountryOper", "Code2A"),
        carrier="russian_post",
    )


def _aware(value: str, body: bytes) -> datetime:
    try:
        occurred = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ParseError(f"russian_post: bad OperDate {value!r}", body=body) from exc
    return occurred if occurred.tzinfo else occurred.replace(tzinfo=HOME_ZONE)
