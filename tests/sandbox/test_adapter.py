"""The sandbox adapter: every misbehaviour of the service becomes the right CarrierError, and
``parse`` is a pure function of a recorded reply."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from carriers.base import CarrierReply, CarrierSettings
from carriers.http import MAX_BODY_BYTES
from carriers.sandbox import (
    FaultMode,
    SandboxAdapter,
    SandboxService,
    load_journeys,
    sandbox_number,
)
from tests.sandbox.conftest import START
from tracker.clock import SimulatedClock
from tracker.errors import (
    CarrierAuthError,
    CarrierError,
    CarrierRateLimited,
    CarrierUnavailable,
    ParseError,
)
from tracker.model import RawEvent, TrackingResult

RECORDED = Path(__file__).parent / "data" / "track_reply.json"
JOURNEYS = load_journeys()


def _recorded_reply(
    body: bytes | None = None, content_type: str = "application/json"
) -> CarrierReply:
    return CarrierReply(
        numbers=("SBCH00000007", "SBRT00000003", "LX123456789CN"),
        status_code=200,
        body=RECORDED.read_bytes() if body is None else body,
        content_type=content_type,
        url="http://127.0.0.1:1/v1/track",
    )


def test_the_adapter_declares_its_limits() -> None:
    assert SandboxAdapter.name == "sandbox"
    assert SandboxAdapter.display_name == "Sandbox Post"
    assert SandboxAdapter.max_numbers_per_request == 40
    assert SandboxAdapter.requests_per_second > 0
    assert SandboxAdapter.max_concurrency >= 1


def test_tracking_url_points_at_the_services_page() -> None:
    adapter = SandboxAdapter(CarrierSettings(base_url="http://127.0.0.1:8765/"))
    assert adapter.tracking_url("SBNM00000001") == "http://127.0.0.1:8765/track/SBNM00000001"
    assert adapter.tracking_url("A/B C") == "http://127.0.0.1:8765/track/A%2FB%20C"
    assert SandboxAdapter().tracking_url("SBNM00000001") is None


async def test_fetch_and_parse_over_http(
    service: SandboxService,
    adapter: SandboxAdapter,
    clock: SimulatedClock,
    client: httpx.AsyncClient,
) -> None:
    delivered = sandbox_number(JOURNEYS["express"], 1)
    brazil = sandbox_number(JOURNEYS["customs_hold"], 2)
    service.register(delivered)
    service.register(brazil, registered_at=START - timedelta(days=14))
    clock.advance(timedelta(days=6))

    reply = await adapter.fetch(client, [delivered, "NOPE1", brazil])
    results = {r.tracking_number: r for r in adapter.parse(reply)}

    assert reply.numbers == (delivered, "NOPE1", brazil)
    assert results[brazil].events[0].location == "São Paulo 01310-000"  # UTF-8 over the wire
    assert results["NOPE1"] == TrackingResult(tracking_number="NOPE1", not_found=True)
    express = results[delivered]
    assert len(express.events) == len(JOURNEYS["express"].steps)
    newest = max(express.events, key=lambda e: e.occurred_at)
    assert (newest.code, newest.text, newest.country) == ("EMI", "Delivered", "GB")
    assert newest.carrier == "sandbox"
    assert newest.occurred_at == START + timedelta(days=5, hours=2)
    assert express.expected_delivery == START + timedelta(days=6)
    assert express.extra == {"origin": "CN", "destination": "GB"}


async def test_a_batch_of_forty_goes_in_one_request(
    service: SandboxService, adapter: SandboxAdapter, client: httpx.AsyncClient
) -> None:
    numbers = [sandbox_number(JOURNEYS["normal"], i) for i in range(40)]
    for number in numbers:
        service.register(number)
    results = adapter.parse(await adapter.fetch(client, numbers))
    assert [r.tracking_number for r in results] == numbers
    assert service.stats["requests"]["/v1/track"] == 1
    with pytest.raises(ValueError, match="1 to 40"):
        await adapter.fetch(client, [*numbers, "ONE_TOO_MANY"])


@pytest.mark.parametrize(
    ("mode", "error", "message"),
    [
        (FaultMode.HTTP_500, CarrierUnavailable, "HTTP 500"),
        (FaultMode.RATE_LIMIT, CarrierRateLimited, "HTTP 429"),
        (FaultMode.DELAY, CarrierUnavailable, "timed out"),
        (FaultMode.HUGE, CarrierUnavailable, "cap"),
        (FaultMode.DISCONNECT, CarrierUnavailable, "transport failure"),
        (FaultMode.GARBAGE, ParseError, "not JSON"),
        (FaultMode.TRUNCATED, ParseError, "not JSON"),
        (FaultMode.WRONG_CHARSET, ParseError, "not JSON"),
    ],
)
async def test_every_fault_becomes_the_right_carrier_error(
    service: SandboxService,
    adapter: SandboxAdapter,
    client: httpx.AsyncClient,
    mode: FaultMode,
    error: type[CarrierError],
    message: str,
) -> None:
    service.register("SBNM00000001")
    # A GET whose connection drops before any answer is sent again once (RFC 9112 9.3.1), so a
    # disconnect must happen twice to reach the adapter.
    count = 2 if mode is FaultMode.DISCONNECT else 1
    service.set_fault(mode, count=count, delay_seconds=2.0, retry_after=17)

    with pytest.raises(error, match=message) as caught:
        adapter.parse(await adapter.fetch(client, ["SBNM00000001"]))

    assert type(caught.value) is error
    assert caught.value.carrier == "sandbox"
    if isinstance(caught.value, CarrierRateLimited):
        assert caught.value.retry_after == 17.0
    if isinstance(caught.value, ParseError):
        assert caught.value.body  # kept for the log and for replay
    assert service.stats["faults_injected"] == {mode.value: count}
    # the fault is spent: the next request is answered properly
    (result,) = adapter.parse(await adapter.fetch(client, ["SBNM00000001"]))
    assert result.events


async def test_garbage_keeps_the_exact_body_in_the_parse_error(
    service: SandboxService, adapter: SandboxAdapter, client: httpx.AsyncClient
) -> None:
    service.set_fault(FaultMode.GARBAGE, count=1)
    reply = await adapter.fetch(client, ["A"])
    assert len(reply.body) == 512
    with pytest.raises(ParseError) as caught:
        adapter.parse(reply)
    assert caught.value.body == reply.body


async def test_a_huge_reply_is_refused_without_buffering_it_all(
    service: SandboxService, adapter: SandboxAdapter, client: httpx.AsyncClient
) -> None:
    service.set_fault(FaultMode.HUGE, count=1, size_bytes=MAX_BODY_BYTES * 4)
    with pytest.raises(CarrierUnavailable, match=f"exceeds the {MAX_BODY_BYTES}-byte cap"):
        await adapter.fetch(client, ["A"])


async def test_a_body_just_under_the_cap_is_read_whole(
    service: SandboxService, adapter: SandboxAdapter, client: httpx.AsyncClient
) -> None:
    service.set_fault(FaultMode.HUGE, count=1, size_bytes=64 * 1024)
    reply = await adapter.fetch(client, ["A"])
    assert adapter.parse(reply) == []  # valid JSON with no results, only padding


async def test_without_the_right_key_fetch_raises_auth_error(
    service: SandboxService, client: httpx.AsyncClient
) -> None:
    for key in (None, "wrong"):
        adapter = SandboxAdapter(CarrierSettings(base_url=service.base_url, api_key=key))
        with pytest.raises(CarrierAuthError, match="HTTP 401"):
            await adapter.fetch(client, ["A"])


@pytest.mark.integration
async def test_an_unreachable_service_is_unavailable(
    clock: SimulatedClock, client: httpx.AsyncClient
) -> None:
    async with SandboxService(clock.now) as gone:
        url = gone.base_url
    adapter = SandboxAdapter(CarrierSettings(base_url=url))
    with pytest.raises(CarrierUnavailable):
        await adapter.fetch(client, ["A"])


async def test_without_a_base_url_fetch_says_so(client: httpx.AsyncClient) -> None:
    with pytest.raises(CarrierError, match="no base_url configured"):
        await SandboxAdapter().fetch(client, ["A"])


def test_parse_of_the_recorded_reply() -> None:
    adapter = SandboxAdapter()
    results = adapter.parse(_recorded_reply())

    assert [r.tracking_number for r in results] == ["SBCH00000007", "SBRT00000003", "LX123456789CN"]
    held, returning, unknown = results
    assert unknown.not_found
    assert unknown.events == ()
    assert held.events[0] == RawEvent(
        occurred_at=datetime(2025, 3, 11, 8, 0, tzinfo=UTC),
        text="Customs duties payable by recipient",
        code="EME",
        location="Curitiba International Mail Centre",
        country="BR",
        carrier="sandbox",
    )
    assert len(held.events) == 8
    assert held.expected_delivery == datetime(2025, 3, 21, 8, 0, tzinfo=UTC)
    assert returning.events[0].text == "Item is being returned to sender"
    assert returning.events[1].location == "Logroño 26001"
    assert {e.code for e in returning.events if e.code} >= {"EMA", "EMD", "EMH"}


def test_parse_is_pure_the_same_reply_gives_the_same_results() -> None:
    adapter = SandboxAdapter()
    reply = _recorded_reply()
    first = adapter.parse(reply)
    assert adapter.parse(reply) == first
    assert SandboxAdapter(CarrierSettings(base_url="http://elsewhere")).parse(reply) == first
    assert [[e.fingerprint() for e in r.events] for r in first] == [
        [e.fingerprint() for e in r.events] for r in adapter.parse(_recorded_reply())
    ]


def test_parse_honours_the_declared_charset() -> None:
    text = RECORDED.read_text("utf-8")
    reply = _recorded_reply(text.encode("latin-1"), "application/json; charset=ISO-8859-1")
    (_, returning, _) = SandboxAdapter().parse(reply)
    assert returning.events[1].location == "Logroño 26001"


def _with(**changes: object) -> bytes:
    data = json.loads(RECORDED.read_text("utf-8"))
    event = data["results"][0]["events"][0]
    for key, value in changes.items():
        if value is None:
            del event[key]
        else:
            event[key] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not JSON"),
        (b"<html><body>Bad gateway</body></html>", "not JSON"),
        (RECORDED.read_bytes()[:300], "not JSON"),
        (b"[]", "unexpected reply shape"),
        (b'{"results": {}}', "results: Input should be a valid list"),
        (b'{"results": [{"found": true}]}', "results.0.tracking_number: Field required"),
        (_with(time="2025-03-11T08:00:00"), "results.0.events.0.time: Input should have timezone"),
        (_with(time="last tuesday"), "results.0.events.0.time"),
        (_with(description=None), "results.0.events.0.description: Field required"),
        (_with(code=7), "results.0.events.0.code: Input should be a valid string"),
        (_with(location=["Hub"]), "results.0.events.0.location: Input should be a valid string"),
        (_with(country=False), "results.0.events.0.country: Input should be a valid string"),
    ],
)
def test_parse_refuses_what_it_does_not_understand_and_keeps_the_body(
    body: bytes, problem: str
) -> None:
    with pytest.raises(ParseError, match=problem) as caught:
        SandboxAdapter().parse(_recorded_reply(body))
    assert caught.value.body == body[: ParseError.BODY_CAP]
    assert caught.value.carrier == "sandbox"


def test_parse_refuses_an_error_status() -> None:
    reply = CarrierReply(numbers=("A",), status_code=500, body=b'{"error": "internal_error"}')
    with pytest.raises(ParseError, match="HTTP 500") as caught:
        SandboxAdapter().parse(reply)
    assert caught.value.body == b'{"error": "internal_error"}'


@pytest.mark.parametrize(
    "when",
    ["2025-03-11T08:00:00+00:00", "2025-03-11T08:00:00Z", "2025-03-11T08:00:00.250+05:30",
     "2025-03-11T08:00:00-00:00", "2025-03-11T08:00:00.000001z",
     "2025-03-11 08:00:00-03:00", "2025-03-11T08:00:00.123456+01:00"],
)  # fmt: skip
def test_the_fast_reader_gives_what_the_model_gives(when: str) -> None:
    """parse reads well-formed replies from dicts (no per-event model); for every input it must
    return exactly what the pydantic model path returns, tzinfo included."""
    from carriers.sandbox.adapter import _Reply

    body = _with(time=when)
    adapter = SandboxAdapter()
    fast = adapter.parse(_recorded_reply(body))
    model = [adapter._result(r) for r in _Reply.model_validate(json.loads(body)).results]
    assert fast == model
    for got, want in zip(fast, model, strict=True):
        for a, b in zip(got.events, want.events, strict=True):
            assert a.occurred_at.tzinfo == b.occurred_at.tzinfo
            assert a.fingerprint() == b.fingerprint()


def _parts_parsed(reply: CarrierReply) -> list[TrackingResult]:
    return [part.parse() for part in SandboxAdapter().reply_parts(reply)]


@pytest.mark.parametrize(
    "body",
    [None, _with(time="2025-03-11T08:00:00Z"), _with(time="2025-03-11T08:00:00.250+05:30")],
)
def test_reply_parts_give_what_parse_gives_with_each_parts_own_text(body: bytes | None) -> None:
    reply = _recorded_reply(body)
    parts = SandboxAdapter().reply_parts(reply)
    assert [part.parse() for part in parts] == SandboxAdapter().parse(reply)
    items = json.loads(reply.body)["results"]
    assert [part.tracking_number for part in parts] == [i["tracking_number"] for i in items]
    assert [json.loads(part.source or "") for part in parts] == items


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not JSON"),
        (RECORDED.read_bytes()[:300], "not JSON"),
        (b'{"results": {}}', "results: Input should be a valid list"),
        (b'{"results": [{"found": true}]}', "results.0.tracking_number: Field required"),
        (_with(time="2025-03-11T08:00:00"), "results.0.events.0.time: Input should have timezone"),
        (_with(description=None), "results.0.events.0.description: Field required"),
    ],
)
def test_reading_every_part_refuses_what_parse_refuses(body: bytes, problem: str) -> None:
    with pytest.raises(ParseError, match=problem) as caught:
        _parts_parsed(_recorded_reply(body))
    assert caught.value.body == body[: ParseError.BODY_CAP]
