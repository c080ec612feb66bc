"""Fixtures for the web server tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.web.sockets import Clients


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    opened = Clients()
    try:
        yield opened
    finally:
        await opened.close()
