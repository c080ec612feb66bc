"""Ops test helpers: a config file on disk and a datagram socket standing in for systemd."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

BASE_CONFIG = """
[store]
url = "sqlite:///state/tracker.sqlite3"

[daemon]
poll_every = "1s"
dispatch_every = "1s"
timers_every = "1s"
heartbeat_every = "300ms"
shutdown_grace = "5s"

[mail]
maildir = "state/mail"

[logging]
format = "json"
level = "info"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A valid config whose state lives beside it."""
    path = tmp_path / "tracker.toml"
    path.write_text(BASE_CONFIG, "utf-8")
    return path


class NotifySocket:
    """A real AF_UNIX datagram socket, bound like systemd's, read continuously like systemd does."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.05)
        self.received: list[str] = []
        self._arrived = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._arrived:
                self.received.append(data.decode("utf-8"))
                self._arrived.notify_all()

    def _count(self, field: str) -> int:
        return sum(field in message.split("\n") for message in self.received)

    def count(self, field: str) -> int:
        """How many received datagrams carry ``field`` as one of their lines."""
        with self._arrived:
            return self._count(field)

    def wait_for(self, field: str, timeout: float = 10.0, *, at_least: int = 1) -> list[str]:
        """Wait until ``at_least`` datagrams carrying ``field`` arrived; all seen so far."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: self._count(field) >= at_least, timeout):
                raise AssertionError(f"no {at_least}x {field!r} within {timeout}s: {self.received}")
            return list(self.received)

    def close(self) -> None:
        self._closed = True
        self._reader.join(timeout=2)
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    """A filesystem notification socket (the form systemd uses for services)."""
    server = NotifySocket(str(tmp_path / "notify.sock"))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def abstract_notify_socket() -> Iterator[NotifySocket]:
    """An abstract-namespace socket, written ``@name`` in $NOTIFY_SOCKET."""
    server = NotifySocket(f"@tracker-test-{uuid.uuid4().hex}")
    try:
        yield server
    finally:
        server.close()
