"""The sandbox service over real loopback HTTP, driven by a simulated clock."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from carriers.sandbox import (
    SandboxService,
    accelerated_clock,
    journey_for_number,
    load_journeys,
    sandbox_number,
)
from tests.sandbox.conftest import API_KEY, START
from tracker.clock import SimulatedClock

pytestmark = pytest.mark.integration

AUTH = {"X-API-Key": API_KEY}
JOURNEYS = load_journeys()
JOURNEYS_FOR_X2 = journey_for_number("X2", JOURNEYS).name


async def _track(client: httpx.AsyncClient, service: SandboxService, *numbers: str) -> Any:
    response = await client.get(
        f"{service.base_url}/v1/track", params={"numbers": ",".join(numbers)}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def _codes(result: dict[str, Any]) -> list[str | None]:
    return [event["code"] for event in result["events"]]


async def test_events_appear_as_the_simulated_clock_advances(
    service: SandboxService, clock: SimulatedClock, client: httpx.AsyncClient
) -> None:
    number = sandbox_number(JOURNEYS["normal"], 1)
    service.register(number)

    (result,) = (await _track(client, service, number))["results"]
    assert result["found"] is True
    assert _codes(result) == [None]

    clock.advance(timedelta(days=3))
    (result,) = (await _track(client, service, number))["results"]
    assert _codes(result) == ["EMC", "EXC", "EXA", "EMB", "EMA", None]  # newest first
    assert result["events"][0]["time"] == (START + timedelta(days=3)).isoformat()
    assert result["origin"] == "CN"
    assert result["destination"] == "US"
    assert result["expected_delivery"] == (START + timedelta(days=14)).isoformat()

    clock.advance(timedelta(days=57))
    (result,) = (await _track(client, service, number))["results"]
    assert _codes(result)[0] == "EMI"
    assert len(result["events"]) == len(JOURNEYS["normal"].steps)


async def test_a_batch_of_forty_numbers_in_one_request(
    service: SandboxService, clock: SimulatedClock, client: httpx.AsyncClient
) -> None:
    names = sorted(JOURNEYS)
    numbers = [sandbox_number(JOURNEYS[names[i % len(names)]], i) for i in range(40)]
    for number in numbers:
        service.register(number)
    clock.advance(timedelta(days=60))

    results = (await _track(client, service, *numbers))["results"]

    assert [r["tracking_number"] for r in results] == numbers
    assert all(r["found"] for r in results)
    lost = [r for r in results if r["tracking_number"].startswith("SBLT")]
    assert lost
    assert all(r["events"][0]["description"] == "Item declared lost" for r in lost)
    assert service.stats["numbers_queried"] == 40


async def test_more_than_forty_numbers_is_refused(
    service: SandboxService, client: httpx.AsyncClient
) -> None:
    numbers = ",".join(f"N{i}" for i in range(41))
    response = await client.get(
        f"{service.base_url}/v1/track", params={"numbers": numbers}, headers=AUTH
    )
    assert response.status_code == 400
    assert response.json()["error"] == "too_many_numbers"


async def test_no_numbers_is_refused(service: SandboxService, client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"{service.base_url}/v1/track", params={"numbers": " , "}, headers=AUTH
    )
    assert response.status_code == 400


async def test_unknown_numbers_are_not_found_beside_known_ones(
    service: SandboxService, client: httpx.AsyncClient
) -> None:
    service.register("SBEX00000001")
    results = (await _track(client, service, "sbex 0000 0001", "LX123456789CN"))["results"]
    assert results[0]["tracking_number"] == "SBEX00000001"
    assert results[0]["found"] is True
    assert results[1] == {"tracking_number": "LX123456789CN", "found": False, "error": "not_found"}


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/track?numbers=A"), ("POST", "/v1/shipments"), ("GET", "/v1/_stats")],
)
async def test_api_paths_need_the_api_key(
    service: SandboxService,
    client: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    response = await client.request(method, service.base_url + path, headers=headers, json={})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


async def test_without_a_configured_key_no_header_is_needed(
    clock: SimulatedClock, client: httpx.AsyncClient
) -> None:
    async with SandboxService(clock.now) as open_service:
        response = await client.get(f"{open_service.base_url}/v1/track", params={"numbers": "A"})
    assert response.status_code == 200
    assert response.json()["results"][0]["found"] is False


async def test_register_over_http_one_or_many(
    service: SandboxService, clock: SimulatedClock, client: httpx.AsyncClient
) -> None:
    url = f"{service.base_url}/v1/shipments"
    earlier = START - timedelta(days=2)
    one = await client.post(
        url,
        headers=AUTH,
        json={"tracking_number": "ab1", "journey": "lost", "registered_at": earlier.isoformat()},
    )
    assert one.status_code == 201
    assert one.json() == {
        "tracking_number": "AB1",
        "journey": "lost",
        "registered_at": earlier.isoformat(),
    }
    many = await client.post(
        url, headers=AUTH, json=[{"tracking_number": "SBRT00000001"}, {"tracking_number": "X2"}]
    )
    assert many.status_code == 201
    assert [(r["journey"], r["registered_at"]) for r in many.json()] == [
        ("returned", START.isoformat()),
        (JOURNEYS_FOR_X2, START.isoformat()),
    ]

    registration = service.registration("AB1")
    assert registration is not None
    assert registration.journey.name == "lost"
    (result,) = (await _track(client, service, "AB1"))["results"]
    assert _codes(result)[0] == "EMC"  # two days in


@pytest.mark.parametrize(
    "body",
    [
        {"tracking_number": "A", "journey": "teleported"},
        {"journey": "normal"},
        {"tracking_number": "A", "registered_at": "yesterday"},
        {"tracking_number": "A", "registered_at": "2025-03-01T08:00:00"},
        {"tracking_number": "  "},
    ],
)
async def test_bad_registrations_are_refused(
    service: SandboxService, client: httpx.AsyncClient, body: dict[str, str]
) -> None:
    response = await client.post(f"{service.base_url}/v1/shipments", headers=AUTH, json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


async def test_the_public_page_shows_the_timeline_escaped_and_needs_no_key(
    service: SandboxService, clock: SimulatedClock, client: httpx.AsyncClient
) -> None:
    service.register("SBCH00000001")
    clock.advance(timedelta(days=20))
    page = await client.get(f"{service.base_url}/track/SBCH00000001")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Customs duties payable by recipient" in page.text
    assert "São Paulo" in page.text

    missing = await client.get(f"{service.base_url}/track/%3Cscript%3E")
    assert missing.status_code == 404
    assert "<SCRIPT>" not in missing.text
    assert "&lt;SCRIPT&gt;" in missing.text


async def test_stats_count_requests_per_route(
    service: SandboxService, client: httpx.AsyncClient
) -> None:
    await _track(client, service, "A")
    await _track(client, service, "B", "C")
    await client.get(f"{service.base_url}/track/A")
    await client.get(f"{service.base_url}/track/B")
    await client.get(f"{service.base_url}/v1/track")  # no key: counted too
    stats = (await client.get(f"{service.base_url}/v1/_stats", headers=AUTH)).json()
    assert stats["requests"] == {"/v1/track": 3, "/track/{number}": 2, "/v1/_stats": 1}
    assert stats["numbers_queried"] == 3


async def test_faults_over_http_spoil_exactly_the_next_n_requests(
    service: SandboxService, client: httpx.AsyncClient
) -> None:
    url = f"{service.base_url}/v1/_faults"
    set_reply = await client.post(url, headers=AUTH, json={"mode": "http_500", "count": 2})
    assert set_reply.status_code == 200
    assert set_reply.json()["mode"] == "http_500"
    track = f"{service.base_url}/v1/track?numbers=A"
    statuses = [(await client.get(track, headers=AUTH)).status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert (await client.get(url, headers=AUTH)).json() is None
    assert service.stats["faults_injected"] == {"http_500": 2}


async def test_fault_can_be_read_and_cleared_over_http(
    service: SandboxService, client: httpx.AsyncClient
) -> None:
    url = f"{service.base_url}/v1/_faults"
    await client.post(url, headers=AUTH, json={"mode": "rate_limit", "retry_after": 7})
    current = (await client.get(url, headers=AUTH)).json()
    assert current["mode"] == "rate_limit"
    assert current["retry_after"] == 7
    assert current["count"] is None
    assert (await client.delete(url, headers=AUTH)).json() is None
    assert service.fault is None
    await client.post(url, headers=AUTH, json={"mode": "garbage"})
    await client.post(url, headers=AUTH, json={"mode": "none"})
    assert service.fault is None


@pytest.mark.parametrize(
    "body",
    [
        {"mode": "explode"},
        {"count": 3},
        {"mode": "http_500", "count": 0},
        {"mode": "http_500", "probability": 1.5},
        {"mode": "http_500", "colour": "red"},
        [1, 2],
    ],
)
async def test_bad_fault_settings_are_refused(
    service: SandboxService, client: httpx.AsyncClient, body: Any
) -> None:
    response = await client.post(f"{service.base_url}/v1/_faults", headers=AUTH, json=body)
    assert response.status_code == 400
    assert service.fault is None


async def test_probability_faults_strike_some_requests_and_not_others(
    service: SandboxService, client: httpx.AsyncClient
) -> None:
    service.set_fault("http_500", probability=0.5)
    track = f"{service.base_url}/v1/track?numbers=A"
    statuses = [(await client.get(track, headers=AUTH)).status_code for _ in range(40)]
    assert 5 < statuses.count(500) < 35
    assert set(statuses) == {200, 500}
    service.set_fault("http_500", probability=0.0)
    assert (await client.get(track, headers=AUTH)).status_code == 200


async def test_auto_register_gives_strangers_a_journey(
    clock: SimulatedClock, client: httpx.AsyncClient
) -> None:
    async with SandboxService(clock.now, auto_register=True) as auto:
        clock.advance(timedelta(days=1))
        first = await client.get(f"{auto.base_url}/v1/track", params={"numbers": "SBNM00000009"})
        clock.advance(timedelta(days=1))
        later = await client.get(f"{auto.base_url}/v1/track", params={"numbers": "SBNM00000009"})
    assert [e["code"] for e in first.json()["results"][0]["events"]] == [None]
    registration = auto.registration("SBNM00000009")
    assert registration is not None
    assert registration.journey.name == "normal"
    assert registration.registered_at == START + timedelta(days=1)
    assert later.json()["results"][0]["events"][0]["code"] == "EMA"  # accepted at 10h


async def test_stop_releases_the_port_and_start_twice_is_refused(clock: SimulatedClock) -> None:
    service = SandboxService(clock.now)
    with pytest.raises(RuntimeError, match="not started"):
        _ = service.base_url
    await service.start()
    url = service.base_url
    with pytest.raises(RuntimeError, match="already started"):
        await service.start()
    await service.stop()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url + "/track/A")


async def test_auto_register_shows_the_first_step_at_once_on_a_moving_clock(
    client: httpx.AsyncClient,
) -> None:
    ticks = iter(range(1_000_000))

    def moving_clock() -> datetime:  # a second passes on every reading, like a real clock
        return START + timedelta(seconds=next(ticks))

    async with SandboxService(moving_clock, auto_register=True) as auto:
        reply = await client.get(f"{auto.base_url}/v1/track", params={"numbers": "SBIO00000001"})
    (event,) = reply.json()["results"][0]["events"]
    assert event["description"] == "Shipping label created, awaiting item"


def test_accelerated_clock_runs_faster_than_the_wall() -> None:
    clock = accelerated_clock(86400.0, START)
    first = clock()
    time.sleep(0.05)
    assert first >= START
    assert clock() - first >= timedelta(hours=1)


def test_standalone_service_answers_until_terminated() -> None:
    process = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "carriers.sandbox", "--port", "0", "--api-key", "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("sandbox carrier listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1].strip()
        reply = httpx.get(f"{base_url}/v1/track?numbers=A", headers={"X-API-Key": "k"})
        assert reply.json() == {
            "results": [{"tracking_number": "A", "found": False, "error": "not_found"}]
        }
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    assert "Warning" not in errors
