"""Health rules: when the service counts as unhealthy, from the store's snapshot and the daemons'
heartbeats. ``tracker status`` prints this report and exits 1 when it is unhealthy; the ops view
shows the same report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from shops.status import shop_views
from tracker.durations import format_duration
from tracker.store.heartbeats import Beat, read_heartbeats
from tracker.store.snapshot import StoreSnapshot, take_snapshot


@dataclass(frozen=True)
class HealthLimits:
    """When ``tracker status`` calls the service unhealthy."""

    missed_beats: int = 3
    max_failed_notices: int = 10
    failed_window: timedelta = timedelta(hours=24)
    carrier_stale_after: timedelta = timedelta(hours=6)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _daemon_view(beat: Beat, now: datetime, limits: HealthLimits) -> dict[str, Any]:
    age = now - beat.at
    fresh = beat.state == "running" and age <= beat.interval * limits.missed_beats
    return {
        "owner": beat.owner,
        "host": beat.host,
        "pid": beat.pid,
        "state": beat.state if beat.state != "running" or fresh else "stale",
        "started_at": _iso(beat.started_at),
        "last_heartbeat": _iso(beat.at),
        "heartbeat_age_seconds": round(age.total_seconds(), 1),
        "heartbeat_every_seconds": beat.interval.total_seconds(),
        "config_digest": beat.config_digest,
        "reloads": beat.data.get("reloads", 0),
        "breakers": beat.data.get("breakers", {}),
        "totals": beat.data.get("totals", {}),
    }


def _scheduler_problems(daemons: list[dict[str, Any]], limits: HealthLimits) -> list[str]:
    if not daemons:
        return ["no daemon has ever written a heartbeat to this store (is `tracker run` running?)"]
    if any(d["state"] == "running" for d in daemons):
        return []
    latest = daemons[0]
    if latest["state"] == "stale":
        return [
            f"no heartbeat for {latest['heartbeat_age_seconds']:.0f}s from {latest['owner']} "
            f"(expected every {latest['heartbeat_every_seconds']:.0f}s; "
            f"unhealthy after {limits.missed_beats} missed)"
        ]
    return [f"the scheduler is {latest['state']} (last heartbeat {latest['last_heartbeat']})"]


def _carrier_views(
    snap: StoreSnapshot, daemons: list[dict[str, Any]], now: datetime, limits: HealthLimits
) -> tuple[dict[str, Any], list[str]]:
    live = [d for d in daemons if d["state"] == "running"]
    breakers: dict[str, Any] = {}
    for daemon in reversed(live):  # the most recent heartbeat wins
        breakers.update(daemon["breakers"])
    views: dict[str, Any] = {}
    problems: list[str] = []
    for name in sorted(set(snap.carriers) | set(breakers)):
        activity = snap.carriers.get(name)
        last = activity.last_success if activity else None
        since = activity.active_since if activity else None
        active = activity.active if activity else 0
        breaker = breakers.get(name, {})
        views[name] = {
            "active_shipments": active,
            "last_successful_poll": _iso(last),
            "circuit": breaker.get("state", "unknown"),
            "consecutive_failures": breaker.get("failures", 0),
            "credentials_rejected": breaker.get("credentials_rejected"),
        }
        if breaker.get("credentials_rejected"):
            problems.append(f"carrier {name}: {breaker['credentials_rejected']}")
        stale_at = now - limits.carrier_stale_after
        if active and since is not None and since < stale_at and (last is None or last < stale_at):
            when = "never" if last is None else f"last at {last:%Y-%m-%d %H:%M} UTC"
            problems.append(
                f"carrier {name}: no successful poll for over "
                f"{format_duration(limits.carrier_stale_after)} "
                f"({when}; {active} shipments waiting)"
            )
    return views, problems


def health_report(session: Session, now: datetime, limits: HealthLimits) -> dict[str, Any]:
    """The whole status as plain data: what ``--json`` prints and what the exit code follows."""
    snap = take_snapshot(session, now, now - limits.failed_window)
    daemons = [_daemon_view(beat, now, limits) for beat in read_heartbeats(session)]
    carriers, carrier_problems = _carrier_views(snap, daemons, now, limits)
    problems = _scheduler_problems(daemons, limits) + carrier_problems
    if snap.failed_notices_recent > limits.max_failed_notices:
        problems.append(
            f"{snap.failed_notices_recent} notices failed in the last "
            f"{format_duration(limits.failed_window)} (limit {limits.max_failed_notices})"
        )
    running = [d for d in daemons if d["state"] == "running"]
    return {
        "healthy": not problems,
        "problems": problems,
        "checked_at": now.isoformat(),
        "scheduler": {
            "state": "running"
            if running
            else (daemons[0]["state"] if daemons else "never_started"),
            "daemons": daemons,
        },
        "carriers": carriers,
        "queues": snap.queues,
        "notices": {
            "by_state": snap.notices_by_state,
            "failed_recent": snap.failed_notices_recent,
            "failed_window": format_duration(limits.failed_window),
        },
        "shipments": snap.shipments_by_status,
        "shops": shop_views(session),
    }
