"""Parsing of aggregator and express-carrier replies: our own fixtures and recorded real ones."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from carriers import seventeentrack
from carriers.aftership import AfterShipAdapter
from carriers.base import CarrierAdapter, CarrierReply, CarrierSettings
from carriers.dhl import DHLAdapter
from carriers.fedex import FedExAdapter
from carriers.seventeentrack import SeventeenTrackAdapter
from carriers.ups import UPSAdapter
from carriers.usps import USPSAdapter
from tracker.errors import CarrierError, ParseError
from tracker.model import UNATTRIBUTED_ESTIMATES, TrackingResult

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "carriers"
SETTINGS = CarrierSettings(api_key="k", client_id="id", client_secret="secret")


def parse(
    adapter: type[CarrierAdapter], body: bytes, status: int = 200, number: str = "X"
) -> list[TrackingResult]:
    reply = CarrierReply(
        numbers=(number,), status_code=status, body=body, content_type="application/json"
    )
    return adapter(SETTINGS).parse(reply)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def assert_aware(results: list[TrackingResult]) -> None:
    for result in results:
        for event in result.events:
            assert event.occurred_at.utcoffset() is not None, event


# --- our own fixtures (always run) ------------------------------------------------------------


def test_usps_events_keep_the_scan_offset() -> None:
    (result,) = parse(USPSAdapter, fixture("usps/tracking.json"))
    assert result.tracking_number == "9400111206206406260787"
    assert result.carrier_status == "In Transit"
    assert len(result.events) == 3
    first, china, label = result.events
    assert first.occurred_at == datetime(2025, 3, 11, 4, 5, 12, tzinfo=UTC)
    assert first.occurred_at.utcoffset() == timedelta(hours=-7)
    assert china.occurred_at == datetime(2025, 3, 8, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    assert (china.country, china.code) == ("CN", "EX")
    assert (label.location, label.country) == ("SPRINGFIELD GARDENS, NY 11413", "US")
    assert result.expected_delivery == datetime(2025, 3, 14, tzinfo=UTC)


def test_usps_404_is_not_found() -> None:
    (result,) = parse(
        USPSAdapter, fixture("usps/not_found.json"), status=404, number="9400111206206406260788"
    )
    assert result.not_found
    assert result.tracking_number == "9400111206206406260788"
    assert "may be incorrect" in result.extra["error"]


def test_ups_gmt_fields_win_and_local_time_uses_single_zone_country() -> None:
    (result,) = parse(UPSAdapter, fixture("ups/tracking.json"))
    arrived, departed, label = result.events
    assert arrived.occurred_at == datetime(2025, 3, 11, 23, 30, tzinfo=UTC)
    assert arrived.occurred_at.utcoffset() == timedelta(hours=-5)
    assert departed.occurred_at.utcoffset() == timedelta(hours=1)  # France has one zone
    assert departed.location == "Orléans"
    assert label.occurred_at.tzinfo is UTC  # China spans two tzdata zones: UTC, documented
    assert result.carrier_status == "On the Way"
    assert result.expected_delivery == datetime(2025, 3, 14, tzinfo=UTC)


def test_ups_warning_not_found() -> None:
    (result,) = parse(UPSAdapter, fixture("ups/not_found.json"))
    assert result.not_found
    assert result.tracking_number == "1Z8V92A70367203024"
    assert "TW0001" in result.extra["error"]


def test_fedex_batch_with_a_not_found_number() -> None:
    found, missing = parse(FedExAdapter, fixture("fedex/tracking.json"))
    assert found.tracking_number == "986578788855"
    assert not found.not_found
    assert [e.code for e in found.events] == ["AR", "CC"]
    assert found.events[1].occurred_at.utcoffset() == timedelta(hours=1)  # local Paris time
    assert found.expected_delivery == datetime(2025, 3, 16, 0, 0, tzinfo=UTC)
    assert missing.not_found
    assert missing.tracking_number == "477179081230"


def test_dhl_cyrillic_text_and_local_times() -> None:
    (result,) = parse(DHLAdapter, fixture("dhl/tracking.json"))
    assert len(result.events) == 3
    moscow = result.events[1]
    assert moscow.text == "Таможенное оформление завершено"
    assert moscow.occurred_at == datetime(2025, 3, 13, 9, 15, tzinfo=UTC)  # Russia: many zones
    assert result.events[2].occurred_at == datetime(2025, 3, 11, 15, 40, tzinfo=UTC)  # Amsterdam
    assert result.carrier_status == "transit"
    assert_aware([result])


def test_dhl_404_problem_is_not_found() -> None:
    (result,) = parse(DHLAdapter, fixture("dhl/not_found.json"), status=404, number="3318810036")
    assert result.not_found
    assert result.tracking_number == "3318810036"


def test_seventeentrack_accepted_and_rejected() -> None:
    accepted, rejected = parse(SeventeenTrackAdapter, fixture("seventeentrack/gettrackinfo.json"))
    assert accepted.tracking_number == "RB123456785CN"
    assert accepted.carrier_status == "InTransit"
    assert accepted.extra["sub_status"] == "InTransit_CustomsProcessing"
    texts = [e.text for e in accepted.events]
    assert texts[0] == "【深圳市】已收寄"
    assert "Таможенное оформление" in texts
    # 17TRACK's sub-statuses are its own code family; buyers see the carrier holding the parcel
    assert {e.carrier for e in accepted.events} == {"seventeentrack"}
    assert accepted.extra["holder"] == "Russian Post"
    assert accepted.events[1].occurred_at == datetime(2025, 3, 5, 1, 0, tzinfo=UTC)
    assert accepted.expected_delivery == datetime(2025, 3, 24, 21, 0, tzinfo=UTC)
    assert rejected.not_found
    assert rejected.extra["error_code"] == "-18019902"


@pytest.mark.parametrize(
    ("source", "named", "attributed"),
    [("17TRACK", "17TRACK", False), ("Official", "Russian Post", True)],
    ids=["17track-prediction", "carrier-estimate"],
)
def test_seventeentrack_says_whose_estimate_it_is(
    source: str, named: str, attributed: bool
) -> None:
    """17TRACK's own prediction is no carrier's word (notices tell it as ours); an official
    estimate is the carrier's holding the parcel (notices name it)."""
    body = fixture("seventeentrack/gettrackinfo.json").replace(
        b'"source": "17TRACK"', f'"source": "{source}"'.encode()
    )
    accepted, _ = parse(SeventeenTrackAdapter, body)
    assert accepted.extra["estimate_source"] == named
    assert (named not in UNATTRIBUTED_ESTIMATES) is attributed


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"code": -18010002, "data": {}}', "CarrierAuthError"),
        (b'{"code": -18010001, "data": {}}', "CarrierAuthError"),  # IP not whitelisted
        (b'{"code": -18010003, "data": {}}', "CarrierUnavailable"),  # internal: retry
        (b'{"code": -18010013, "data": {}}', "ParseError"),  # invalid submitted data
        (b'{"code": -1, "data": {}}', "ParseError"),
        (b"<html>gateway</html>", "ParseError"),
    ],
)
def test_seventeentrack_error_codes(body: bytes, error: str) -> None:
    with pytest.raises(CarrierError) as info:
        parse(SeventeenTrackAdapter, body)
    assert type(info.value).__name__ == error


def test_seventeentrack_webhook_signature_and_parse() -> None:
    body = fixture("seventeentrack/webhook.json")
    signature = hashlib.sha256(body + b"/secret-key").hexdigest()
    assert seventeentrack.verify_webhook_signature(body, signature, "secret-key")
    assert not seventeentrack.verify_webhook_signature(body, signature, "other-key")
    assert not seventeentrack.verify_webhook_signature(body + b" ", signature, "secret-key")
    (result,) = seventeentrack.parse_webhook(body)
    assert result.tracking_number == "RB123456785BR"
    assert result.events[0].text == "Objeto aguardando retirada no endereço indicado"
    assert result.carrier_status == "AvailableForPickup"


def test_seventeentrack_webhook_stopped_and_garbage() -> None:
    stopped = b'{"event": "TRACKING_STOPPED", "data": {"number": "RB123456785GB"}}'
    assert seventeentrack.parse_webhook(stopped)[0].extra["stopped"] == "true"
    with pytest.raises(ParseError) as info:
        seventeentrack.parse_webhook(b"not json")
    assert info.value.body == b"not json"


def test_aftership_trackings() -> None:
    brazil, pending = parse(AfterShipAdapter, fixture("aftership/trackings.json"))
    assert brazil.carrier_status == "InTransit"
    assert brazil.events[0].text == "Objeto em trânsito - por favor aguarde"
    assert brazil.events[0].location == "Curitiba, PR"
    assert brazil.events[1].occurred_at.tzinfo is UTC
    # AfterShip's own code family classifies its sub-statuses; buyers see the courier's name
    assert brazil.events[1].carrier == "aftership"
    assert brazil.extra["holder"] == "Correios"
    assert pending.not_found
    assert pending.tracking_number == "LP00123456789"


@pytest.mark.parametrize(
    "adapter", [USPSAdapter, UPSAdapter, FedExAdapter, DHLAdapter, AfterShipAdapter]
)
def test_malformed_body_is_parse_error_with_body_kept(adapter: type[CarrierAdapter]) -> None:
    with pytest.raises(ParseError) as info:
        parse(adapter, b'{"truncated": ')
    assert info.value.body == b'{"truncated": '


# --- recorded responses from ../shared/data (karrio) ------------------------------------------


KARRIO = ("carrier-responses", "karrio")


@pytest.mark.shared_data
def test_recorded_usps_v3(shared_data: Path) -> None:
    base = shared_data.joinpath(*KARRIO)
    for folder in ("usps", "usps_international"):
        (result,) = parse(USPSAdapter, (base / folder / "TrackingResponse.json").read_bytes())
        assert result.tracking_number == "9400109104250532908587"
        assert len(result.events) == 12
        assert result.events[0].text == "Delivered, Parcel Locker"
        assert result.events[0].occurred_at == datetime(2024, 11, 22, 18, 58, 40, tzinfo=UTC)
        assert result.events[-1].code == "GX"
        assert result.carrier_status == "Delivered"
        assert_aware([result])
        (error,) = parse(
            USPSAdapter, (base / folder / "ErrorResponse.json").read_bytes(), status=400
        )
        assert error.not_found


@pytest.mark.shared_data
def test_recorded_ups(shared_data: Path) -> None:
    base = shared_data.joinpath(*KARRIO, "ups")
    (result,) = parse(UPSAdapter, (base / "TrackingResponseJSON.json").read_bytes())
    assert len(result.events) == 1
    assert result.events[0].text == "Your package was released by the customs agency."
    assert result.events[0].occurred_at == datetime(2021, 2, 10, 7, 13, 56, tzinfo=UTC)
    assert result.events[0].country == "US"
    for name in (
        "TrackingNumberNotFoundResponseJSON.json",
        "InvalidTrackingNumberResponseJSON.json",
    ):
        (missing,) = parse(UPSAdapter, (base / name).read_bytes(), status=404, number="1Z0")
        assert missing.not_found
        assert missing.tracking_number == "1Z0"


@pytest.mark.shared_data
def test_recorded_fedex(shared_data: Path) -> None:
    base = shared_data.joinpath(*KARRIO, "fedex")
    results = parse(FedExAdapter, (base / "TrackingResponse.json").read_bytes())
    assert [r.not_found for r in results] == [False, True]
    assert results[0].events[0].text == "Picked Up: Package available for clearance"
    (duplicate,) = parse(FedExAdapter, (base / "DuplicateTrackingResponse.json").read_bytes())
    assert duplicate.extra["shipments_with_this_number"] == "2"
    assert len(duplicate.events) == 8
    assert duplicate.events[0].code == "DL"
    (inconsistent,) = parse(FedExAdapter, (base / "InconsistentDateTimeResponse.json").read_bytes())
    assert len(inconsistent.events) == 17
    assert inconsistent.events[0].occurred_at == datetime(2024, 8, 20, 16, 41, 57, tzinfo=UTC)
    assert_aware([*results, duplicate, inconsistent])
    with pytest.raises(ParseError, match=r"TRACKING\.TRACKINGNUMBER\.EMPTY"):
        parse(FedExAdapter, (base / "ErrorResponse.json").read_bytes(), status=400)


@pytest.mark.shared_data
def test_recorded_dhl_unified(shared_data: Path) -> None:
    base = shared_data.joinpath(*KARRIO, "dhl_universal")
    (result,) = parse(DHLAdapter, (base / "TrackingResponseJSON.json").read_bytes())
    assert result.tracking_number == "7777777770"
    assert len(result.events) == 1
    event = result.events[0]
    assert (event.code, event.country) == ("pre-transit", "NL")
    assert event.occurred_at == datetime(2018, 3, 2, 6, 53, 47, tzinfo=UTC)  # Amsterdam, CET
    assert result.expected_delivery == datetime(2018, 8, 3, tzinfo=UTC)
    (missing,) = parse(
        DHLAdapter, (base / "TrackingErrorResponseJSON.json").read_bytes(), status=404
    )
    assert missing.not_found
