"""Push receiver fixtures: the webhook server over each test module's own ``app``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tracker.runtime.app import TrackerApp
from tracker.web.site import DaemonSite


@pytest.fixture
async def server(app: TrackerApp) -> AsyncIterator[DaemonSite]:
    """The push endpoint on a loopback port, stopped after the test."""
    hooks = DaemonSite(app)
    await hooks.start()
    try:
        yield hooks
    finally:
        await hooks.stop()
