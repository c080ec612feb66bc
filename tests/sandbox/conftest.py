"""Sandbox fixtures: a simulated clock, a started service, an adapter and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from carriers.base import CarrierSettings
from carriers.sandbox import SandboxAdapter, SandboxService
from carriers.transport import carrier_client
from tracker.clock import SimulatedClock

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
API_KEY = "sandbox-test-key"


@pytest.fixture
def clock() -> SimulatedClock:
    """Simulated time that moves only when a test advances it."""
    return SimulatedClock(START)


@pytest.fixture
async def service(clock: SimulatedClock) -> AsyncIterator[SandboxService]:
    """The sandbox carrier on an ephemeral loopback port, requiring ``API_KEY``."""
    async with SandboxService(clock.now, api_key=API_KEY) as running:
        yield running


@pytest.fixture
def adapter(service: SandboxService) -> SandboxAdapter:
    """An adapter configured for ``service``, with a short timeout for the delay fault."""
    return SandboxAdapter(
        CarrierSettings(base_url=service.base_url, api_key=API_KEY, timeout_seconds=0.5)
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The client the daemon gives adapters; requests go over real loopback sockets."""
    async with carrier_client(5.0) as http:
        yield http
