"""Fault injection for the sandbox carrier: the ways a real carrier API misbehaves, on demand.

Reliability tests switch a fault on (for the next N tracking requests, or with a probability) and
check that the adapter turns each misbehaviour into the right ``CarrierError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from aiohttp import web

from carriers.http import MAX_BODY_BYTES

_CHUNK = 64 * 1024


class FaultMode(StrEnum):
    """What the next tracking replies do wrong."""

    DELAY = "delay"  #: answer correctly, but only after ``delay_seconds``
    HTTP_500 = "http_500"  #: HTTP 500 with a JSON error body
    RATE_LIMIT = "rate_limit"  #: HTTP 429 with ``Retry-After: retry_after``
    GARBAGE = "garbage"  #: HTTP 200, JSON content type, random bytes
    TRUNCATED = "truncated"  #: HTTP 200, the correct JSON cut off halfway
    WRONG_CHARSET = "wrong_charset"  #: HTTP 200, UTF-16 body declared as UTF-8
    HUGE = "huge"  #: HTTP 200, chunked body of ``size_bytes`` (default: just over the cap)
    DISCONNECT = "disconnect"  #: the connection is closed without any reply


@dataclass
class Fault:
    """An active fault. ``count`` is how many more replies it may spoil (None: no limit)."""

    mode: FaultMode
    count: int | None = None
    probability: float = 1.0
    delay_seconds: float = 5.0
    retry_after: int = 30
    size_bytes: int = MAX_BODY_BYTES + 1

    def __post_init__(self) -> None:
        self.mode = FaultMode(self.mode)
        if self.count is not None and self.count < 1:
            raise ValueError("count must be at least 1 (or None for no limit)")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.delay_seconds < 0 or self.retry_after < 0 or self.size_bytes < 0:
            raise ValueError("delay_seconds, retry_after and size_bytes must not be negative")

    @classmethod
    def from_json(cls, data: Any) -> Fault:
        """Build from the ``POST /v1/_faults`` body; ValueError names what is wrong."""
        if not isinstance(data, dict) or "mode" not in data:
            raise ValueError('expected an object such as {"mode": "http_500", "count": 3}')
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def to_json(self) -> dict[str, Any]:
        """The fault as ``GET /v1/_faults`` shows it."""
        return asdict(self)

    def strikes(self, rng: random.Random) -> bool:
        """Whether this request is spoiled; spends one of ``count`` when it is."""
        if self.count is not None and self.count <= 0:
            return False
        if self.probability < 1.0 and rng.random() >= self.probability:
            return False
        if self.count is not None:
            self.count -= 1
        return True

    @property
    def spent(self) -> bool:
        """True once a counted fault has spoiled all its replies."""
        return self.count is not None and self.count <= 0


def _json_response(
    body: bytes, content_type: str = "application/json; charset=utf-8"
) -> web.Response:
    return web.Response(body=body, status=200, headers={"Content-Type": content_type})


async def _huge(request: web.Request, size: int) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    head = b'{"results": [], "padding": "'
    sent = len(head)
    with contextlib.suppress(ConnectionError):
        await response.write(head)
        while sent < size:
            piece = min(_CHUNK, size - sent)
            await response.write(b"x" * piece)
            sent += piece
        await response.write(b'"}')
        await response.write_eof()
    return response


async def spoil(
    fault: Fault, request: web.Request, good_body: bytes, rng: random.Random
) -> web.StreamResponse | None:
    """The faulty reply for ``request``, or None when the correct reply should follow (delay)."""
    mode = fault.mode
    if mode is FaultMode.DELAY:
        await asyncio.sleep(fault.delay_seconds)
        return None
    if mode is FaultMode.HTTP_500:
        return web.json_response({"error": "internal_error"}, status=500)
    if mode is FaultMode.RATE_LIMIT:
        return web.json_response(
            {"error": "rate_limited"}, status=429, headers={"Retry-After": str(fault.retry_after)}
        )
    if mode is FaultMode.GARBAGE:
        return _json_response(rng.randbytes(512))
    if mode is FaultMode.TRUNCATED:
        return _json_response(good_body[: max(1, len(good_body) // 2)])
    if mode is FaultMode.WRONG_CHARSET:
        return _json_response(good_body.decode("utf-8").encode("utf-16"))
    if mode is FaultMode.HUGE:
        return await _huge(request, fault.size_bytes)
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=200)  # never reaches the client: the connection is gone
