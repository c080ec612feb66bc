"""`tracker demo --serve`: after the simulated run, one parcel's page and the ops view are served
from the demo's store until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
import pytest

from tracker.runtime.demo import DemoSite, run_demo, serve_demo

pytestmark = pytest.mark.integration


async def test_demo_serves_a_parcel_page_and_the_ops_view(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TRACKER_DEMO_WEB_KEYS", "TRACKER_DEMO_OPS_TOKEN"):
        monkeypatch.delenv(name, raising=False)  # restored after the test
    result = await run_demo(tmp_path / "demo", days=40, per_journey=1)
    ready: asyncio.Future[DemoSite] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(serve_demo(result, 0, ready.set_result))
    try:
        site = await asyncio.wait_for(ready, 30)
        async with httpx.AsyncClient() as client:
            page = await client.get(site.page_url)
            assert page.status_code == 200
            assert page.text.count("<h1") == 1
            assert 'name="choice"' in page.text  # the demo's parcel has an open offer
            assert (await client.get(site.ops_url)).status_code == 401
            ops = await client.get(site.ops_url, auth=("ops", site.ops_token))
            assert ops.status_code == 200
            assert "Parcels that need a person" in ops.text
    finally:
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
