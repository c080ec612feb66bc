"""Loopback ports for test servers."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for servers that cannot bind
    port 0 themselves, such as aiosmtpd's Controller and PostgreSQL, or to restart a server on the
    port it had)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
