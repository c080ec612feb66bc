"""Running as a systemd service: readiness and watchdog pings (``runtime.systemd``) and config
reload on SIGHUP (``runtime.reload``), coordinated for the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from tracker.errors import TrackerError
from tracker.eventlog import configure_logging, get_logger
from tracker.runtime.app import settle_heap
from tracker.runtime.reload import RESTART_ONLY, config_digest, load_parts, swap_in
from tracker.runtime.systemd import SystemdNotifier, watchdog_interval

if TYPE_CHECKING:
    from tracker.runtime.app import TrackerApp


class Service:
    """What the daemon tells systemd, and how it reloads; inert unless systemd or a file is set."""

    def __init__(
        self,
        *,
        config_path: Path | None = None,
        notifier: SystemdNotifier | None = None,
        watchdog_every: float | None = None,
    ) -> None:
        self.config_path = config_path
        self.notifier = notifier or SystemdNotifier(None)
        self.watchdog_every = watchdog_every
        self.reloads = 0
        self._watchdog: asyncio.Task[None] | None = None
        self.log = get_logger()

    @classmethod
    def from_env(cls, config_path: Path | None) -> Service:
        """The service as systemd (or a terminal) started us."""
        return cls(
            config_path=config_path,
            notifier=SystemdNotifier.from_env(),
            watchdog_every=watchdog_interval(),
        )

    def ready(self, status: str) -> None:
        """The scheduler runs: READY=1, and start pinging the watchdog from the event loop."""
        self.notifier.notify("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")
        if self.watchdog_every is not None and self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self._ping_watchdog())

    def status(self, text: str) -> None:
        """A one-line STATUS= shown by ``systemctl status``."""
        self.notifier.notify(f"STATUS={text}")

    async def _ping_watchdog(self) -> None:
        assert self.watchdog_every is not None
        while True:
            # Sent from the event loop itself: a loop that is stuck stops the pings and
            # systemd restarts the service.
            self.notifier.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_every)

    async def stopping(self) -> None:
        """STOPPING=1 and stop the watchdog pings."""
        self.notifier.notify("STOPPING=1", "STATUS=draining in-flight work")
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None

    async def reload(self, app: TrackerApp) -> bool:
        """Re-read the config file; swap it in if it is valid, else keep the running one."""
        started = time.monotonic()
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.notifier.notify("RELOADING=1", f"MONOTONIC_USEC={now_usec}", "STATUS=reloading config")
        try:
            if self.config_path is None:
                raise TrackerError("no config file was given (--config or $TRACKER_CONFIG)")
            parts = await asyncio.to_thread(load_parts, self.config_path)
        except (TrackerError, OSError, ValueError) as exc:
            self.log.error("config.reload_failed", path=str(self.config_path), error=str(exc))
            self.notifier.notify(
                "READY=1", "STATUS=reload failed; running with the previous config"
            )
            return False
        changed = swap_in(app, parts)
        settle_heap()  # the replaced parts are freed, the new ones frozen
        self.reloads += 1
        restart_needed = [name for name in changed if name in RESTART_ONLY]
        if "logging" in changed:
            logging = parts.config.logging
            configure_logging(logging.format, logging.level, redact=logging.redact_emails)
        self.log.info(
            "config.reloaded",
            path=str(self.config_path),
            changed=changed,
            digest=config_digest(parts.config),
            seconds=round(time.monotonic() - started, 3),
        )
        if restart_needed:
            self.log.warning("config.restart_required", sections=restart_needed)
        self.notifier.notify("READY=1", f"STATUS=config reloaded ({config_digest(parts.config)})")
        return True

    def close(self) -> None:
        """Release the notification socket."""
        self.notifier.close()
