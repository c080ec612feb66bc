"""Crash: the daemon is SIGKILLed at random moments over a simulated journey set, restarted each
time, and finally run to the end; every due notice reaches the buyer exactly once (by Message-ID)
and the store ends up equal to a run that never crashed.

The kill moments are drawn in simulated time (spread over the whole journey, whatever the speed of
the machine), each followed by a random wall-clock wait so the SIGKILL lands anywhere inside the
step under way: polling, writing, or handing a message to the mail server.

Set TRACKER_CRASH_SEED to replay a run; the seed is printed and named in every failure.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from carriers.sandbox.service import SandboxService
from tests.reliability.driver import read_clock
from tests.reliability.harness import (
    START,
    FileClock,
    journey_set,
    sent_message_ids,
    snapshot,
    write_config,
)
from tests.support.sandbox import track_in_sandbox
from tests.support.smtp import MailRecorder, SmtpSink, StartSmtp
from tracker.store.db import open_store

REPO = Path(__file__).resolve().parents[2]
KILLS = 32
#: a kill is lost only if a daemon runs the last KILL_MARGIN of the journey within JITTER seconds
#: (then it finishes first); a few such would be a very fast machine, more a broken test
MIN_KILLS = 28
DAYS = 60
STEP = timedelta(hours=1)
#: the last kill target this long before the end, so the daemon is still at work when it comes
KILL_MARGIN = timedelta(days=2)
#: upper bound of the wall-clock wait after the target time is reached
JITTER = 0.05
#: seconds to wait for a launcher line before calling a daemon stuck: generous, since a run to the
#: end takes 20 s on an idle machine and several minutes with other test runs on the same 2 cores
PATIENCE = 900
#: a restart resumes this long after the persisted time: longer than the 30 s lease
RESTART_GAP = timedelta(seconds=31)

pytestmark = pytest.mark.slow


@dataclass
class Run:
    """One daemon installation (config, clock file, SMTP server) and its fork launcher."""

    directory: Path
    config: Path
    clock_file: Path
    smtp: SmtpSink
    launcher: asyncio.subprocess.Process | None = None
    #: time.monotonic() just after each SIGKILLed daemon exited
    kill_times: list[float] = field(default_factory=list)

    def log_tail(self) -> str:
        log = self.directory / "daemon.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"

    async def open(self) -> None:
        """Start the launcher that forks daemon processes (imports paid once)."""
        self.launcher = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.reliability.driver", "--serve",
            "--log", str(self.directory / "daemon.log"),
            "--config", str(self.config),
            "--clock-file", str(self.clock_file),
            "--end", (START + timedelta(days=DAYS)).isoformat(),
            "--step-seconds", str(STEP.total_seconds()),
            "--restart-gap", str(RESTART_GAP.total_seconds()),
            cwd=REPO,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip

    async def close(self) -> None:
        if self.launcher is not None and self.launcher.returncode is None:
            assert self.launcher.stdin is not None
            self.launcher.stdin.close()
            await asyncio.wait_for(self.launcher.wait(), timeout=30)

    async def _line(self, wait: float) -> str:
        assert self.launcher is not None
        assert self.launcher.stdout is not None
        line = await asyncio.wait_for(self.launcher.stdout.readline(), timeout=wait)
        assert line, f"launcher died; daemon log:\n{self.log_tail()}"
        return line.decode().strip()

    async def start(self) -> int:
        """Fork a daemon; returns its pid once it reports ready."""
        assert self.launcher is not None
        assert self.launcher.stdin is not None
        self.launcher.stdin.write(b"run\n")
        await self.launcher.stdin.drain()
        pid, ready = 0, False
        while not (pid and ready):
            line = await self._line(wait=PATIENCE)
            if line.startswith("pid "):
                pid = int(line.split()[1])
            elif line == "ready":
                ready = True
            else:
                raise AssertionError(f"daemon did not start ({line}); log:\n{self.log_tail()}")
        return pid

    def persisted_time(self) -> datetime:
        """The simulated time the running daemon last persisted (written atomically)."""
        return read_clock(self.clock_file)

    async def run_until_killed(self, at: datetime, jitter: float) -> bool:
        """Start a daemon, SIGKILL it ``jitter`` seconds after its simulated time reaches ``at``;
        False if it finished the journey first."""
        pid = await self.start()
        ended = asyncio.create_task(self._line(wait=PATIENCE))
        # the clock file is the only view into the daemon's progress: poll it
        while not ended.done() and self.persisted_time() < at:
            await asyncio.wait({ended}, timeout=0.005)
        if not ended.done():
            await asyncio.wait({ended}, timeout=jitter)
        if not ended.done():
            os.kill(pid, signal.SIGKILL)
        line = await ended
        if line == "finished":  # done before the signal: it exits normally
            assert await self._line(wait=PATIENCE) == f"exit {pid} 0", self.log_tail()
            return False
        assert line == f"exit {pid} -9", f"daemon failed ({line}); log:\n{self.log_tail()}"
        # Taken once the process is gone: everything it handed the mail server came before.
        self.kill_times.append(time.monotonic())
        return True

    async def run_to_end(self) -> None:
        """Start a daemon and let it finish the journey."""
        pid = await self.start()
        lines = [await self._line(wait=PATIENCE), await self._line(wait=PATIENCE)]
        assert lines == ["finished", f"exit {pid} 0"], f"{lines}; log:\n{self.log_tail()}"


def prepare(directory: Path, smtp: SmtpSink, service: SandboxService, clock: FileClock) -> Run:
    directory.mkdir()
    config = write_config(
        directory / "tracker.toml",
        db=directory / "tracker.sqlite3",
        carriers={"sandbox": service.base_url},
        smtp_port=smtp.port,
    )
    items = journey_set(per_journey=2)
    track_in_sandbox(
        service, open_store(f"sqlite:///{directory / 'tracker.sqlite3'}"), items, START
    )
    return Run(directory, config, clock.path, smtp)


async def test_sigkill_at_random_moments_loses_nothing_and_sends_each_notice_once(
    tmp_path: Path, start_smtp: StartSmtp
) -> None:
    seed = int(os.environ.get("TRACKER_CRASH_SEED", random.randrange(2**32)))
    print(f"crash test seed: TRACKER_CRASH_SEED={seed}")
    rng = random.Random(seed)
    ref_clock = FileClock(tmp_path / "reference.clock", START)
    crash_clock = FileClock(tmp_path / "crash.clock", START)
    async with (
        SandboxService(clock=ref_clock) as ref_service,
        SandboxService(clock=crash_clock) as crash_service,
    ):
        reference = prepare(tmp_path / "reference", start_smtp(), ref_service, ref_clock)
        crashing = prepare(tmp_path / "crashing", start_smtp(), crash_service, crash_clock)
        await reference.open()
        await crashing.open()
        try:
            reference_task = asyncio.create_task(reference.run_to_end())
            span = (timedelta(days=DAYS) - KILL_MARGIN).total_seconds()
            targets = sorted(START + timedelta(seconds=rng.uniform(0, span)) for _ in range(KILLS))
            kills = 0
            for target in targets:
                if not await crashing.run_until_killed(target, rng.uniform(0, JITTER)):
                    break
                kills += 1
            await crashing.run_to_end()
            await reference_task
        finally:
            await crashing.close()
            await reference.close()

    where = f"seed {seed}, files in {tmp_path}"
    assert kills >= MIN_KILLS, f"{where}: the journey ended after only {kills} of {KILLS} kills"
    ref_store = open_store(f"sqlite:///{reference.directory / 'tracker.sqlite3'}")
    crash_store = open_store(f"sqlite:///{crashing.directory / 'tracker.sqlite3'}")
    expected, actual = snapshot(ref_store), snapshot(crash_store)
    assert actual.shipments == expected.shipments, where
    assert actual.events == expected.events, where
    assert actual.notices == expected.notices, where

    ref_mail, crash_mail = reference.smtp.recorder, crashing.smtp.recorder
    assert ref_mail.duplicates == 0, where
    assert set(crash_mail.by_message_id) == set(ref_mail.by_message_id), where
    assert set(crash_mail.by_message_id) == sent_message_ids(crash_store), where
    print(
        f"{kills} kills; {len(crash_mail.by_message_id)} notices delivered; "
        f"{crash_mail.duplicates} raw duplicate deliveries (same Message-ID)"
    )
    # A notice is sent again only when a daemon was killed after the mail server accepted it and
    # before "sent" was committed: it must be the last message that daemon handed over.
    assert not unexplained_resends(crash_mail, crashing.kill_times), where
    assert crash_mail.duplicates <= kills, where


def unexplained_resends(mail: MailRecorder, kill_times: list[float]) -> list[str]:
    """Message-IDs delivered again although their earlier delivery was not the last one before
    a SIGKILL (sends are sequential, so only that one can have been in flight)."""
    unexplained = []
    accepted = mail.messages
    for number, first in enumerate(accepted):
        later = accepted[number + 1 :]
        if not any(again.message_id == first.message_id for again in later):
            continue  # never sent again
        kill = next((k for k in kill_times if k >= first.accepted_at), None)
        in_flight = kill is not None and not any(
            first.accepted_at < other.accepted_at <= kill for other in later
        )
        if not in_flight:
            unexplained.append(first.message_id)
    return unexplained
