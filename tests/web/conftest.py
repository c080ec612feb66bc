"""Fixtures for the web server tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.web.seed import LINK_KEY, NOW, OPS_TOKEN, Seeded, seed, web_config
from tests.web.sockets import Clients
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import TrackerApp, build_app
from tracker.web.links import LinkKeys, Purpose, sign
from tracker.web.site import DaemonSite


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    opened = Clients()
    try:
        yield opened
    finally:
        await opened.close()


@dataclass
class Site:
    """A running web server over a seeded store, in simulated time."""

    app: TrackerApp
    daemon_site: DaemonSite
    seeded: Seeded
    keys: LinkKeys

    @property
    def url(self) -> str:
        return self.daemon_site.url

    def page_path(self, shipment_id: int, purpose: Purpose = "page") -> str:
        token = sign(self.keys, purpose, shipment_id, self.app.clock.now())
        return f"/{'t' if purpose == 'page' else 'u'}/{token}"


@pytest.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    monkeypatch.setenv("TEST_WEB_KEYS", LINK_KEY)
    monkeypatch.setenv("TEST_OPS_TOKEN", OPS_TOKEN)
    app = build_app(load_config(web_config(tmp_path)), SimulatedClock(NOW))
    seeded = seed(app)
    daemon_site = DaemonSite(app)
    await daemon_site.start()
    try:
        yield Site(app, daemon_site, seeded, LinkKeys((LINK_KEY.encode(),)))
    finally:
        await daemon_site.stop()
        await app.close()
