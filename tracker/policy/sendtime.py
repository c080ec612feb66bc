"""When a notice may go out: the buyer's quiet hours and the minimum gap between notices.

Pure functions of the clock and config; the buyer's timezone comes from the destination country.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.core import get_global

from tracker.config import QuietHoursConfig

DEFAULT_ZONE = "UTC"


@lru_cache(maxsize=1)
def _main_zones() -> dict[str, str]:
    text = (Path(__file__).parent / "data" / "country_timezones.toml").read_text(encoding="utf-8")
    return {k: str(v) for k, v in tomllib.loads(text).items()}


@lru_cache(maxsize=512)
def country_timezone(country: str, overrides: tuple[tuple[str, str], ...] = ()) -> ZoneInfo:
    """The timezone most of a country's buyers live in, or an ops override."""
    for code, zone in overrides:
        if code == country:
            return ZoneInfo(zone)
    main = _main_zones().get(country.upper())
    zones: list[str] = [main] if main else get_global("territory_zones").get(country.upper(), [])
    for zone in zones:
        try:
            return ZoneInfo(zone)
        except ZoneInfoNotFoundError:
            continue
    return ZoneInfo(DEFAULT_ZONE)


def _in_quiet(local: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(moment: datetime, country: str, quiet: QuietHoursConfig) -> datetime:
    """``moment`` itself if it is outside the buyer's quiet hours, else the next morning's end."""
    if not quiet.enabled:
        return moment
    zone = country_timezone(country, tuple(sorted(quiet.timezone_by_country.items())))
    local = moment.astimezone(zone)
    if not _in_quiet(local.time(), quiet.start, quiet.end):
        return moment
    wake = local.replace(hour=quiet.end.hour, minute=quiet.end.minute, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake.astimezone(moment.tzinfo)


def schedule_notice(
    now: datetime,
    previous: datetime | None,
    min_gap: timedelta,
    country: str,
    quiet: QuietHoursConfig,
    *,
    urgent: bool,
) -> datetime:
    """The earliest allowed send time: after the gap since the previous notice (unless
    ``urgent``, as customs actions are) and outside quiet hours."""
    earliest = now
    if previous is not None and not urgent:
        earliest = max(earliest, previous + min_gap)
    return next_allowed(earliest, country, quiet)
