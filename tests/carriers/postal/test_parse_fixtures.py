"""Parse tests on replies written for this project, so they run without ../shared/data."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from carriers import australia_post, canada_post, correios, la_poste, russian_post
from carriers.base import CarrierAdapter, CarrierReply
from tests.carriers.postal import samples
from tracker.errors import CarrierAuthError, ParseError


def test_canada_post_zone_abbreviation_and_province_fallback() -> None:
    (result,) = canada_post.parse_tracking_xml(samples.CANADA_POST_DETAIL)
    delivered, processed = result.events
    assert delivered.occurred_at == datetime(2024, 5, 9, 22, 4, 5, tzinfo=UTC)  # PDT = -7
    assert delivered.location == "VANCOUVER, BC"
    # no abbreviation: Manitoba's zone (CST in January, -6)
    assert processed.occurred_at.utcoffset() == timedelta(hours=-6)
    assert result.expected_delivery == datetime(2024, 5, 10, tzinfo=ZoneInfo("America/Toronto"))


def test_canada_post_messages_reply_is_not_found() -> None:
    (result,) = canada_post.parse_tracking_xml(samples.CANADA_POST_NO_HISTORY, numbers=("99",))
    assert result.not_found
    assert result.extra["error_code"] == "004"


def test_australia_post_event_code_and_missing_id() -> None:
    found, missing = australia_post.parse_tracking_json(samples.AUSTRALIA_POST)
    (event,) = found.events
    assert event.code == "AFC"
    assert event.country == "AU"
    assert event.occurred_at == datetime(2024, 5, 31, 23, 10, 11, tzinfo=UTC)
    assert found.extra == {"product_type": "Parcel Post"}
    assert missing.not_found
    assert missing.tracking_number == "BAD"


def test_la_poste_single_object_and_not_found() -> None:
    (result,) = la_poste.parse_tracking_json(samples.LA_POSTE)
    assert [e.code for e in result.events] == ["PC1", "DI1"]
    assert result.events[0].text == "Votre colis a été déposé."
    assert result.carrier_status == "Pris en charge"
    (missing,) = la_poste.parse_tracking_json(samples.LA_POSTE_NOT_FOUND, numbers=("6A0",))
    assert missing.not_found
    assert missing.extra["error_message"] == "Numéro de suivi introuvable"


def test_correios_rastro_codes_times_and_places() -> None:
    body = json.dumps(samples.correios_rastro()).encode()
    (result,) = correios.parse_rastro_json(body)
    delivered, customs, posted = result.events
    assert delivered.code == "BDE.01"
    assert delivered.text == "Objeto entregue ao destinatário"
    assert delivered.location == "SÃO PAULO/SP"
    assert delivered.country == "BR"
    # no offset: Brasília time
    assert delivered.occurred_at == datetime(
        2024, 4, 10, 14, 25, 31, tzinfo=ZoneInfo("America/Sao_Paulo")
    )
    assert delivered.occurred_at.utcoffset() == timedelta(hours=-3)
    assert customs.text == "Fiscalização aduaneira finalizada – Pagamento confirmado"
    assert customs.occurred_at.tzinfo == timezone(timedelta(hours=-3))
    assert posted.location == "CHINA"
    assert posted.country is None
    assert result.extra["service_name"] == "ETIQUETA LOGICA SEDEX"
    assert result.expected_delivery is not None


def test_correios_rastro_message_only_is_not_found() -> None:
    body = json.dumps(samples.correios_rastro("SRO-020: Objeto não encontrado")).encode()
    (result,) = correios.parse_rastro_json(body)
    assert result.not_found
    assert result.extra["message"] == "SRO-020: Objeto não encontrado"


def test_russian_post_history_fixture() -> None:
    body = (samples.FIXTURES / "russian_post_history.xml").read_bytes()
    (result,) = russian_post.parse_history_xml(body)
    assert result.tracking_number == "RA123456785CN"
    codes = [e.code for e in result.events]
    assert codes == ["1.1", "10.0", "9.1", "11.0", "14.1", "8.2", "2.1"]
    delivered = result.events[-1]
    assert delivered.text == "Вручение: Вручение адресату"
    assert delivered.location == "630099, Новосибирск 630099"
    assert delivered.country == "RU"
    assert delivered.occurred_at == datetime(2024, 3, 16, 5, 5, tzinfo=UTC)
    assert result.events[0].country == "CN"
    assert result.extra == {"mail_type": "Мелкий пакет"}


def test_russian_post_time_without_offset_is_moscow_time() -> None:
    body = (samples.FIXTURES / "russian_post_history.xml").read_bytes()
    body = body.replace(b"2024-03-16T12:05:00.000+07:00", b"2024-03-16T12:05:00")
    (result,) = russian_post.parse_history_xml(body)
    assert result.events[-1].occurred_at == datetime(2024, 3, 16, 9, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("russian_post_empty.xml", None),
        ("russian_post_fault_barcode.xml", "Неверный формат идентификатора отправления"),
    ],
)
def test_russian_post_not_found(fixture: str, message: str | None) -> None:
    body = (samples.FIXTURES / fixture).read_bytes()
    (result,) = russian_post.parse_history_xml(body, numbers=("RA000000000RU",))
    assert result.not_found
    assert result.tracking_number == "RA000000000RU"
    assert result.extra.get("error_message") == message


def test_russian_post_auth_fault_raises_auth_error() -> None:
    body = (samples.FIXTURES / "russian_post_fault_auth.xml").read_bytes()
    with pytest.raises(CarrierAuthError, match="неверный логин"):
        russian_post.parse_history_xml(body)


@pytest.mark.parametrize(
    ("adapter", "body"),
    [
        (canada_post.CanadaPostAdapter(), b"<tracking-detail><pin>1</pin"),
        (australia_post.AustraliaPostAdapter(), b"<html>Service Unavailable</html>"),
        (la_poste.LaPosteAdapter(), b'{"shipment": '),
        (russian_post.RussianPostAdapter(), b"not xml at all"),
        (correios.CorreiosAdapter(), b'{"objetos": [{"eventos": "x"}]}'),
    ],
)
def test_malformed_body_is_parse_error_keeping_body(adapter: CarrierAdapter, body: bytes) -> None:
    reply = CarrierReply(numbers=("X1",), status_code=200, body=body)
    with pytest.raises(ParseError) as caught:
        adapter.parse(reply)
    assert caught.value.body == body


def test_xml_with_a_dtd_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><messages>&x;</messages>'
    with pytest.raises(ParseError, match="DTD"):
        canada_post.parse_tracking_xml(bomb)
