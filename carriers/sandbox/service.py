"""The sandbox carrier: a simulated postal tracking API served over real HTTP on loopback.

It plays scripted journeys against an injected clock, so the demo and the tests run 60 simulated
days in seconds through exactly the code paths a real carrier would exercise (HTTP, JSON, errors).

HTTP API (every ``/v1`` path needs the ``X-API-Key`` header when the service has an api key):

    POST   /v1/shipments        {"tracking_number", "journey"?, "registered_at"?} or a list of them
    GET    /v1/track?numbers=A,B,C   up to 40 numbers; events whose time has come, or not_found
    GET    /v1/_faults          the active fault, or null
    POST   /v1/_faults          {"mode", "count"?, "probability"?, "delay_seconds"?, ...}
    DELETE /v1/_faults          clear the fault
    GET    /v1/_stats           request counts per route, faults injected
    GET    /track/{number}      a small public HTML page for buyers

Run standalone with ``python -m carriers.sandbox --port 8765 --speed 3600 --auto-register``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from aiohttp import web

from carriers.sandbox.faults import Fault, FaultMode, spoil
from carriers.sandbox.journeys import Journey, journey_for_number, load_journeys
from carriers.sandbox.page import render_page

Clock = Callable[[], datetime]

#: as many numbers as one ``GET /v1/track`` accepts
MAX_NUMBERS = 40
API_KEY_HEADER = "X-API-Key"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Registration:
    """A shipment the sandbox knows: which journey it follows, from when."""

    tracking_number: str
    journey: Journey
    registered_at: datetime

    def to_json(self) -> dict[str, str]:
        """How ``POST /v1/shipments`` reports it."""
        return {
            "tracking_number": self.tracking_number,
            "journey": self.journey.name,
            "registered_at": self.registered_at.isoformat(),
        }


def accelerated_clock(speed: float, start: datetime | None = None) -> Clock:
    """A clock that runs ``speed`` times faster than the wall clock, from ``start`` (now)."""
    origin = start or datetime.now(UTC)
    began = time.monotonic()

    def clock() -> datetime:
        return origin + timedelta(seconds=(time.monotonic() - began) * speed)

    return clock


def normalize_number(number: str) -> str:
    """Tracking numbers are compared without spaces and case-insensitively."""
    return "".join(number.split()).upper()


class SandboxService:
    """The simulated carrier. Start it inside a running loop, or run :func:`main` standalone."""

    def __init__(
        self,
        clock: Clock,
        journeys: Mapping[str, Journey] | None = None,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_register: bool = False,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.journeys: Mapping[str, Journey] = journeys if journeys is not None else load_journeys()
        self.api_key = api_key
        self.host = host
        self.port = port
        #: unknown numbers are registered on first sight (journey picked from the number)
        self.auto_register = auto_register
        self.fault: Fault | None = None
        self._rng = random.Random(seed)
        self._shipments: dict[str, Registration] = {}
        self._requests: Counter[str] = Counter()
        self._faults_injected: Counter[str] = Counter()
        self._numbers_queried = 0
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._base_url is None:
            raise RuntimeError("the sandbox service is not started")
        return self._base_url

    async def start(self) -> None:
        """Bind and serve on the running event loop (an ephemeral port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("the sandbox service is already started")
        runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop serving; in-flight replies (a delay fault, say) are cut short."""
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._base_url = None

    async def __aenter__(self) -> SandboxService:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- Python API --------------------------------------------------------------------------

    def register(
        self,
        tracking_number: str,
        journey: str | None = None,
        registered_at: datetime | None = None,
    ) -> Registration:
        """Make ``tracking_number`` follow ``journey`` (picked from the number when None)."""
        number = normalize_number(tracking_number)
        if not number:
            raise ValueError("tracking_number must not be empty")
        if journey is None:
            chosen = journey_for_number(number, self.journeys)
        elif journey in self.journeys:
            chosen = self.journeys[journey]
        else:
            raise ValueError(
                f"unknown journey {journey!r}; known: {', '.join(sorted(self.journeys))}"
            )
        when = registered_at if registered_at is not None else self.clock()
        if when.tzinfo is None:
            raise ValueError("registered_at must be timezone-aware")
        registration = Registration(number, chosen, when)
        self._shipments[number] = registration
        return registration

    def registration(self, tracking_number: str) -> Registration | None:
        """What the sandbox knows about ``tracking_number``."""
        return self._shipments.get(normalize_number(tracking_number))

    def set_fault(
        self,
        mode: FaultMode | str,
        *,
        count: int | None = None,
        probability: float = 1.0,
        delay_seconds: float = 5.0,
        retry_after: int = 30,
        size_bytes: int | None = None,
    ) -> Fault:
        """Spoil the next ``count`` tracking replies (all, when None), each with ``probability``."""
        fault = Fault(FaultMode(mode), count, probability, delay_seconds, retry_after)
        if size_bytes is not None:
            fault.size_bytes = size_bytes
        self.fault = fault
        return fault

    def clear_faults(self) -> None:
        """Back to correct replies."""
        self.fault = None

    @property
    def stats(self) -> dict[str, Any]:
        """Request counts per route, faults injected per mode, numbers asked about."""
        return {
            "requests": dict(self._requests),
            "faults_injected": dict(self._faults_injected),
            "numbers_queried": self._numbers_queried,
        }

    def track(self, numbers: Sequence[str]) -> dict[str, Any]:
        """The ``GET /v1/track`` reply for ``numbers`` at the current clock time."""
        now = self.clock()
        return {"results": [self._result(number, now) for number in numbers]}

    # -- replies -----------------------------------------------------------------------------

    def _result(self, number: str, now: datetime) -> dict[str, Any]:
        registration = self._shipments.get(number)
        if registration is None and self.auto_register:
            registration = self.register(number, registered_at=now)
        if registration is None:
            return {"tracking_number": number, "found": False, "error": "not_found"}
        journey = registration.journey
        expected = (
            registration.registered_at + journey.expected_delivery
            if journey.expected_delivery is not None
            else None
        )
        steps = journey.visible_steps(registration.registered_at, now)
        events = [
            {
                "time": when.isoformat(),
                "code": step.code,
                "description": step.text,
                "location": step.location,
                "country": step.country,
            }
            for when, step in reversed(steps)
        ]
        return {
            "tracking_number": number,
            "found": True,
            "origin": journey.origin,
            "destination": journey.destination,
            "expected_delivery": expected.isoformat() if expected else None,
            "events": events,
        }

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._count, self._authorize])
        app.router.add_post("/v1/shipments", self._post_shipments)
        app.router.add_get("/v1/track", self._get_track)
        app.router.add_get("/v1/_faults", self._get_faults)
        app.router.add_post("/v1/_faults", self._post_faults)
        app.router.add_delete("/v1/_faults", self._delete_faults)
        app.router.add_get("/v1/_stats", self._get_stats)
        app.router.add_get("/track/{number}", self._get_page)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        self._requests[resource.canonical if resource is not None else "(unrouted)"] += 1
        return await handler(request)

    @web.middleware
    async def _authorize(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        needs_key = self.api_key is not None and request.path.startswith("/v1/")
        if needs_key and request.headers.get(API_KEY_HEADER) != self.api_key:
            return _error(401, "unauthorized", f"missing or wrong {API_KEY_HEADER} header")
        return await handler(request)

    async def _post_shipments(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            items = data if isinstance(data, list) else [data]
            registrations = [self._register_json(item) for item in items]
        except (ValueError, TypeError) as exc:
            return _error(400, "bad_request", str(exc))
        body: Any = [r.to_json() for r in registrations]
        return web.json_response(body if isinstance(data, list) else body[0], status=201)

    def _register_json(self, item: Any) -> Registration:
        if not isinstance(item, dict) or not isinstance(item.get("tracking_number"), str):
            raise ValueError("each shipment needs a string tracking_number")
        registered_at = item.get("registered_at")
        when = datetime.fromisoformat(registered_at) if isinstance(registered_at, str) else None
        journey = item.get("journey")
        if journey is not None and not isinstance(journey, str):
            raise ValueError("journey must be a string")
        return self.register(item["tracking_number"], journey, when)

    async def _get_track(self, request: web.Request) -> web.StreamResponse:
        raw = request.query.get("numbers", "")
        numbers = list(dict.fromkeys(n for n in map(normalize_number, raw.split(",")) if n))
        if not numbers:
            return _error(400, "bad_request", "give tracking numbers as ?numbers=A,B,C")
        if len(numbers) > MAX_NUMBERS:
            return _error(400, "too_many_numbers", f"at most {MAX_NUMBERS} numbers per request")
        self._numbers_queried += len(numbers)
        fault = self.fault
        if fault is not None and fault.strikes(self._rng):
            if fault.spent:
                self.fault = None
            self._faults_injected[fault.mode.value] += 1
            good = json.dumps(self.track(numbers), ensure_ascii=False).encode()
            spoiled = await spoil(fault, request, good, self._rng)
            if spoiled is not None:
                return spoiled
        return web.json_response(self.track(numbers), dumps=_dumps)

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.fault.to_json() if self.fault else None)

    async def _post_faults(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            if isinstance(data, dict) and data.get("mode") == "none":
                self.fault = None
            else:
                self.fault = Fault.from_json(data)
        except ValueError as exc:
            return _error(400, "bad_request", str(exc))
        return web.json_response(self.fault.to_json() if self.fault else None)

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.fault = None
        return web.json_response(None)

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats)

    async def _get_page(self, request: web.Request) -> web.Response:
        number = normalize_number(request.match_info["number"])
        result = self._result(number, self.clock())
        status = 200 if result["found"] else 404
        page = render_page(number, result)
        return web.Response(text=page, status=status, content_type="text/html")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


async def _serve_forever(service: SandboxService) -> None:
    async with service:
        print(f"sandbox carrier listening on {service.base_url}", flush=True)
        await asyncio.Event().wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the sandbox carrier standalone until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m carriers.sandbox",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None)
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    parser.add_argument("--journeys", default=None, help="a journeys TOML file (default: built in)")
    parser.add_argument(
        "--auto-register", action="store_true", help="unknown numbers get a journey"
    )
    args = parser.parse_args(argv)
    service = SandboxService(
        accelerated_clock(args.speed),
        load_journeys(args.journeys),
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        auto_register=args.auto_register,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(service))


if __name__ == "__main__":
    main()
