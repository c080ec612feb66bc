"""Connection guard: the timeouts and the connection limit aiohttp's server does not have.

aiohttp (like uvicorn) has no deadline for a request's headers, so a client sending one byte a
second holds its connection, and its file descriptor, for as long as it likes. Each accepted
connection is wrapped in a :class:`ConnectionGuard` that sits between the socket and aiohttp's
protocol and cuts the connection when

- a new connection sends no complete request head within ``header_timeout``,
- a kept-alive connection stays silent for ``idle_timeout`` after its last response, or starts a
  request and does not finish the head within ``header_timeout``,
- the server is full (``max_connections``): the connection that has waited longest without a
  request in progress is shed so a real client gets in, and if every connection is busy the new
  one is refused.

Body read deadlines and size limits are enforced where the body is read
(:mod:`tracker.web.limits`). Cuts are logged as rate-limited summaries, never one line per
connection, so a flood cannot fill the disk with log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from tracker.eventlog import get_logger

#: file descriptors kept free for the store, the carrier client, SMTP and logs
FD_RESERVE = 64
MIN_CONNECTIONS = 8
HEAD_ENDS = (b"\r\n\r\n", b"\n\n")

State = Literal["fresh", "idle", "head", "request", "closed"]


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take and how many may be connected at once."""

    header_timeout: float
    idle_timeout: float
    max_connections: int


def connection_cap(
    configured: int, soft_fd_limit: int | None = None, open_now: int | None = None
) -> int:
    """``configured``, lowered so connections can never exhaust the process's file limit: the
    descriptors open now plus ``FD_RESERVE`` (at least) stay for the rest of the daemon."""
    if soft_fd_limit is None:
        soft_fd_limit, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft_fd_limit == resource.RLIM_INFINITY:
        return configured
    if open_now is None:
        open_now = open_descriptors()
    reserve = max(FD_RESERVE, open_now + FD_RESERVE // 2)
    return max(MIN_CONNECTIONS, min(configured, soft_fd_limit - reserve))


def open_descriptors() -> int:
    """How many file descriptors this process has open (0 where /proc is not there)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


class SummaryLog:
    """Logs an event at most once per ``interval`` seconds, carrying how many were held back."""

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self.log = get_logger(component="web")
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def note(self, event: str, **fields: Any) -> None:
        """Count one ``event``; write it if the last line for it is older than the interval."""
        now = self.clock()
        last = self._last.get(event)
        if last is not None and now - last < self.interval:
            self._held[event] = self._held.get(event, 0) + 1
            return
        self._last[event] = now
        held = self._held.pop(event, 0)
        self.log.warning(event, **fields, also_since_last=held)


class Connections:
    """Every open guarded connection, oldest first; admits, sheds and cuts them."""

    def __init__(self, limits: ConnectionLimits, summary: SummaryLog | None = None) -> None:
        self.limits = limits
        self.summary = summary or SummaryLog()
        self.open: dict[ConnectionGuard, None] = {}
        self.by_transport: dict[asyncio.BaseTransport, ConnectionGuard] = {}
        self.cut_counts: dict[str, int] = {}
        self.closing = False

    def admit(self, guard: ConnectionGuard) -> bool:
        """Make room for ``guard``: shed the longest-waiting connection with no request in
        progress when full; False (refuse it) if all are busy or the server is stopping."""
        if self.closing:
            self.count("refused_stopping")
            return False
        if len(self.open) >= self.limits.max_connections:
            victim = next((g for g in self.open if g.state != "request"), None)
            if victim is None:
                self.count("refused_full")
                self.summary.note("web.connection_refused", reason="all connections busy")
                return False
            victim.cut("shed")
        self.open[guard] = None
        return True

    def count(self, reason: str) -> None:
        """Tally a cut or refusal by reason (read by tests and the ops view)."""
        self.cut_counts[reason] = self.cut_counts.get(reason, 0) + 1

    def forget(self, guard: ConnectionGuard) -> None:
        """A connection closed: drop it from the table."""
        self.open.pop(guard, None)
        if guard.transport is not None:
            self.by_transport.pop(guard.transport, None)

    def cut_waiting(self, reason: str) -> int:
        """Cut every connection that has no request in progress; returns how many."""
        waiting = [g for g in self.open if g.state != "request"]
        for guard in waiting:
            guard.cut(reason)
        return len(waiting)

    def cut_all(self, reason: str) -> None:
        """Cut every connection still open (the end of a shutdown grace period)."""
        for guard in list(self.open):
            guard.cut(reason)

    def guard_for(self, transport: asyncio.BaseTransport | None) -> ConnectionGuard | None:
        """The guard of the connection a request arrived on."""
        return self.by_transport.get(transport) if transport is not None else None


class ConnectionGuard(asyncio.Protocol):
    """Wraps aiohttp's protocol for one connection and enforces the head and idle deadlines."""

    def __init__(self, inner: asyncio.Protocol, table: Connections) -> None:
        self.inner = inner
        self.table = table
        self.transport: asyncio.Transport | None = None
        self.state: State = "fresh"
        self.reading_body = False
        self.admitted = False
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""

    # --- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if not self.table.admit(self):
            self.state = "closed"
            transport.abort()
            return
        self.admitted = True
        self.table.by_transport[transport] = self
        self._arm(self.table.limits.header_timeout, "header_timeout")
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.state == "closed":
            return
        if self.state in ("fresh", "idle"):
            if self.state == "idle":
                self._arm(self.table.limits.header_timeout, "header_timeout")
            self.state = "head"
        if self.state == "head":
            seen = self._tail + data
            if any(end in seen for end in HEAD_ENDS):
                self._disarm()
                self.state = "request"
                self._tail = b""
            else:
                self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.state = "closed"
        self.table.forget(self)
        if self.admitted:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # --- called by the server -----------------------------------------------------------------

    def request_finished(self) -> None:
        """The handler answered: the connection is idle until the client's next request."""
        if self.state == "request":
            self.state = "idle"
            self.reading_body = False
            self._arm(self.table.limits.idle_timeout, "idle_timeout")

    def cut(self, reason: str) -> None:
        """Close the connection now (no goodbye: a slow client gets no more of our time)."""
        if self.state == "closed":
            return
        self.state = "closed"
        self.table.count(reason)
        self.table.forget(self)
        self._disarm()
        if reason in ("header_timeout", "shed"):
            self.table.summary.note("web.connection_cut", reason=reason)
        if self.transport is not None:
            self.transport.abort()

    # --- timers -------------------------------------------------------------------------------

    def _arm(self, seconds: float, reason: str) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(seconds, self.cut, reason)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class QuietAcceptErrors(logging.Filter):
    """Turns asyncio's "accept() out of system resource" records into one line per interval,
    without the traceback, saying how many were held back.

    asyncio retries a failed accept every second and logs each failure with a traceback; under
    a file-descriptor shortage that is a traceback per second per listening socket, forever.
    """

    def __init__(self, interval: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._last: float | None = None
        self.held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if "accept" not in str(record.msg):
            return True
        now = self.clock()
        if self._last is not None and now - self._last < self.interval:
            self.held += 1
            return False
        self._last = now
        record.msg = (
            "web server: accept() failed for lack of file descriptors; retrying "
            f"({self.held} more since the last report)"
        )
        record.args = None
        record.exc_info = None
        record.exc_text = None
        self.held = 0
        return True
