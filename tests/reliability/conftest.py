"""Fixtures for the reliability suite: loopback SMTP servers that can be stopped and restarted."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from tests.reliability.harness import SmtpServer

StartSmtp = Callable[..., SmtpServer]


@pytest.fixture
def smtp() -> Iterator[StartSmtp]:
    """Start recording SMTP servers on 127.0.0.1; every one still running stops at teardown."""
    servers: list[SmtpServer] = []

    def start(**options: object) -> SmtpServer:
        server = SmtpServer(**options)  # type: ignore[arg-type]
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        with contextlib.suppress(AssertionError, RuntimeError):
            server.stop()
