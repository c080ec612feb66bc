"""How long a post office or pickup point keeps a parcel, and so until when the buyer can
collect it: the seller's setting for the destination, else the post's published default."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from tracker.config import Thresholds
from tracker.errors import ConfigError

_DATA = Path(__file__).parent / "data" / "pickup_hold.toml"


@cache
def _default_days() -> dict[str, int]:
    try:
        data = tomllib.loads(_DATA.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{_DATA}: cannot read pickup hold periods: {exc}") from exc
    bad = [k for k, v in data.items() if not isinstance(v, int) or v < 1]
    if bad or "default" not in data:
        raise ConfigError(f"{_DATA}: each entry must be a whole number of days >= 1: {bad}")
    return {str(k).upper(): int(v) for k, v in data.items()}


def pickup_hold(country: str, limits: Thresholds) -> timedelta:
    """How long the destination keeps a parcel for collection."""
    if limits.pickup_hold is not None:
        return limits.pickup_hold
    days = _default_days()
    return timedelta(days=days.get(country.upper(), days["DEFAULT"]))


def pickup_until(available_since: datetime, country: str, limits: Thresholds) -> datetime:
    """The last moment the buyer can collect a parcel that became available at
    ``available_since``."""
    return available_since + pickup_hold(country, limits)
