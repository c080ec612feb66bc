"""AfterShip (Tracking API 2024-10) on a loopback fake written from AfterShip's public docs:
what creation sends, sub-statuses that classify, the courier's estimate, expired trackings,
the courier buyers see, and 429/401 answers as AfterShip documents them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from carriers.aftership import AfterShipAdapter, tracking_result
from carriers.base import CarrierReply, CarrierSettings, ParcelInfo
from carriers.transport import carrier_client
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tracker.errors import CarrierAuthError, CarrierRateLimited
from tracker.model import Detail, Status
from tracker.normalize import load_normalizer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "carriers" / "aftership"
TRACKINGS = (FIXTURE / "trackings_2024_10.json").read_bytes()
#: every field AfterShip's create-tracking request takes that would identify or reach the buyer
BUYER_FIELDS = {"emails", "smses", "customer_name", "customers", "email", "phone"}


def test_sub_statuses_classify_every_checkpoint() -> None:
    usps = AfterShipAdapter().parse(CarrierReply((), 200, TRACKINGS))[0]
    normalizer = load_normalizer([])
    classified = [normalizer.classify(event) for event in usps.events]
    assert [(c.status, c.detail) for c in classified] == [
        (Status.IN_TRANSIT, Detail.ACCEPTED),
        (Status.DELIVERY_FAILED, Detail.RECIPIENT_UNAVAILABLE),
    ]
    assert [e.code for e in usps.events] == ["InTransit_002", "AttemptFail_001"]
    assert {e.carrier for e in usps.events} == {"aftership"}
    assert usps.events[0].country == "US"  # AfterShip's alpha-3 read as alpha-2


def test_the_couriers_estimate_wins_over_aftership_prediction() -> None:
    usps = AfterShipAdapter().parse(CarrierReply((), 200, TRACKINGS))[0]
    # a date alone means "by the end of that day"
    assert usps.expected_delivery == datetime(2026, 12, 4, 23, 59, 59, tzinfo=UTC)
    assert usps.extra["estimate_source"] == "USPS"
    assert usps.extra["holder"] == "USPS"

    tracking = json.loads(TRACKINGS)["data"]["trackings"][0]
    tracking["courier_estimated_delivery_date"] = None
    predicted = tracking_result(tracking)
    assert predicted.expected_delivery == datetime(2026, 12, 7, 23, 59, 59, tzinfo=UTC)
    assert predicted.extra["estimate_source"] == "AfterShip"


def test_an_expired_tracking_becomes_an_expired_event() -> None:
    results = {
        r.tracking_number: r for r in AfterShipAdapter().parse(CarrierReply((), 200, TRACKINGS))
    }
    normalizer = load_normalizer([])
    for number in ("LP00123456789", "RB123456785BR"):
        last = results[number].events[-1]
        assert normalizer.classify(last).status is Status.EXPIRED
        assert not results[number].not_found
    empty = results["LP00123456789"]
    assert empty.events[-1].occurred_at == datetime(2026, 11, 30, 4, 12, 45, tzinfo=UTC)
    # the courier the buyer sees is the one AfterShip names, never AfterShip
    assert results["RB123456785BR"].extra["holder"] == "Correios"
    assert empty.extra["holder"] == "cainiao"  # not in our table: AfterShip's slug as given


def serve_aftership(server: LoopbackHTTPServer, created: list[dict[str, object]]) -> None:
    def create(request: Request) -> Reply:
        body = json.loads(request.body)
        created.append(body)
        if body["tracking_number"] == "LP00123456789":
            return Reply(400, '{"meta": {"code": 4003, "message": "Tracking already exists."}}')
        return Reply(201, json.dumps({"meta": {"code": 201}, "data": body}))

    server.route("POST", "/trackings", create)
    server.route("GET", "/trackings", lambda request: Reply(200, TRACKINGS))


async def test_creation_sends_slug_order_and_destination_never_the_buyer(
    loopback_http: LoopbackHTTPServer,
) -> None:
    created: list[dict[str, object]] = []
    serve_aftership(loopback_http, created)
    adapter = AfterShipAdapter(CarrierSettings(base_url=loopback_http.base_url, api_key="k"))
    parcels = [
        ParcelInfo("RB123456785BR", "aftership", "ORD-7", "BR", "CN"),
        ParcelInfo("LP00123456789", "aftership", "ORD-8", "DE"),
    ]
    async with carrier_client() as client:
        await adapter.fetch_parcels(client, parcels)
        await adapter.fetch_parcels(client, parcels)  # created once, however often polled
    assert created == [
        {
            "tracking_number": "RB123456785BR",
            "slug": "brazil-correios",  # detected as Correios, mapped in aftership_couriers.toml
            "order_number": "ORD-7",
            "destination_country_region": "BRA",
            "origin_country_region": "CHN",
        },
        {
            "tracking_number": "LP00123456789",
            "order_number": "ORD-8",
            "destination_country_region": "DEU",
        },
    ]
    assert not BUYER_FIELDS & {key for body in created for key in body}
    methods = [r.method for r in loopback_http.requests]
    assert methods == ["POST", "POST", "GET", "GET"]
    assert {r.headers["as-api-key"] for r in loopback_http.requests} == {"k"}


async def test_a_configured_slug_wins(loopback_http: LoopbackHTTPServer) -> None:
    created: list[dict[str, object]] = []
    serve_aftership(loopback_http, created)
    adapter = AfterShipAdapter(
        CarrierSettings(base_url=loopback_http.base_url, api_key="k", options={"slug": "4px"})
    )
    async with carrier_client() as client:
        await adapter.fetch_parcels(client, [ParcelInfo("RB123456785BR", "aftership")])
    assert created[0]["slug"] == "4px"


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        (lambda: {"Retry-After": "7"}, 7, 7),
        # X-RateLimit-Reset is the epoch second the limit resets, read against the wall clock
        (lambda: {"X-RateLimit-Reset": str(int(time.time()) + 30)}, 25, 31),
        (dict, None, None),
    ],
    ids=["retry-after", "x-ratelimit-reset-epoch", "no-header"],
)
async def test_429_says_how_long_to_wait(
    loopback_http: LoopbackHTTPServer,
    headers: Callable[[], dict[str, str]],
    low: int | None,
    high: int | None,
) -> None:
    sent = headers()
    body = '{"meta": {"code": 429, "message": "You have exceeded the API call rate limit."}}'
    loopback_http.route("POST", "/trackings", lambda r: Reply(429, body, sent))
    adapter = AfterShipAdapter(CarrierSettings(base_url=loopback_http.base_url, api_key="k"))
    async with carrier_client() as client:
        with pytest.raises(CarrierRateLimited) as info:
            await adapter.fetch(client, ["RB123456785BR"])
    if low is None:
        assert info.value.retry_after is None
        assert "no wait given" in str(info.value)
    else:
        assert info.value.retry_after is not None
        assert high is not None
        assert low <= info.value.retry_after <= high
    assert "None" not in str(info.value)


async def test_401_is_a_credentials_error(loopback_http: LoopbackHTTPServer) -> None:
    body = '{"meta": {"code": 401, "message": "Invalid API key."}}'
    loopback_http.route("POST", "/trackings", lambda r: Reply(401, body))
    adapter = AfterShipAdapter(CarrierSettings(base_url=loopback_http.base_url, api_key="revoked"))
    async with carrier_client() as client:
        with pytest.raises(CarrierAuthError, match="HTTP 401"):
            await adapter.fetch(client, ["RB123456785BR"])
