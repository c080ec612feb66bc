"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.loopback import LoopbackHTTPServer
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.smtp import SmtpSink, StartSmtp

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
