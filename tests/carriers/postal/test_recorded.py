"""Parse tests over the recorded responses in ../shared/data that belong to the postal adapters."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from carriers import australia_post, canada_post, la_poste
from tracker.errors import CarrierError
from tracker.model import TrackingResult

pytestmark = pytest.mark.shared_data

RESPONSES = Path("carrier-responses")
EST = timezone(timedelta(hours=-5))


def _aware(result: TrackingResult) -> None:
    for event in result.events:
        assert event.occurred_at.tzinfo is not None
        assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("path", "pin", "count", "first_code", "first_text", "first_time"),
    [
        (
            "active_shipping/canadapost_pws/tracking_details_en.xml",
            "1371134583769923",
            10,
            "1496",
            "Item successfully delivered",
            datetime(2011, 2, 3, 11, 59, 59, tzinfo=EST),
        ),
        (
            "active_shipping/canadapost_pws/tracking_details_fr.xml",
            "1371134583769923",
            10,
            "1496",
            "Article livré avec succès",
            datetime(2011, 2, 3, 11, 59, 59, tzinfo=EST),
        ),
        (
            "active_shipping/canadapost_pws/tracking_details_en_undelivered.xml",
            "1371134583769923",
            7,
            "0174",
            "Item out for delivery",
            datetime(2011, 2, 3, 8, 27, 43, tzinfo=EST),
        ),
        (
            "active_shipping/canadapost_pws/dnc_tracking_details_en.xml",
            "1680678172650919",
            7,
            "1498",
            "Item successfully delivered",
            datetime(2011, 1, 27, 14, 2, 29, tzinfo=EST),
        ),
        (
            "active_shipping/canadapost_pws/tracking_details_no_expected_delivery_date.xml",
            "8213295707205355",
            1,
            "3000",
            "Electronic information submitted by shipper",
            datetime(2014, 1, 26, 20, 18, 6, tzinfo=EST),
        ),
        (
            "karrio/canadapost/TrackingResponseXml.xml",
            "7023210039414604",
            6,
            "20",
            "Signature image recorded for Online viewing",
            datetime(2011, 2, 3, 11, 59, 59, tzinfo=EST),
        ),
    ],
)
def test_canada_post_recorded_details(
    shared_data: Path,
    path: str,
    pin: str,
    count: int,
    first_code: str,
    first_text: str,
    first_time: datetime,
) -> None:
    (result,) = canada_post.parse_tracking_xml((shared_data / RESPONSES / path).read_bytes())
    assert result.tracking_number == pin
    assert len(result.events) == count
    first = result.events[0]
    assert (first.code, first.text, first.occurred_at) == (first_code, first_text, first_time)
    assert first.country == "CA"
    assert first.carrier == "canada_post"
    assert first.location is not None
    assert first.location.endswith((", QC", ", ON"))
    _aware(result)


def test_canada_post_french_texts_are_kept_whole(shared_data: Path) -> None:
    body = (
        shared_data / RESPONSES / "active_shipping/canadapost_pws/tracking_details_fr.xml"
    ).read_bytes()
    (result,) = canada_post.parse_tracking_xml(body)
    texts = [e.text for e in result.events]
    assert "Image de la signature enregistrée pour consultation en ligne" in texts
    assert result.extra["expected_date_change_reason"] == (
        "Erreur d'adressage du client. Tentative de correction"
    )
    assert result.expected_delivery is not None
    assert result.expected_delivery.date().isoformat() == "2011-02-11"  # the changed date wins


@pytest.mark.parametrize(
    "path",
    [
        "active_shipping/canadapost_pws/tracking_details_en_error.xml",
        "karrio/canadapost/UnknownTrackingNumberResponse.xml",
    ],
)
def test_canada_post_no_pin_history_is_not_found(shared_data: Path, path: str) -> None:
    body = (shared_data / RESPONSES / path).read_bytes()
    (result,) = canada_post.parse_tracking_xml(body, numbers=("1234567890123456",))
    assert result.not_found
    assert result.tracking_number == "1234567890123456"
    assert result.extra == {"error_code": "004", "error_message": "No Pin History"}


def test_australia_post_recorded_tracking(shared_data: Path) -> None:
    body = (shared_data / RESPONSES / "karrio/australiapost/TrackingResponse.json").read_bytes()
    results = {r.tracking_number: r for r in australia_post.parse_tracking_json(body)}
    assert set(results) == {"ET123456789AU", "LX123456789US", "00123456789000123400"}
    consignment = results["ET123456789AU"]  # events nested under a consignment's items
    assert len(consignment.events) == 8
    delivered = results["LX123456789US"]
    assert delivered.carrier_status == "Delivered"
    assert len(delivered.events) == 9
    first = delivered.events[0]
    assert first.text == "Delivered - Left in a safe place"
    assert first.location == "KEW VIC"
    assert first.country == "AU"
    assert first.occurred_at == datetime(2021, 1, 21, 0, 4, 27, tzinfo=UTC)
    assert delivered.events[-1].country is None  # "US-60199, UNITED STATES" is not Australian
    for result in results.values():
        _aware(result)


def test_australia_post_invalid_id_is_not_found(shared_data: Path) -> None:
    body = (
        shared_data / RESPONSES / "karrio/australiapost/TrackingErrorResponse.json"
    ).read_bytes()
    (result,) = australia_post.parse_tracking_json(body)
    assert result.tracking_number == "7XX1000"
    assert result.not_found
    assert result.extra["error_code"] == "ESB-10001"


def test_australia_post_request_error_raises(shared_data: Path) -> None:
    body = (shared_data / RESPONSES / "karrio/australiapost/ErrorResponse.json").read_bytes()
    with pytest.raises(CarrierError, match="TOO_MANY_AP_TRACKING_IDS"):
        australia_post.parse_tracking_json(body)


def test_la_poste_recorded_tracking(shared_data: Path) -> None:
    body = (shared_data / RESPONSES / "karrio/laposte/TrackingResponse.json").read_bytes()
    (result,) = la_poste.parse_tracking_json(body)
    assert result.tracking_number == "EW112720413FR"
    assert [e.code for e in result.events][:3] == ["DI1", "MD2", "ET1"]
    assert result.events[0].text == "Votre colis est livré."
    assert result.events[0].occurred_at == datetime(2023, 3, 9, 8, 38, tzinfo=UTC)
    assert result.carrier_status == "Votre colis a été livré"
    assert result.extra["destination_country"] == "BR"
    assert len(result.events) == 9
    _aware(result)


def test_la_poste_invalid_number_is_not_found(shared_data: Path) -> None:
    body = (shared_data / RESPONSES / "karrio/laposte/ErrorResponse.json").read_bytes()
    (result,) = la_poste.parse_tracking_json(body, numbers=("XX123",))
    assert result.not_found
    assert result.tracking_number == "XX123"
    assert result.extra["error_code"] == "400"
    assert "n’est pas valide" in result.extra["error_message"]


def test_russian_post_fixture_codes_match_operation_types(shared_data: Path) -> None:
    """Our SOAP fixture's codes and Russian names agree with the published operation list."""
    from carriers.russian_post import parse_history_xml

    names = json.loads(
        (shared_data / RESPONSES / "russian_post/operation-types.json").read_text(encoding="utf-8")
    )
    fixture = Path(__file__).parents[2] / "fixtures/postal/russian_post_history.xml"
    (result,) = parse_history_xml(fixture.read_bytes())
    for event in result.events:
        assert event.code is not None
        assert re.fullmatch(r"\d+\.\d+", event.code)
        type_id, attr_id = event.code.split(".")
        operation = names[type_id]
        attribute = operation["attributes"].get(attr_id, "")
        assert event.text.split(": ")[0] == operation["operation"].split(" (")[0]
        if ": " in event.text:
            assert event.text.split(": ", 1)[1] == attribute
