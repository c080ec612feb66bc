"""Fixtures shared by every test package, and the unit / integration split.

A test is an integration test when it starts a server or a process: marked ``postgres`` or
``slow``, using a server fixture (``SERVER_FIXTURES``), or marked ``integration`` by hand. Every
other test is a unit test (``./dev test-fast`` runs only those) and may not listen on a socket,
start a subprocess or fork: it fails saying so, rather than slowly turning the fast run slow.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.loopback import LoopbackHTTPServer
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.smtp import SmtpSink, StartSmtp

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: fixtures that start a server (or connect to one a session fixture started)
SERVER_FIXTURES = frozenset(
    {"loopback_http", "start_smtp", "smtp_server", "postgres_server", "postgres_url", "service"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        by_marker = item.get_closest_marker("postgres") or item.get_closest_marker("slow")
        fixtures = set(getattr(item, "fixturenames", ()))
        if by_marker or fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _unit_tests_stay_in_process(request: pytest.FixtureRequest) -> Iterator[None]:
    """Refuse listening sockets, subprocesses and forks in a test not marked integration."""
    if request.node.get_closest_marker("integration"):
        yield
        return

    def refuse(what: str) -> AssertionError:
        return AssertionError(
            f"{request.node.nodeid} {what}: mark it pytest.mark.integration "
            "(unit tests, the ones ./dev test-fast runs, stay in one process)"
        )

    def listen(sock: socket.socket, *args: object) -> None:
        sock.close()  # or its ResourceWarning fails a later test
        raise refuse("listens on a socket")

    def execute_child(*args: object) -> None:
        raise refuse("starts a subprocess")

    def fork() -> int:
        raise refuse("forks")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "listen", listen)
        # Popen's own step that forks: __init__ has set up (and now cleans up) everything else
        patch.setattr(subprocess.Popen, "_execute_child", execute_child)
        patch.setattr(os, "fork", fork)
        yield


#: names a test may look up: loopback, and reserved names that never resolve (RFC 2606, 6761)
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", ""})
_RESERVED_SUFFIXES = (".invalid", ".test", ".example", ".localhost")


def _is_loopback(host: object) -> bool:
    if host is None:
        return True
    name = host.decode() if isinstance(host, bytes) else str(host)
    return name.lower() in _LOOPBACK_NAMES or name.startswith("127.")


@pytest.fixture(autouse=True)
def _no_internet(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that looks up or connects to anything beyond loopback: CI has no network,
    where such a test would only fail slowly or pass for the wrong reason."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            name = host.decode() if isinstance(host, bytes) else str(host)
            if not name.lower().rstrip(".").endswith(_RESERVED_SUFFIXES):
                attempts.append(f"looked up {name}")
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: no lookups beyond loopback in tests")
        return real_getaddrinfo(host, *args, **kwargs)

    def outside(sock: socket.socket, address: Any) -> bool:
        inet = sock.family in (socket.AF_INET, socket.AF_INET6)
        return inet and isinstance(address, tuple) and not _is_loopback(address[0])

    def connect(sock: socket.socket, address: Any) -> None:
        if outside(sock, address):
            attempts.append(f"connected to {address[0]}")
            raise OSError(101, f"{address[0]}: no connections beyond loopback in tests")
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        if outside(sock, address):
            attempts.append(f"connected to {address[0]}")
            return 101
        return real_connect_ex(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        yield
    assert not attempts, f"{request.node.nodeid} reached beyond loopback: {sorted(set(attempts))}"


@pytest.fixture(autouse=True)
def _heap_thawed() -> Iterator[None]:
    """A test that reloads a config runs ``settle_heap``, which freezes the heap and collects
    less often; undo both, so that later tests' garbage (and their weakref and ResourceWarning
    checks) behave as usual."""
    thresholds = gc.get_threshold()
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
    if gc.get_threshold() != thresholds:
        gc.set_threshold(*thresholds)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The recorded carrier data in ../shared/data, or a skip when this checkout has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"recorded carrier data not found at {SHARED_DATA} (only present beside the dev repo)"
        )
    return SHARED_DATA


@pytest.fixture
def loopback_http() -> Iterator[LoopbackHTTPServer]:
    """A real HTTP server on 127.0.0.1 whose routes each test defines."""
    server = LoopbackHTTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_smtp() -> Iterator[StartSmtp]:
    """Start SMTP sinks on 127.0.0.1 (``SmtpSink`` options: port, recorder, TLS, auth...); every
    one still running stops at teardown."""
    sinks: list[SmtpSink] = []

    def start(**options: Any) -> SmtpSink:
        sink = SmtpSink(**options)
        sink.start()
        sinks.append(sink)
        return sink

    yield start
    for sink in sinks:
        sink.stop()


@pytest.fixture
def smtp_server(start_smtp: StartSmtp) -> SmtpSink:
    """A running SMTP sink on 127.0.0.1 recording every accepted message."""
    return start_smtp()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (initdb in a temp dir, loopback port)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    with PostgresServer(bin_dir) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server, dropped after the test."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
