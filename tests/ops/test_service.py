"""sd_notify over a real datagram socket, watchdog settings, and config reload in process."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.ops.conftest import NotifySocket
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import build_app
from tracker.runtime.reload import config_digest
from tracker.runtime.service import Service
from tracker.runtime.systemd import SystemdNotifier, watchdog_interval

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_notify_reaches_a_filesystem_socket(notify_socket: NotifySocket) -> None:
    notifier = SystemdNotifier.from_env({"NOTIFY_SOCKET": notify_socket.address})
    assert notifier.notify("READY=1", "STATUS=polling")
    assert notify_socket.wait_for("READY=1") == ["READY=1\nSTATUS=polling"]
    notifier.close()


def test_notify_reaches_an_abstract_socket(abstract_notify_socket: NotifySocket) -> None:
    notifier = SystemdNotifier(abstract_notify_socket.address)
    assert notifier.notify("WATCHDOG=1")
    assert abstract_notify_socket.wait_for("WATCHDOG=1") == ["WATCHDOG=1"]
    notifier.close()


def test_notify_without_socket_is_a_no_op() -> None:
    notifier = SystemdNotifier.from_env({})
    assert not notifier.enabled
    assert notifier.notify("READY=1") is False


def test_notify_to_a_vanished_socket_reports_failure_instead_of_raising(tmp_path: Path) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    assert notifier.notify("READY=1") is False
    notifier.close()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "junk"}, None),
        ({"WATCHDOG_USEC": "60000000"}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
        ({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(
    env: dict[str, str], expected: float | None
) -> None:
    assert watchdog_interval(env) == expected


async def test_watchdog_pings_from_the_event_loop_until_stopping(
    notify_socket: NotifySocket,
) -> None:
    service = Service(notifier=SystemdNotifier(notify_socket.address), watchdog_every=0.02)
    service.ready("up")
    await asyncio.sleep(0.15)
    await service.stopping()
    received = await asyncio.to_thread(notify_socket.wait_for, "STOPPING=1")
    assert received[0].startswith("READY=1\nSTATUS=up")
    assert received.count("WATCHDOG=1") >= 3
    assert "STOPPING=1" in received[-1].split("\n")
    service.close()


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text("utf-8") + text, "utf-8")


def _misspell(path: Path, key: str, wrong: str) -> None:
    path.write_text(path.read_text("utf-8").replace(key, wrong), "utf-8")


async def test_reload_swaps_thresholds_and_rejects_a_bad_file(config_file: Path) -> None:
    app = build_app(load_config(config_file), SimulatedClock(START))
    old_normalizer, old_renderer = app.normalizer, app.renderer
    old_settings = app.policy_settings()
    assert app.policy_settings() is old_settings  # made once per config
    service = Service(config_path=config_file)
    try:
        _append(config_file, '\n[thresholds.default]\nstalled_after = "3d"\n')
        assert await service.reload(app)
        assert app.config.thresholds.default.stalled_after.days == 3
        assert app.policy_settings() is not old_settings
        assert app.policy_settings().thresholds.default.stalled_after.days == 3
        assert app.normalizer is not old_normalizer
        assert app.renderer is not old_renderer
        good = app.config, app.normalizer, app.renderer

        _misspell(config_file, "heartbeat_every", "heartbeat_evry")
        with capture_logs() as logs:
            assert not await service.reload(app)
        failed = [entry for entry in logs if entry["event"] == "config.reload_failed"]
        assert len(failed) == 1
        assert "daemon.heartbeat_evry: unknown key" in failed[0]["error"]
        assert (app.config, app.normalizer, app.renderer) == good
        assert config_digest(app.config) == config_digest(good[0])
    finally:
        await app.close()
