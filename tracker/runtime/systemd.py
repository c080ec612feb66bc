"""Talking to systemd: readiness, status and watchdog notifications.

``sd_notify`` is a datagram to the socket named by ``$NOTIFY_SOCKET``; it is small enough to write
here instead of depending on a binding. Every call is a no-op when the variable is unset, so the
same daemon runs unchanged in a terminal, in tests and under systemd.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from tracker.eventlog import get_logger

#: seconds a notification may wait for room in systemd's socket queue before it is dropped
SEND_TIMEOUT = 1.0


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
