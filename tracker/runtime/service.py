"""Running as a systemd service: readiness and watchdog notifications, and reload on SIGHUP.

``sd_notify`` is a datagram to the socket named by ``$NOTIFY_SOCKET``; it is small enough to write
here instead of depending on a binding. Every call is a no-op when the variable is unset, so the
same daemon runs unchanged in a terminal, in tests and under systemd.

Reload re-reads the config file and rebuilds the parts that depend on it (thresholds and other
settings, normalization rules, templates and strings), then swaps them in at once. A config that
fails to load or validate is rejected and the running one stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notices.render import NoticeRenderer
from tracker.config import TrackerConfig, load_config
from tracker.errors import TrackerError
from tracker.eventlog import configure_logging, get_logger
from tracker.normalize import Normalizer, load_normalizer
from tracker.store.heartbeats import Beat, write_heartbeat

if TYPE_CHECKING:
    from tracker.runtime.app import TrackerApp
    from tracker.runtime.daemon import Daemon

#: seconds a notification may wait for room in systemd's socket queue before it is dropped
SEND_TIMEOUT = 1.0
#: settings read once at start; a reload that changes them logs that a restart is needed
RESTART_ONLY = ("store", "mail", "metrics")


class SystemdNotifier:
    """Sends ``KEY=value`` lines to systemd's notification socket (or does nothing)."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._socket: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        """The notifier systemd asked for through ``$NOTIFY_SOCKET``."""
        env = os.environ if environ is None else environ
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        """True when there is a socket to notify."""
        return self.address is not None

    def notify(self, *fields: str) -> bool:
        """Send one datagram of newline-separated fields; False if disabled or it failed."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        payload = "\n".join(fields).encode("utf-8")
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
                # A reader that stops reading must not freeze the event loop for good.
                self._socket.settimeout(SEND_TIMEOUT)
            self._socket.sendto(payload, target)
        except OSError as exc:
            # systemd going away must never take the daemon with it; the log says why.
            get_logger().warning("service.notify_failed", error=str(exc), fields=list(fields))
            return False
        return True

    def close(self) -> None:
        """Close the socket (it is reopened on the next notify)."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of ``$WATCHDOG_USEC``, or None when not asked for.

    ``$WATCHDOG_PID``, when set, must be this process (systemd sets it for the main process only).
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 2_000_000


def config_digest(config: TrackerConfig) -> str:
    """A short stable fingerprint of a config, shown by ``tracker status`` after a reload."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class LoadedConfig:
    """Everything built from one config file, ready to be swapped in."""

    config: TrackerConfig
    normalizer: Normalizer
    renderer: NoticeRenderer


def load_parts(path: Path) -> LoadedConfig:
    """Read and validate ``path`` and build its normalizer and renderer (blocking file I/O)."""
    config = load_config(path)
    normalizer = load_normalizer(config.normalization.rule_files)
    renderer = NoticeRenderer(
        overrides_dir=config.notices.templates_dir, strings_file=config.notices.strings_file
    )
    return LoadedConfig(config, normalizer, renderer)


def changed_sections(old: TrackerConfig, new: TrackerConfig) -> list[str]:
    """Top-level config sections that differ between ``old`` and ``new``."""
    return [name for name in type(old).model_fields if getattr(old, name) != getattr(new, name)]


def swap_in(app: TrackerApp, parts: LoadedConfig) -> list[str]:
    """Replace config, normalizer and renderer in one synchronous step on the event loop.

    Jobs read these attributes when they start a unit of work, so a poll or send in progress
    finishes with the generation it began with and the next one uses the new parts. Carrier
    runtimes whose section changed are dropped and rebuilt on next use. Returns changed sections.
    """
    old = app.config
    changed = changed_sections(old, parts.config)
    stale = [
        name
        for name in list(app.carriers)
        if old.carriers.get(name) != parts.config.carriers.get(name)
    ]
    app.config, app.normalizer, app.renderer = parts.config, parts.normalizer, parts.renderer
    for name in stale:
        app.carriers.pop(name, None)
    return changed


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


def status_line(summary: Mapping[str, Any]) -> str:
    """A STATUS= line from the daemon's running totals."""
    return (
        f"polled {summary.get('polled', 0)} ({summary.get('poll_failures', 0)} failed), "
        f"sent {summary.get('notices_sent', 0)} notices ({summary.get('notices_failed', 0)} failed)"
    )


def heartbeat_of(daemon: Daemon, state: str) -> None:
    """Write ``daemon``'s heartbeat row: liveness plus what only the process knows (blocking)."""
    app = daemon.app
    now = app.clock.now()
    data = {
        "last_poll": {name: at.isoformat() for name, at in daemon.totals.last_poll_at.items()},
        "breakers": {
            name: {"state": rt.breaker.state(now), "failures": rt.breaker.failures}
            for name, rt in dict(app.carriers).items()
        },
        "totals": daemon.summary(),
        "reloads": daemon.service.reloads,
        "jobs": {
            "poll": app.config.daemon.poll_every.total_seconds(),
            "timers": app.config.daemon.timers_every.total_seconds(),
            "dispatch": app.config.daemon.dispatch_every.total_seconds(),
        },
    }
    host, _, _ = app.owner.partition(":")
    write_heartbeat(
        app.store,
        Beat(
            owner=app.owner,
            host=host or socket.gethostname(),
            pid=os.getpid(),
            state=state,
            started_at=daemon.started_at,
            at=now,
            interval=app.config.daemon.heartbeat_every,
            config_digest=config_digest(app.config),
            data=data,
        ),
    )
