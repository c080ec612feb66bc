"""The daemon: three jobs (poll, timers, dispatch) on an APScheduler AsyncIOScheduler, with a
graceful stop that lets in-flight work finish.

The job list (``Daemon.jobs``) is the one definition both drivers read: APScheduler runs it on
the wall clock, and ``Daemon.step`` runs it in accelerated simulated time (the demo, the tests),
asking the same interval triggers when each job is next due.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tracker.eventlog import get_logger
from tracker.jobs.dispatch import DispatchStats, dispatch_due
from tracker.jobs.poll import PollStats, poll_due
from tracker.jobs.timers import TimerStats, run_timers
from tracker.runtime.app import TrackerApp
from tracker.runtime.heartbeat import heartbeat_of, status_line
from tracker.runtime.service import Service
from tracker.store.daemonlock import single_daemon
from tracker.web.site import DaemonSite, wants_server


@dataclass(frozen=True)
class Job:
    """One scheduled job: its name, how often it runs and what it runs."""

    name: str
    every: timedelta
    run: Callable[[], Awaitable[Any]]

    def trigger(self, start: datetime) -> IntervalTrigger:
        """The interval trigger both the scheduler and ``Daemon.step`` follow."""
        return IntervalTrigger(seconds=self.every.total_seconds(), start_date=start, timezone="UTC")


class Hook(Protocol):
    """Something that runs beside the jobs for the daemon's lifetime (e.g. the webhook server)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Totals:
    """Running totals since the daemon started."""

    polled: int = 0
    poll_failures: int = 0
    new_events: int = 0
    notices_queued: int = 0
    notices_sent: int = 0
    notices_failed: int = 0
    timer_evaluations: int = 0
    last_poll_at: dict[str, datetime] = field(default_factory=dict)


class Daemon:
    """Runs the jobs of one ``TrackerApp``; one instance per process."""

    def __init__(self, app: TrackerApp, service: Service | None = None) -> None:
        self.app = app
        #: systemd notifications and config reload; inert unless ``tracker run`` sets them up
        self.service = service or Service()
        self.started_at = app.clock.now()
        self._scheduler: AsyncIOScheduler | None = None
        self._reloads: set[asyncio.Task[bool]] = set()
        self.totals = Totals()
        #: when each job is next due in simulated time (``step``)
        self._next_due: dict[str, datetime] = {}
        self._in_flight: set[asyncio.Task[Any]] = set()
        #: set once a stop begins: no new job run starts after it
        self._stopping = False
        self.log = get_logger(daemon=app.owner)
        #: started before the jobs and stopped after they drain, by ``run_forever``
        self.hooks: list[Hook] = []
        if wants_server(app.config):
            self.hooks.append(DaemonSite(app))

    async def poll_job(self) -> PollStats:
        """Poll until no due shipment is left or a batch comes back short."""
        total = PollStats()
        while True:
            stats = await poll_due(self.app)
            total.claimed += stats.claimed
            total.polled += stats.polled
            total.failed += stats.failed
            total.new_events += stats.new_events
            total.notices += stats.notices
            for name, count in stats.by_carrier.items():
                total.by_carrier[name] += count
                self.totals.last_poll_at[name] = self.app.clock.now()
            if stats.claimed < self.app.config.daemon.batch_size:
                break
        self.totals.polled += total.polled
        self.totals.poll_failures += total.failed
        self.totals.new_events += total.new_events
        self.totals.notices_queued += total.notices
        return total

    async def timers_job(self) -> TimerStats:
        """Evaluate every shipment whose timer is due."""
        total = TimerStats()
        while True:
            stats = await run_timers(self.app)
            total.evaluated += stats.evaluated
            total.notices += stats.notices
            if stats.evaluated < self.app.config.daemon.batch_size:
                break
        self.totals.timer_evaluations += total.evaluated
        self.totals.notices_queued += total.notices
        return total

    async def dispatch_job(self) -> DispatchStats:
        """Send every notice that is due."""
        total = DispatchStats()
        while True:
            stats = await dispatch_due(self.app)
            total.claimed += stats.claimed
            total.sent += stats.sent
            total.retried += stats.retried
            total.failed += stats.failed
            if stats.claimed < self.app.config.daemon.batch_size:
                break
        self.totals.notices_sent += total.sent
        self.totals.notices_failed += total.failed
        return total

    def jobs(self) -> list[Job]:
        """The work jobs, in the order ``step`` runs them when several are due."""
        daemon = self.app.config.daemon
        return [
            Job("poll", daemon.poll_every, self.poll_job),
            Job("timers", daemon.timers_every, self.timers_job),
            Job("dispatch", daemon.dispatch_every, self.dispatch_job),
        ]

    def _all_jobs(self) -> list[Job]:
        heartbeat = Job("heartbeat", self.app.config.daemon.heartbeat_every, self.heartbeat_job)
        return [*self.jobs(), heartbeat]

    async def step(self) -> None:
        """Run, in order, each job that is due on the injected clock (coalesced like the
        scheduler's runs: one run however many intervals were missed)."""
        now = self.app.clock.now()
        for job in self.jobs():
            due = self._next_due.get(job.name, now)
            if due <= now:
                await job.run()
                self._next_due[job.name] = job.trigger(now).get_next_fire_time(now, now)

    async def _guarded(self, name: str, job: Callable[[], Awaitable[Any]]) -> None:
        if self._stopping:
            return  # started by the scheduler after the stop began: nothing new after a stop
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            await job()
        except Exception:
            # One failed run must not stop the schedule; the next run retries.
            self.log.exception("job.crashed", job=name)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # Cancelled by the drain (or by the loop's teardown) after a stop: say so in the
            # event log instead of letting the scheduler print a traceback.
            self.log.warning("job.cancelled_at_stop", job=name)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Run on the wall clock until SIGTERM/SIGINT (or ``stop``), then drain and return.

        On SQLite the database's daemon lock is held throughout (StoreError if taken).
        """
        with single_daemon(self.app.config.store.url):
            await self._run_forever(stop)

    async def _run_forever(self, stop: asyncio.Event | None) -> None:
        started: list[Hook] = []
        try:
            for hook in self.hooks:
                await hook.start()
                started.append(hook)
            await self._run_jobs(stop)
        finally:
            for hook in reversed(started):
                await hook.stop()

    async def _run_jobs(self, stop: asyncio.Event | None) -> None:
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        scheduler = AsyncIOScheduler(event_loop=loop)
        start = self.app.clock.now()
        for job in self._all_jobs():
            scheduler.add_job(
                self._guarded,
                job.trigger(start),
                args=(job.name, job.run),
                id=job.name,
                max_instances=1,
                coalesce=True,
                next_run_time=start,
                misfire_grace_time=None,
            )
        scheduler.start()
        self._scheduler = scheduler
        self.log.info("daemon.started", jobs=[job.name for job in self.jobs()])
        self.service.ready(status_line(self.summary()))
        try:
            await stop.wait()
        finally:
            self._stopping = True
            await self.service.stopping()
            self.log.info("daemon.stopping", in_flight=len(self._in_flight))
            # No new runs, but the scheduler is shut down only after the drain: its shutdown
            # cancels every job run still in flight (APScheduler's AsyncIOExecutor), which
            # would cut a send off between the server's acceptance and its sent-mark.
            scheduler.pause()
            loop.remove_signal_handler(signal.SIGHUP)
            await asyncio.gather(*self._reloads, return_exceptions=True)
            await self.drain()
            scheduler.shutdown(wait=False)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self._beat_safely("stopped")
            self.log.info("daemon.stopped", **self.summary())

    async def heartbeat_job(self) -> None:
        """Record that the scheduler is alive (for ``tracker status``) and refresh STATUS=."""
        await self.app.in_store(heartbeat_of, self, "running")
        self.service.status(status_line(self.summary()))

    async def _beat_safely(self, state: str) -> None:
        try:
            await self.app.in_store(heartbeat_of, self, state)
        except Exception:
            self.log.exception("heartbeat.failed", state=state)

    def _request_reload(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload(self) -> bool:
        """SIGHUP: swap in the re-read config, reschedule changed intervals, publish a heartbeat."""
        if not await self.service.reload(self.app):
            return False
        if self._scheduler is not None:
            now = self.app.clock.now()
            for job in self._all_jobs():
                scheduled = self._scheduler.get_job(job.name)
                if scheduled is not None and scheduled.trigger.interval != job.every:
                    self._scheduler.reschedule_job(job.name, trigger=job.trigger(now))
        await self._beat_safely("running")
        return True

    async def drain(self) -> None:
        """Wait for in-flight job runs, up to the configured grace period."""
        # A run the scheduler created just before the stop has not registered itself yet; one
        # turn of the loop lets it start (and join _in_flight) instead of being cancelled at exit.
        await asyncio.sleep(0)
        pending = set(self._in_flight)
        if not pending:
            return
        grace = self.app.config.daemon.shutdown_grace.total_seconds()
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            self.log.warning("daemon.drain_timeout", cancelled=len(late))

    def summary(self) -> dict[str, int]:
        """Totals for logs and the demo."""
        t = self.totals
        return {
            "polled": t.polled,
            "poll_failures": t.poll_failures,
            "new_events": t.new_events,
            "notices_queued": t.notices_queued,
            "notices_sent": t.notices_sent,
            "notices_failed": t.notices_failed,
        }
