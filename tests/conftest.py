"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.loopback import LoopbackHTTPServer

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The recorded carrier data in ../shared/data, or a skip when this checkout has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"recorded carrier data not found at {SHARED_DATA} (only present beside the dev repo)")
    return SHARED_DATA


@pytest.fixture
def loopback_http() -> Iterator[LoopbackHTTPServer]:
    """A real HTTP server on 127.0.0.1 whose routes each test defines."""
    server = LoopbackHTTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
