"""Fetching over real HTTP on loopback: OAuth token flow, error mapping, batching and charsets."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from carriers.aftership import AfterShipAdapter
from carriers.base import CarrierSettings
from carriers.dhl import DHLAdapter
from carriers.fedex import FedExAdapter
from carriers.oauth import TokenCache
from carriers.seventeentrack import SeventeenTrackAdapter
from carriers.transport import carrier_client
from carriers.ups import UPSAdapter
from carriers.usps import USPSAdapter
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tracker.errors import CarrierAuthError, CarrierRateLimited, CarrierUnavailable, ParseError


class Clock:
    """A settable clock for token expiry."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def settings(server: LoopbackHTTPServer) -> CarrierSettings:
    return CarrierSettings(
        base_url=server.base_url, client_id="cid", client_secret="csecret", api_key="key"
    )


def token_route(server: LoopbackHTTPServer, path: str, lifetime: int = 3600) -> list[str]:
    """Serve numbered tokens at ``path``; returns the list of tokens handed out."""
    issued: list[str] = []

    def handler(request: Request) -> Reply:
        issued.append(f"tok{len(issued) + 1}")
        body = {"access_token": issued[-1], "token_type": "Bearer", "expires_in": str(lifetime)}
        return Reply(200, json.dumps(body), {"Content-Type": "application/json"})

    server.route("POST", path, handler)
    return issued


def usps_track(request: Request) -> Reply:
    if request.headers.get("authorization") != "Bearer tok2" and "tok2" in request.headers.get(
        "x-want", ""
    ):
        return Reply(401, "{}")
    body = {"trackingNumber": request.path.rsplit("/", 1)[1], "trackingEvents": []}
    return Reply(200, json.dumps(body), {"Content-Type": "application/json"})


async def test_usps_token_is_fetched_once_and_reused(loopback_http: LoopbackHTTPServer) -> None:
    issued = token_route(loopback_http, "/oauth2/v3/token")
    loopback_http.route("GET", "/tracking/v3/tracking/9400111206206406260787", usps_track)
    adapter = USPSAdapter(settings(loopback_http))
    async with carrier_client() as client:
        for _ in range(3):
            reply = await adapter.fetch(client, ["9400111206206406260787"])
            assert reply.status_code == 200
    assert issued == ["tok1"]
    token_request = next(r for r in loopback_http.requests if r.path == "/oauth2/v3/token")
    assert b"grant_type=client_credentials" in token_request.body
    assert b"client_secret=csecret" in token_request.body
    track = [r for r in loopback_http.requests if r.path.startswith("/tracking")]
    assert {r.headers["authorization"] for r in track} == {"Bearer tok1"}
    assert all(r.query["expand"] == ["DETAIL"] for r in track)
    assert adapter.parse(reply)[0].tracking_number == "9400111206206406260787"


async def test_token_refreshed_before_expiry_and_once_under_concurrency(
    loopback_http: LoopbackHTTPServer,
) -> None:
    issued = token_route(loopback_http, "/oauth/token", lifetime=600)
    clock = Clock()
    cache = TokenCache(
        f"{loopback_http.base_url}/oauth/token", "cid", "sec", carrier="fedex", clock=clock
    )
    async with carrier_client() as client:
        tokens = await asyncio.gather(*(cache.token(client) for _ in range(20)))
        assert set(tokens) == {"tok1"}
        clock.now += timedelta(seconds=500)  # still 100 s left, more than the 60 s margin
        assert await cache.token(client) == "tok1"
        clock.now += timedelta(seconds=50)  # 50 s left: refresh early
        assert await cache.token(client) == "tok2"
    assert issued == ["tok1", "tok2"]
    assert cache.fetches == 2


async def test_ups_401_with_stale_token_refetches_once(loopback_http: LoopbackHTTPServer) -> None:
    issued = token_route(loopback_http, "/security/v1/oauth/token")

    def track(request: Request) -> Reply:
        if request.headers["authorization"] == "Bearer tok1":  # revoked on the carrier's side
            return Reply(
                401, '{"response": {"errors": [{"code": "250002", "message": "Invalid Auth"}]}}'
            )
        body = {
            "trackResponse": {"shipment": [{"inquiryNumber": "1Z5R89390357567127", "package": []}]}
        }
        return Reply(200, json.dumps(body), {"Content-Type": "application/json"})

    loopback_http.route("GET", "/api/track/v1/details/1Z5R89390357567127", track)
    adapter = UPSAdapter(settings(loopback_http))
    async with carrier_client() as client:
        reply = await adapter.fetch(client, ["1Z5R89390357567127"])
    assert reply.status_code == 200
    assert issued == ["tok1", "tok2"]
    token_request = next(r for r in loopback_http.requests if r.path == "/security/v1/oauth/token")
    assert token_request.headers["authorization"].startswith("Basic ")
    track_requests = [r for r in loopback_http.requests if r.path.startswith("/api/track")]
    assert [r.headers["authorization"] for r in track_requests] == ["Bearer tok1", "Bearer tok2"]
    assert track_requests[0].headers["transactionsrc"] == "parcel-tracker"


async def test_persistent_401_is_auth_error(loopback_http: LoopbackHTTPServer) -> None:
    issued = token_route(loopback_http, "/oauth/token")
    loopback_http.route("POST", "/track/v1/trackingnumbers", lambda r: Reply(401, "{}"))
    adapter = FedExAdapter(settings(loopback_http))
    async with carrier_client() as client:
        with pytest.raises(CarrierAuthError):
            await adapter.fetch(client, ["986578788855"])
    assert issued == ["tok1", "tok2"]  # exactly one re-fetch, no loop


async def test_refused_credentials_are_auth_error(loopback_http: LoopbackHTTPServer) -> None:
    body = '{"error": "invalid_client", "error_description": "Client authentication failed."}'
    loopback_http.route("POST", "/oauth2/v3/token", lambda r: Reply(401, body))
    adapter = USPSAdapter(settings(loopback_http))
    async with carrier_client() as client:
        with pytest.raises(CarrierAuthError, match="Client authentication failed"):
            await adapter.fetch(client, ["9400111206206406260787"])


def test_missing_credentials_are_auth_error() -> None:
    with pytest.raises(CarrierAuthError, match="client_id"):
        UPSAdapter(CarrierSettings())


async def test_fedex_batches_numbers_in_one_request(loopback_http: LoopbackHTTPServer) -> None:
    token_route(loopback_http, "/oauth/token")
    seen: list[dict[str, Any]] = []

    def track(request: Request) -> Reply:
        seen.append(json.loads(request.body))
        return Reply(
            200, '{"output": {"completeTrackResults": []}}', {"Content-Type": "application/json"}
        )

    loopback_http.route("POST", "/track/v1/trackingnumbers", track)
    numbers = [f"98657878885{i}" for i in range(5)]
    async with carrier_client() as client:
        await FedExAdapter(settings(loopback_http)).fetch(client, numbers)
    assert FedExAdapter.max_numbers_per_request == 30
    (body,) = seen
    sent = [item["trackingNumberInfo"]["trackingNumber"] for item in body["trackingInfo"]]
    assert sent == numbers
    assert body["includeDetailedScans"] is True


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (429, {"Retry-After": "17"}, CarrierRateLimited),
        (500, {}, CarrierUnavailable),
        (503, {}, CarrierUnavailable),
        (403, {}, CarrierAuthError),
    ],
)
async def test_dhl_error_statuses(
    loopback_http: LoopbackHTTPServer, status: int, headers: dict[str, str], error: type[Exception]
) -> None:
    loopback_http.route("GET", "/track/shipments", lambda r: Reply(status, "{}", headers))
    async with carrier_client() as client:
        with pytest.raises(error) as info:
            await DHLAdapter(settings(loopback_http)).fetch(client, ["3318810025"])
    if status == 429:
        assert isinstance(info.value, CarrierRateLimited)
        assert info.value.retry_after == 17.0
    sent = loopback_http.requests[0]
    assert sent.headers["dhl-api-key"] == "key"
    assert sent.query["trackingNumber"] == ["3318810025"]


async def test_oauth_429_keeps_retry_after(loopback_http: LoopbackHTTPServer) -> None:
    token_route(loopback_http, "/oauth2/v3/token")
    loopback_http.route(
        "GET",
        "/tracking/v3/tracking/9400111206206406260787",
        lambda r: Reply(429, "{}", {"Retry-After": "120"}),
    )
    async with carrier_client() as client:
        with pytest.raises(CarrierRateLimited) as info:
            await USPSAdapter(settings(loopback_http)).fetch(client, ["9400111206206406260787"])
    assert info.value.retry_after == 120.0


async def test_dhl_404_reaches_parse_as_not_found(loopback_http: LoopbackHTTPServer) -> None:
    problem = '{"status": 404, "title": "No result found", "detail": "No shipment found."}'
    loopback_http.route(
        "GET",
        "/track/shipments",
        lambda r: Reply(404, problem, {"Content-Type": "application/problem+json"}),
    )
    adapter = DHLAdapter(settings(loopback_http))
    async with carrier_client() as client:
        reply = await adapter.fetch(client, ["3318810036"])
    (result,) = adapter.parse(reply)
    assert result.not_found
    assert result.tracking_number == "3318810036"


async def test_malformed_body_is_parse_error_with_body(loopback_http: LoopbackHTTPServer) -> None:
    loopback_http.route(
        "GET",
        "/track/shipments",
        lambda r: Reply(200, "<html>maintenance</html>", {"Content-Type": "text/html"}),
    )
    adapter = DHLAdapter(settings(loopback_http))
    async with carrier_client() as client:
        reply = await adapter.fetch(client, ["3318810025"])
    with pytest.raises(ParseError) as info:
        adapter.parse(reply)
    assert info.value.body == b"<html>maintenance</html>"


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("Вручение адресату, Москва", "windows-1251"),
        ("Objeto saiu para entrega ao destinatário, São Paulo", "iso-8859-1"),
        ("快件已签收，深圳市", "gb18030"),
    ],
)
async def test_non_utf8_charset_arrives_intact(
    loopback_http: LoopbackHTTPServer, text: str, charset: str
) -> None:
    body = {
        "shipments": [
            {
                "id": "3318810025",
                "events": [
                    {
                        "timestamp": "2025-03-12T10:00:00+03:00",
                        "statusCode": "delivered",
                        "description": text,
                    }
                ],
            }
        ]
    }
    raw = json.dumps(body, ensure_ascii=False).encode(charset)
    loopback_http.route(
        "GET",
        "/track/shipments",
        lambda r: Reply(200, raw, {"Content-Type": f"application/json; charset={charset}"}),
    )
    adapter = DHLAdapter(settings(loopback_http))
    async with carrier_client() as client:
        reply = await adapter.fetch(client, ["3318810025"])
    assert adapter.parse(reply)[0].events[0].text == text


async def test_seventeentrack_registers_once_then_tracks_in_batches(
    loopback_http: LoopbackHTTPServer,
) -> None:
    def register(request: Request) -> Reply:
        numbers = [item["number"] for item in json.loads(request.body)]
        accepted = [{"number": n, "carrier": 3011} for n in numbers[1:]]
        rejected = [
            {"number": numbers[0], "error": {"code": -18019901, "message": "already registered"}}
        ]
        return Reply(
            200, json.dumps({"code": 0, "data": {"accepted": accepted, "rejected": rejected}})
        )

    def track(request: Request) -> Reply:
        numbers = [item["number"] for item in json.loads(request.body)]
        accepted = [
            {"number": n, "track_info": {"latest_status": {"status": "InTransit"}}} for n in numbers
        ]
        return Reply(200, json.dumps({"code": 0, "data": {"accepted": accepted, "rejected": []}}))

    loopback_http.route("POST", "/track/v2.2/register", register)
    loopback_http.route("POST", "/track/v2.2/gettrackinfo", track)
    adapter = SeventeenTrackAdapter(settings(loopback_http))  # a bare host: the API path is added
    numbers = [f"RB{i:08d}5CN" for i in range(40)]
    async with carrier_client() as client:
        first = await adapter.fetch(client, numbers)
        await adapter.fetch(client, numbers)
    assert [r.path for r in loopback_http.requests] == [
        "/track/v2.2/register",
        "/track/v2.2/gettrackinfo",
        "/track/v2.2/gettrackinfo",
    ]
    assert loopback_http.requests[0].headers["17token"] == "key"
    assert len(adapter.parse(first)) == 40
    assert adapter.registered == set(numbers)


async def test_aftership_creates_then_lists(loopback_http: LoopbackHTTPServer) -> None:
    def create(request: Request) -> Reply:
        return Reply(400, '{"meta": {"code": 4003, "message": "Tracking already exists."}}')

    def listing(request: Request) -> Reply:
        trackings = [
            {"tracking_number": n, "tag": "InTransit", "checkpoints": []}
            for n in request.query["tracking_numbers"][0].split(",")
        ]
        return Reply(200, json.dumps({"meta": {"code": 200}, "data": {"trackings": trackings}}))

    loopback_http.route("POST", "/trackings", create)
    loopback_http.route("GET", "/trackings", listing)
    adapter = AfterShipAdapter(settings(loopback_http))
    async with carrier_client() as client:
        reply = await adapter.fetch(client, ["RB123456785BR", "LP00123456789"])
        await adapter.fetch(client, ["RB123456785BR"])
    assert [r.method for r in loopback_http.requests] == ["POST", "POST", "GET", "GET"]
    assert loopback_http.requests[0].headers["as-api-key"] == "key"
    assert [r.tracking_number for r in adapter.parse(reply)] == ["RB123456785BR", "LP00123456789"]


async def test_unreachable_server_is_unavailable() -> None:
    adapter = DHLAdapter(
        CarrierSettings(base_url="http://127.0.0.1:9", api_key="k", timeout_seconds=2)
    )
    async with carrier_client() as client:
        with pytest.raises(CarrierUnavailable):
            await adapter.fetch(client, ["3318810025"])
