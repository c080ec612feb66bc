# ruff: noqa: E501  (inline XML fixtures keep their lines as carriers send them)
"""Legacy and sibling formats of supported carriers: USPS Web Tools, UPS XML, FedEx SOAP,
DHL Express XML-PI, DHL Parcel DE, MyDHL. Own small fixtures always run; every recorded reply in
../shared/data of these formats is parsed too (skipped when the data is absent)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from carriers.base import CarrierReply
from carriers.legacy import dhl_formats, fedex_soap, ups_xml, usps_webtools
from tracker.errors import CarrierAuthError, CarrierError, CarrierUnavailable, ParseError
from tracker.model import TrackingResult

Parser = Callable[[CarrierReply], list[TrackingResult]]
CHICAGO = ZoneInfo("America/Chicago")


def reply(body: bytes | str, number: str = "X", status: int = 200) -> CarrierReply:
    raw = body.encode() if isinstance(body, str) else body
    return CarrierReply(numbers=(number,), status_code=status, body=raw, content_type="text/xml")


def assert_aware(results: list[TrackingResult]) -> None:
    for result in results:
        for event in result.events:
            assert event.occurred_at.utcoffset() is not None, event


# --- own fixtures (always run) -----------------------------------------------------------------

USPS = """<?xml version="1.0" encoding="UTF-8"?><TrackResponse>
<TrackInfo ID="9400111899223100000000"><StatusCategory>In Transit</StatusCategory>
<ExpectedDeliveryDate>March 14, 2025</ExpectedDeliveryDate>
<TrackSummary><EventTime>4:05 pm</EventTime><EventDate>March 11, 2025</EventDate>
<Event>Arrived at USPS Regional Facility</Event><EventCity>DENVER</EventCity>
<EventState>CO</EventState><EventZIPCode>80266</EventZIPCode><EventCode>10</EventCode></TrackSummary>
<TrackDetail><EventTime>9:30 am</EventTime><EventDate>March 8, 2025</EventDate>
<Event>Processed Through Facility</Event><EventCity>ISC NEW YORK</EventCity>
<EventCountry>CHINA</EventCountry><EventCode>EX</EventCode></TrackDetail>
<TrackDetail><EventTime/><EventDate/><Event>Pre-Shipment</Event></TrackDetail>
</TrackInfo>
<TrackInfo ID="LX000000000CN"><Error><Number>-2147219302</Number>
<Description>The Postal Service could not locate the tracking information.</Description></Error>
</TrackInfo></TrackResponse>"""


def test_usps_web_tools_events_zones_and_not_found() -> None:
    found, missing = usps_webtools.parse_track_response(reply(USPS))
    assert found.carrier_status == "In Transit"
    assert found.expected_delivery == datetime(2025, 3, 14, tzinfo=UTC)
    denver, china = found.events  # the dateless pre-shipment detail is skipped
    assert denver.occurred_at == datetime(2025, 3, 11, 16, 5, tzinfo=ZoneInfo("America/Denver"))
    assert (denver.location, denver.country, denver.code) == ("DENVER, CO 80266", "US", "10")
    assert china.country == "CN"
    assert china.occurred_at.utcoffset() == timedelta(hours=8)
    assert missing.not_found
    assert missing.tracking_number == "LX000000000CN"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            "<Error><Number>80040B1A</Number><Description>Authorization failure.</Description></Error>",
            CarrierAuthError,
        ),
        (
            "<Error><Number>-2147219040</Number><Description>Not on test server</Description></Error>",
            ParseError,
        ),
        ("<TrackResponse><TrackInfo", ParseError),
    ],
)
def test_usps_web_tools_errors(body: str, error: type[CarrierError]) -> None:
    with pytest.raises(error):
        usps_webtools.parse_track_response(reply(body))


UPS = """<?xml version="1.0"?><TrackResponse><Response><ResponseStatusCode>1</ResponseStatusCode>
</Response><Shipment><ScheduledDeliveryDate>20250314</ScheduledDeliveryDate>
<ShipmentIdentificationNumber>1Z999AA10123456784</ShipmentIdentificationNumber><Package>
<TrackingNumber>1Z999AA10123456784</TrackingNumber>
<Activity><ActivityLocation><Address><City>CHICAGO</City><StateProvinceCode>IL</StateProvinceCode>
<CountryCode>US</CountryCode></Address><Description>FRONT DOOR</Description></ActivityLocation>
<Status><StatusType><Code>D</Code><Description>DELIVERED</Description></StatusType>
<StatusCode><Code>KB</Code></StatusCode></Status><Date>20250313</Date><Time>142500</Time></Activity>
<Activity><ActivityLocation><Address><City>KÖLN</City><CountryCode>DE</CountryCode></Address>
</ActivityLocation><Status><StatusType><Code>I</Code><Description>ORIGIN SCAN</Description>
</StatusType><StatusCode><Code>OR</Code></StatusCode></Status><Date>20250310</Date><Time>0815</Time>
</Activity></Package></Shipment></TrackResponse>"""

UPS_ERROR = """<TrackResponse><Response><ResponseStatusCode>0</ResponseStatusCode><Error>
<ErrorSeverity>Hard</ErrorSeverity><ErrorCode>{code}</ErrorCode>
<ErrorDescription>{text}</ErrorDescription></Error></Response></TrackResponse>"""


def test_ups_xml_activities_in_local_zones() -> None:
    (result,) = ups_xml.parse_track_response(reply(UPS))
    assert result.tracking_number == "1Z999AA10123456784"
    assert result.carrier_status == "DELIVERED"
    assert result.expected_delivery == datetime(2025, 3, 14, tzinfo=UTC)
    delivered, origin = result.events
    assert delivered.occurred_at == datetime(2025, 3, 13, 14, 25, tzinfo=CHICAGO)
    assert (delivered.text, delivered.code) == ("DELIVERED (FRONT DOOR)", "KB")
    assert origin.occurred_at == datetime(2025, 3, 10, 8, 15, tzinfo=ZoneInfo("Europe/Berlin"))
    assert origin.location == "KÖLN"


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        ("151018", "not_found"),
        ("151044", "not_found"),
        ("250003", CarrierAuthError),
        ("150000", ParseError),
    ],
)
def test_ups_xml_errors(code: str, outcome: str | type[CarrierError]) -> None:
    body = reply(UPS_ERROR.format(code=code, text="Invalid tracking number"), "1Z1")
    if outcome == "not_found":
        (result,) = ups_xml.parse_track_response(body)
        assert (result.tracking_number, result.not_found) == ("1Z1", True)
    else:
        assert not isinstance(outcome, str)
        with pytest.raises(outcome):
            ups_xml.parse_track_response(body)


FEDEX = """<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><TrackReply xmlns="http://fedex.com/ws/track/v7"><HighestSeverity>SUCCESS</HighestSeverity>
<CompletedTrackDetails><HighestSeverity>SUCCESS</HighestSeverity>
<TrackDetails><Notification><Severity>SUCCESS</Severity><Code>0</Code></Notification>
<TrackingNumber>794600000000</TrackingNumber><StatusDetail><Description>On FedEx vehicle for delivery</Description>
</StatusDetail><EstimatedDeliveryTimestamp>2025-03-14T20:00:00-05:00</EstimatedDeliveryTimestamp>
<Events><Timestamp>2025-03-14T08:02:00-05:00</Timestamp><EventType>OD</EventType>
<EventDescription>On FedEx vehicle for delivery</EventDescription>
<Address><City>HOUSTON</City><StateOrProvinceCode>TX</StateOrProvinceCode><CountryCode>US</CountryCode></Address>
</Events></TrackDetails>
<TrackDetails><Notification><Severity>ERROR</Severity><Code>9040</Code>
<Message>This tracking number cannot be found.</Message></Notification>
<TrackingNumber>794600000001</TrackingNumber></TrackDetails>
</CompletedTrackDetails></TrackReply></soapenv:Body></soapenv:Envelope>"""


def test_fedex_soap_inside_an_envelope() -> None:
    found, missing = fedex_soap.parse_track_reply(reply(FEDEX))
    (event,) = found.events
    assert event.occurred_at == datetime(2025, 3, 14, 13, 2, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(hours=-5)
    assert (event.code, event.location, found.carrier_status) == (
        "OD",
        "HOUSTON, TX",
        "On FedEx vehicle for delivery",
    )
    assert found.expected_delivery == datetime(
        2025, 3, 14, 20, tzinfo=timezone(-timedelta(hours=5))
    )
    assert (missing.tracking_number, missing.not_found) == ("794600000001", True)


def test_fedex_soap_failure_is_unavailable() -> None:
    body = FEDEX.replace(
        "<Severity>ERROR</Severity><Code>9040", "<Severity>FAILURE</Severity><Code>9045"
    )
    with pytest.raises(CarrierUnavailable):
        fedex_soap.parse_track_reply(reply(body))


def test_dhl_formats_own_fixtures() -> None:
    express = """<req:TrackingResponse xmlns:req="http://www.dhl.com"><AWBInfo>
    <AWBNumber>1234567890</AWBNumber><Status><ActionStatus>success</ActionStatus></Status>
    <ShipmentInfo><ShipmentEvent><Date>2025-03-10</Date><Time>09:15:00</Time><ServiceEvent>
    <EventCode>PU</EventCode><Description>Shipment picked up</Description></ServiceEvent>
    <ServiceArea><ServiceAreaCode>SHA</ServiceAreaCode><Description>Shanghai - China</Description>
    </ServiceArea></ShipmentEvent></ShipmentInfo></AWBInfo><AWBInfo><AWBNumber>1234567891</AWBNumber>
    <Status><ActionStatus>No Shipments Found</ActionStatus></Status></AWBInfo></req:TrackingResponse>"""
    found, missing = dhl_formats.parse_express_xml(reply(express))
    (event,) = found.events
    assert event.occurred_at == datetime(2025, 3, 10, 1, 15, tzinfo=UTC)
    assert event.country == "CN"
    assert missing.not_found
    parcel = """<data name="piece-shipment-list" code="0"><data name="piece-shipment"
      piece-code="00340434161094015902" short-status="Zugestellt"><data name="piece-event-list">
      <data name="piece-event" event-timestamp="18.03.2025 10:02" event-text="Die Sendung wurde zugestellt."
       event-location="Köln" event-country="Deutschland" standard-event-code="ZU"/></data></data></data>"""
    (piece,) = dhl_formats.parse_parcel_de(reply(parcel.encode("utf-8")))
    (zu,) = piece.events
    assert zu.occurred_at == datetime(2025, 3, 18, 9, 2, tzinfo=UTC)
    assert (zu.text, zu.location, zu.code) == ("Die Sendung wurde zugestellt.", "Köln", "ZU")
    mydhl = b'{"shipments": [{"shipmentTrackingNumber": "1234567890", "status": "transit",'
    mydhl += b' "receiverDetails": {"postalAddress": {"countryCode": "IT"}}, "events": [{"date":'
    mydhl += b' "2025-03-11", "time": "07:30:00", "typeCode": "AF", "description": "Arrived"}]}]}'
    (shipment,) = dhl_formats.parse_mydhl(CarrierReply(("1234567890",), 200, mydhl))
    assert shipment.events[0].occurred_at == datetime(2025, 3, 11, 6, 30, tzinfo=UTC)


# --- recorded replies in ../shared/data (every tracking reply of these formats) ----------------

AS = ("carrier-responses", "active_shipping")
KARRIO = ("carrier-responses", "karrio")

#: file -> (parser, expected: list of (number, events, not_found, first text, first time) or error)
RECORDED: dict[tuple[str, ...], tuple[Parser, object]] = {
    (*AS, "usps", "tracking_response.xml"): (
        usps_webtools.parse_track_response,
        [
            (
                "9102901000462189604217",
                10,
                False,
                "Delivered, In/At Mailbox",
                datetime(2015, 4, 28, 9, 1, tzinfo=CHICAGO),
            )
        ],
    ),
    (*AS, "usps", "tracking_response_alt.xml"): (
        usps_webtools.parse_track_response,
        [
            (
                "9102901000462189604217",
                1,
                False,
                "Out for Delivery, in truck",
                datetime(2015, 4, 28, 8, 29, tzinfo=UTC),
            )
        ],
    ),
    (*AS, "usps", "tracking_response_batch.xml"): (
        usps_webtools.parse_track_response,
        [
            (
                "9102901000462189604217",
                10,
                False,
                "Delivered, In/At Mailbox",
                datetime(2015, 4, 28, 9, 1, tzinfo=CHICAGO),
            ),
            ("5555555555555555555555", 2, False, None, None),
            ("9405510ee200828613653750", 0, True, None, None),
        ],
    ),
    (*AS, "usps", "tracking_response_failure.xml"): (
        usps_webtools.parse_track_response,
        [("9102901000462189604217", 0, True, None, None)],
    ),
    (*AS, "usps", "tracking_response_not_available.xml"): (
        usps_webtools.parse_track_response,
        [("9574211957289221353248", 0, True, None, None)],
    ),
    (*AS, "usps", "tracking_response_test_error.xml"): (
        usps_webtools.parse_track_response,
        ParseError,
    ),
    (*AS, "usps", "invalid_xml_tracking_response_error.xml"): (
        usps_webtools.parse_track_response,
        ParseError,
    ),
    (*AS, "ups", "in_transit_shipment.xml"): (
        ups_xml.parse_track_response,
        [
            (
                "1Z4F940A0266088694",
                6,
                False,
                "ARRIVAL SCAN",
                datetime(2011, 8, 23, 6, 38, tzinfo=ZoneInfo("America/New_York")),
            )
        ],
    ),
    (*AS, "ups", "delivered_shipment_with_refund.xml"): (
        ups_xml.parse_track_response,
        [("1Z4189020353476816", 11, False, None, None)],
    ),
    (*AS, "ups", "delivered_shipment_without_events_tracking_response.xml"): (
        ups_xml.parse_track_response,
        [
            (
                "1ZA7226W1388491331",
                1,
                False,
                "DELIVERED (PORCH)",
                datetime(2011, 6, 17, 13, 45, tzinfo=CHICAGO),
            )
        ],
    ),
    (*AS, "ups", "example_tracking_response.xml"): (
        ups_xml.parse_track_response,
        [("1Z9999999999999999", 0, False, None, None)],
    ),
    (*AS, "ups", "out_for_delivery_shipment.xml"): (
        ups_xml.parse_track_response,
        [("1ZW22A280305086608", 5, False, "OUT FOR DELIVERY", None)],
    ),
    (*AS, "ups", "rescheduled_shipment.xml"): (
        ups_xml.parse_track_response,
        [
            (
                "1ZW5A7604293617812",
                7,
                False,
                "OUT FOR DELIVERY",
                datetime(2015, 1, 29, 6, 0, tzinfo=ZoneInfo("America/Los_Angeles")),
            )
        ],
    ),
    (*AS, "ups", "shipment_from_tiger_direct.xml"): (
        ups_xml.parse_track_response,
        [("1Z5FX0076803466397", 8, False, "DELIVERED (RECEPTION)", None)],
    ),
    (*AS, "fedex", "tracking_response_in_transit.xml"): (
        fedex_soap.parse_track_reply,
        [
            (
                "123456789012",
                1,
                False,
                "In transit: Package available for clearance",
                datetime(2014, 11, 18, 7, 13, tzinfo=UTC),
            )
        ],
    ),
    (*AS, "fedex", "tracking_response_delivered_at_door.xml"): (
        fedex_soap.parse_track_reply,
        [("403934084723025", 10, False, None, None)],
    ),
    (*AS, "fedex", "tracking_response_delivered_at_facility.xml"): (
        fedex_soap.parse_track_reply,
        [("843119172384577", 19, False, None, None)],
    ),
    (*AS, "fedex", "tracking_response_delivered_with_signature.xml"): (
        fedex_soap.parse_track_reply,
        [("449044304137821", 11, False, "Delivered", datetime(2014, 1, 2, 18, 23, 29, tzinfo=UTC))],
    ),
    (*AS, "fedex", "tracking_response_shipment_exception.xml"): (
        fedex_soap.parse_track_reply,
        [("957794015041323", 8, False, "Shipment exception: Unable to deliver", None)],
    ),
    (*AS, "fedex", "tracking_response_with_blank_state.xml"): (
        fedex_soap.parse_track_reply,
        [("798701052354", 1, False, "Delivered", None)],
    ),
    (*AS, "fedex", "tracking_response_empty_status_detail.xml"): (
        fedex_soap.parse_track_reply,
        [("123456789012", 0, False, None, None)],
    ),
    (*AS, "fedex", "tracking_response_missing_status_code.xml"): (
        fedex_soap.parse_track_reply,
        [("123456789012", 0, False, None, None)],
    ),
    (*AS, "fedex", "tracking_response_multiple_results.xml"): (
        fedex_soap.parse_track_reply,
        [("123456789012", 0, False, None, None)],
    ),
    (*AS, "fedex", "tracking_response_not_found.xml"): (
        fedex_soap.parse_track_reply,
        [("123456789013", 0, True, None, None)],
    ),
    (*AS, "fedex", "tracking_response_invalid_tracking_number.xml"): (
        fedex_soap.parse_track_reply,
        [("123456789013", 0, True, None, None)],
    ),
    (*AS, "fedex", "tracking_response_bad_tracking_number.xml"): (
        fedex_soap.parse_track_reply,
        [("X", 0, True, None, None)],
    ),
    (*AS, "fedex", "tracking_response_failure_code_9045.xml"): (
        fedex_soap.parse_track_reply,
        CarrierUnavailable,
    ),
    (*AS, "fedex", "tracking_response_failure_code_9080.xml"): (
        fedex_soap.parse_track_reply,
        CarrierUnavailable,
    ),
    (*AS, "fedex", "tracking_response_unable_to_process.xml"): (
        fedex_soap.parse_track_reply,
        CarrierUnavailable,
    ),
    (*KARRIO, "dhl_express", "TrackingResponseXML.xml"): (
        dhl_formats.parse_express_xml,
        [
            (
                "3180831640",
                16,
                False,
                "Shipment picked up",
                datetime(2009, 8, 28, 11, 26, tzinfo=UTC),
            ),
            ("7740842550", 1, False, "Shipment picked up", datetime(2009, 8, 26, 2, 0, tzinfo=UTC)),
            (
                "1815115363",
                2,
                False,
                "Shipment picked up",
                datetime(2009, 8, 13, 15, 58, tzinfo=UTC),
            ),
        ],
    ),
    (*KARRIO, "dhl_express", "IntransitTrackingResponseXML.xml"): (
        dhl_formats.parse_express_xml,
        [("9053283201", 1, False, "Shipment picked up", None)],
    ),
    (*KARRIO, "dhl_parcel_de", "TrackingResponseXML.xml"): (
        dhl_formats.parse_parcel_de,
        [
            (
                "00340434161094015902",
                7,
                False,
                "The shipment has been posted by the sender at the PACKSTATION",
                datetime(2016, 3, 17, 10, 44, tzinfo=UTC),
            )
        ],
    ),
    (*KARRIO, "dhl_parcel_de", "TrackingErrorResponseXML.xml"): (
        dhl_formats.parse_parcel_de,
        [("X", 0, True, None, None)],
    ),
    (*KARRIO, "mydhl", "TrackingResponse.json"): (
        dhl_formats.parse_mydhl,
        [("9356579890", 2, False, "Shipment delivered", None)],
    ),
    (*KARRIO, "mydhl", "ErrorResponse.json"): (
        dhl_formats.parse_mydhl,
        [("X", 0, True, None, None)],
    ),
    (*KARRIO, "mydhl", "ProofOfDeliveryResponse.json"): (dhl_formats.parse_mydhl, ParseError),
}

#: recorded files of these carriers that are not tracking replies (requests, rating, shipping)
NOT_TRACKING = {
    (*AS, "usps", "tracking_request.xml"),
    (*AS, "usps", "tracking_request_batch.xml"),
    (*AS, "ups", "tracking_request.xml"),
    (*AS, "ups", "no_shipment_warnings.xml"),
    (*AS, "ups", "shipment_accept_response.xml"),
    (*AS, "ups", "shipment_confirm_response.xml"),
    (*AS, "ups", "void_shipment_response.xml"),
    (*AS, "fedex", "tracking_request.xml"),
}


@pytest.mark.shared_data
def test_every_legacy_reply_is_covered(shared_data: Path) -> None:
    on_disk = {
        path.relative_to(shared_data).parts
        for folder in (
            shared_data.joinpath(*AS, "usps"),
            shared_data.joinpath(*AS, "ups"),
            shared_data.joinpath(*AS, "fedex"),
            shared_data.joinpath(*KARRIO, "dhl_express"),
            shared_data.joinpath(*KARRIO, "dhl_parcel_de"),
            shared_data.joinpath(*KARRIO, "mydhl"),
        )
        for path in folder.iterdir()
    }
    assert on_disk == set(RECORDED) | NOT_TRACKING


@pytest.mark.shared_data
@pytest.mark.parametrize("parts", sorted(RECORDED), ids=lambda p: "/".join(p[2:]))
def test_recorded_legacy_reply(shared_data: Path, parts: tuple[str, ...]) -> None:
    parser, expected = RECORDED[parts]
    body = shared_data.joinpath(*parts).read_bytes()
    status = 404 if "Error" in parts[-1] else 200
    recorded = CarrierReply(
        ("X",), status, body, "application/json" if parts[-1].endswith(".json") else "text/xml"
    )
    if isinstance(expected, type):
        with pytest.raises(expected):
            parser(recorded)
        return
    results = parser(recorded)
    assert_aware(results)
    assert isinstance(expected, list)
    assert len(results) == len(expected)
    for result, (number, count, not_found, first_text, first_time) in zip(
        results, expected, strict=True
    ):
        assert (result.tracking_number, len(result.events), result.not_found) == (
            number,
            count,
            not_found,
        )
        for event in result.events:
            assert event.text or event.code
            assert event.carrier in ("usps", "ups", "fedex", "dhl")
        if first_text is not None:
            assert result.events[0].text == first_text
        if first_time is not None:
            assert result.events[0].occurred_at == first_time


@pytest.mark.shared_data
def test_recorded_fedex_duplicate_numbers_are_counted(shared_data: Path) -> None:
    body = shared_data.joinpath(*AS, "fedex", "tracking_response_multiple_results.xml").read_bytes()
    (result,) = fedex_soap.parse_track_reply(reply(body))
    assert result.extra["shipments_with_this_number"] == "3"
