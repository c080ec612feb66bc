"""The daemon's heartbeat: a row per daemon that ``tracker status`` reads, and the one-line
status systemd shows."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tracker.runtime.reload import config_digest
from tracker.store.heartbeats import Beat, write_heartbeat

if TYPE_CHECKING:
    from tracker.runtime.daemon import Daemon


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
            name: {
                "state": rt.breaker.state(now),
                "failures": rt.breaker.failures,
                "credentials_rejected": rt.breaker.credentials_rejected,
            }
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
