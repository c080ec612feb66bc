"""`tracker run` as systemd runs it: a real process, a real notify socket, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.ops.conftest import NotifySocket
from tracker.cli import main
from tracker.config import load_config
from tracker.runtime.reload import config_digest

pytestmark = pytest.mark.integration

TRACKER = Path(sys.executable).with_name("tracker")


class Daemon:
    """A `tracker run` subprocess whose JSON log lines are collected as they arrive."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.config = config
        self.store_url = f"sqlite:///{config.parent / 'state' / 'tracker.sqlite3'}"
        self.process = subprocess.Popen(
            [str(TRACKER), "run", "--config", str(config)],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                self.lines.append(json.loads(line))
            except json.JSONDecodeError:
                self.lines.append({"event": "<not json>", "line": line})

    def wait_for_event(self, name: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        """The ``count``-th log line with event ``name``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if line.get("event") == name]
            if len(found) >= count:
                return found[count - 1]
            assert self.process.poll() is None, f"daemon exited early: {self.lines}"
            time.sleep(0.02)
        raise AssertionError(f"no {name!r} #{count} within {timeout}s: {self.lines}")

    def status(self) -> tuple[int, dict[str, Any]]:
        """`tracker status --json` (in this process: it only reads the daemon's store)."""
        # --store, not --config: the config file is deliberately broken at one point.
        result = CliRunner().invoke(main, ["status", "--json", "--store", self.store_url])
        return result.exit_code, json.loads(result.stdout)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=20)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def daemon(config_file: Path, notify_socket: NotifySocket) -> Iterator[Daemon]:
    process = Daemon(
        config_file, {"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "200000"}
    )
    try:
        yield process
    finally:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(timeout=10)
        if process.process.stderr is not None:
            process.process.stderr.close()


def test_ready_watchdog_reload_and_clean_stop(
    daemon: Daemon, config_file: Path, notify_socket: NotifySocket
) -> None:
    # a ceiling, not a timing check: start-up (imports, migrations, the rule index) in a fresh
    # process took over 10 s on a shared machine at load 8-10, four times this session
    received = notify_socket.wait_for("READY=1", timeout=60)
    assert received[0].startswith("READY=1\nSTATUS=")
    # Pings come from the event loop every WATCHDOG_USEC/2 = 0.1s.
    started = time.monotonic()
    notify_socket.wait_for("WATCHDOG=1", timeout=2, at_least=4)
    assert time.monotonic() - started < 2

    daemon.wait_for_event("daemon.started")
    code, report = daemon.status()
    assert code == 0, report
    assert report["scheduler"]["state"] == "running"
    first_digest = report["scheduler"]["daemons"][0]["config_digest"]
    assert first_digest == config_digest(load_config(config_file))

    # A good config: new thresholds are in use without a restart.
    config_file.write_text(
        config_file.read_text() + '\n[thresholds.default]\nstalled_after = "4d"\n', "utf-8"
    )
    daemon.process.send_signal(signal.SIGHUP)
    reloaded = daemon.wait_for_event("config.reloaded")
    assert reloaded["changed"] == ["thresholds"]
    new_digest = config_digest(load_config(config_file))
    assert reloaded["digest"] == new_digest != first_digest
    code, report = daemon.status()
    assert report["scheduler"]["daemons"][0]["config_digest"] == new_digest
    assert report["scheduler"]["daemons"][0]["reloads"] == 1

    # A bad config is rejected; the daemon keeps running on the previous one.
    config_file.write_text(config_file.read_text().replace('"4d"', '"four days"'), "utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    failed = daemon.wait_for_event("config.reload_failed")
    assert "thresholds.default.stalled_after" in failed["error"]
    pings = notify_socket.count("WATCHDOG=1")
    notify_socket.wait_for("WATCHDOG=1", timeout=2, at_least=pings + 3)
    code, report = daemon.status()
    assert code == 0
    assert report["scheduler"]["daemons"][0]["config_digest"] == new_digest

    # SIGTERM: STOPPING=1, drain, exit 0; the heartbeat says stopped and status turns unhealthy.
    assert daemon.stop() == 0
    notify_socket.wait_for("STOPPING=1")
    events = [line["event"] for line in daemon.lines]
    assert events[-2:] == ["daemon.stopping", "daemon.stopped"], daemon.lines[-40:]
    code, report = daemon.status()
    assert code == 1
    assert report["scheduler"]["state"] == "stopped"
