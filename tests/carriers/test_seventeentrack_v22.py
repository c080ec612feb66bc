"""17TRACK v2.2 on a loopback fake written from 17TRACK's API documentation: registration with
the carrier key and order number (never the buyer's email), a bare host as base URL, the
documented error and quota codes, numbers 17TRACK forgot, and expired trackings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from carriers.base import CarrierReply, CarrierSettings, ParcelInfo
from carriers.seventeentrack import SeventeenTrackAdapter
from carriers.transport import carrier_client
from tests.support.loopback import LoopbackHTTPServer, Reply, Request
from tracker.errors import CarrierAuthError, CarrierRateLimited, CarrierUnavailable
from tracker.model import Status
from tracker.normalize import load_normalizer

NUMBER = "RB123456785CN"  # a UPU S10 number of China Post


def ok(accepted: list[dict[str, Any]], rejected: list[dict[str, Any]] | None = None) -> Reply:
    return Reply(
        200, json.dumps({"code": 0, "data": {"accepted": accepted, "rejected": rejected or []}})
    )


def rejected(number: str, code: int) -> dict[str, Any]:
    return {"number": number, "error": {"code": code, "message": f"refused ({code})"}}


def tracked(number: str, status: str = "InTransit", events: int = 1) -> dict[str, Any]:
    items = [
        {
            "time_iso": f"2026-11-2{i}T10:00:00+08:00",
            "description": "【深圳市】已收寄",
            "location": "深圳市",
            "sub_status": "InTransit_PickedUp",
        }
        for i in range(events)
    ]
    return {
        "number": number,
        "carrier": 3011,
        "track_info": {
            "latest_status": {"status": status, "sub_status": f"{status}_Other"},
            "tracking": {
                "providers": [{"provider": {"key": 3011, "name": "China Post"}, "events": items}]
            },
        },
    }


def adapter_for(server: LoopbackHTTPServer, base: str | None = None) -> SeventeenTrackAdapter:
    return SeventeenTrackAdapter(CarrierSettings(base_url=base or server.base_url, api_key="tok"))


async def test_registration_sends_carrier_key_and_order_number_never_the_email(
    loopback_http: LoopbackHTTPServer,
) -> None:
    registered: list[Any] = []

    def register(request: Request) -> Reply:
        registered.extend(json.loads(request.body))
        return ok([{"number": NUMBER}])

    loopback_http.route("POST", "/track/v2.2/register", register)
    loopback_http.route("POST", "/track/v2.2/gettrackinfo", lambda r: ok([tracked(NUMBER)]))
    # a bare host, as sellers write it, reaches the documented API path
    adapter = adapter_for(loopback_http)
    async with carrier_client() as client:
        reply = await adapter.fetch_parcels(
            client, [ParcelInfo(NUMBER, "seventeentrack", "ORD-9", "BR")]
        )
    assert registered == [{"number": NUMBER, "carrier": 3011, "order_no": "ORD-9"}]
    assert loopback_http.requests[0].headers["17token"] == "tok"
    (result,) = adapter.parse(reply)
    assert result.extra["holder"] == "China Post"


@pytest.mark.parametrize(
    ("code", "error", "words"),
    [
        (-18010001, CarrierAuthError, "whitelist"),
        (-18010002, CarrierAuthError, "token rejected"),
        (-18010003, CarrierUnavailable, "retry"),
    ],
)
async def test_documented_error_codes(
    loopback_http: LoopbackHTTPServer, code: int, error: type[Exception], words: str
) -> None:
    loopback_http.route(
        "POST",
        "/track/v2.2/register",
        lambda r: Reply(200, json.dumps({"code": code, "data": None})),
    )
    async with carrier_client() as client:
        with pytest.raises(error, match=words):
            await adapter_for(loopback_http).fetch(client, [NUMBER])


@pytest.mark.parametrize("code", [-18019907, -18019908], ids=["daily-limit", "quota-used-up"])
async def test_quota_refusals_are_rate_limits(loopback_http: LoopbackHTTPServer, code: int) -> None:
    loopback_http.route("POST", "/track/v2.2/register", lambda r: ok([], [rejected(NUMBER, code)]))
    async with carrier_client() as client:
        with pytest.raises(CarrierRateLimited, match=str(code)):
            await adapter_for(loopback_http).fetch(client, [NUMBER])


async def test_a_number_17track_forgot_is_registered_again(
    loopback_http: LoopbackHTTPServer,
) -> None:
    answers = [ok([], [rejected(NUMBER, -18019902)]), ok([tracked(NUMBER)])]
    loopback_http.route(
        "POST", "/track/v2.2/register", lambda r: ok([], [rejected(NUMBER, -18019901)])
    )
    loopback_http.route("POST", "/track/v2.2/gettrackinfo", lambda r: answers.pop(0))
    adapter = adapter_for(loopback_http)
    async with carrier_client() as client:
        await adapter.fetch(
            client, [NUMBER]
        )  # already registered (harmless), then "not registered"
        assert NUMBER not in adapter.registered
        await adapter.fetch(client, [NUMBER])
    paths = [r.path.rsplit("/", 1)[1] for r in loopback_http.requests]
    assert paths == ["register", "gettrackinfo", "register", "gettrackinfo"]
    assert NUMBER in adapter.registered


def test_an_expired_tracking_becomes_an_expired_event() -> None:
    body = json.dumps(
        {"code": 0, "data": {"accepted": [tracked(NUMBER, "Expired", 2)], "rejected": []}}
    )
    (result,) = SeventeenTrackAdapter().parse(CarrierReply((NUMBER,), 200, body.encode()))
    last = result.events[-1]
    assert load_normalizer([]).classify(last).status is Status.EXPIRED
    assert last.occurred_at == max(e.occurred_at for e in result.events[:-1])
