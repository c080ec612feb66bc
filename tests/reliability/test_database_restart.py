"""Database: PostgreSQL restarted (immediate mode, as a crash) in the middle of poll and dispatch
cycles; the daemon reconnects and its final state equals a run whose database never went away."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from carriers.sandbox.service import SandboxService
from tests.reliability.harness import (
    START,
    Snapshot,
    journey_set,
    sent_message_ids,
    snapshot,
    write_config,
)
from tests.support.postgres import PostgresServer, find_bin_dir
from tests.support.sandbox import track_in_sandbox
from tests.support.smtp import MailRecorder, StartSmtp
from tracker.clock import SimulatedClock
from tracker.config import load_config
from tracker.runtime.app import build_app
from tracker.runtime.daemon import Daemon

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DAYS = 14
STEP = timedelta(hours=2)
#: restart PostgreSQL while the daemon waits on these carrier requests / accepted emails
RESTART_ON_TRACK_REQUEST = (2, 9)
RESTART_ON_EMAIL = (3,)


class RestartablePostgres(PostgresServer):
    """The test support server plus a crash-style restart."""

    restarts = 0

    def restart(self, mode: str = "immediate", options: str | None = None) -> None:
        """``pg_ctl restart``; the default immediate mode is a crash that cuts every connection."""
        extra = ("-o", options) if options else ()
        self._run(
            "pg_ctl", "-D", str(self.data), "-m", mode, "-l", str(self.root / "server.log"),
            *extra, "-w", "-t", "60", "restart",
        )  # fmt: skip
        self.restarts += 1

    def make_durable(self) -> None:
        """The shared fixture trades durability for speed (synchronous_commit=off), so a crash
        would lose acknowledged commits, which no production setup accepts: restart cleanly with
        commits that survive a crash."""
        self.restart(
            "fast",
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
            " -c synchronous_commit=on -c fsync=off -c full_page_writes=off -c max_connections=200",
        )
        self.restarts = 0


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[RestartablePostgres]:
    """A private server (the session's shared one must not be restarted under other tests)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
    with RestartablePostgres(bin_dir) as server:
        server.make_durable()
        yield server


class RestartingSandbox(SandboxService):
    """The sandbox carrier, restarting the database while chosen track requests are in flight."""

    def __init__(self, *args: Any, restart: Any = None, on: Sequence[int] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.requests_seen = 0
        self._restart, self._on = restart, set(on)

    def track(self, numbers: Sequence[str]) -> dict[str, Any]:
        self.requests_seen += 1
        if self._restart is not None and self.requests_seen in self._on:
            self._restart()
        return super().track(numbers)


class RestartingRecorder(MailRecorder):
    """Accepts mail, restarting the database before acknowledging chosen messages."""

    def __init__(self, restart: Any = None, on: Sequence[int] = ()) -> None:
        super().__init__()
        self._restart, self._on = restart, set(on)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self._restart is not None and len(self.received) in self._on:
            self._restart()
        return reply


async def run_daemon(
    tmp: Path, url: str, start_smtp: StartSmtp, *, restart: Any = None
) -> tuple[Snapshot, MailRecorder, set[str]]:
    clock = SimulatedClock(START)
    recorder = RestartingRecorder(restart, RESTART_ON_EMAIL)
    server = start_smtp(recorder=recorder)
    async with RestartingSandbox(
        clock=clock.now, restart=restart, on=RESTART_ON_TRACK_REQUEST
    ) as service:
        config = write_config(
            tmp.with_suffix(".toml"),
            db=url,
            carriers={"sandbox": service.base_url},
            smtp_port=server.port,
        )
        app = build_app(load_config(config), clock)
        try:
            items = journey_set(per_journey=1)
            track_in_sandbox(service, app.store, items, START)
            daemon = Daemon(app)
            while clock.now() < START + timedelta(days=DAYS):
                await daemon.step()
                clock.advance(STEP)
            await daemon.step()
            return snapshot(app.store), recorder, sent_message_ids(app.store)
        finally:
            await app.close()
            app.store.kw["bind"].dispose()


async def test_postgres_restarted_mid_cycle_loses_nothing(
    tmp_path: Path, postgres: RestartablePostgres, start_smtp: StartSmtp
) -> None:
    expected, ref_mail, _ = await run_daemon(
        tmp_path / "ref", postgres.create_database(), start_smtp
    )
    actual, mail, sent = await run_daemon(
        tmp_path / "restarted", postgres.create_database(), start_smtp, restart=postgres.restart
    )
    assert postgres.restarts == len(RESTART_ON_TRACK_REQUEST) + len(RESTART_ON_EMAIL)
    assert actual == expected
    assert set(mail.by_message_id) == set(ref_mail.by_message_id) == sent
    assert mail.duplicates == 0
