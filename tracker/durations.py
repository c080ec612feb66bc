"""Durations written with units (``90s``, ``36h``, ``25d``, ``1d12h``).

Units let the same thresholds be days in production and seconds in tests.
"""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$")
#: nothing the tracker waits for is longer; a longer value overflows date arithmetic (timedelta
#: stops at 999,999,999 days, and now + 10,000 years is past year 9999)
LONGEST = timedelta(days=36_500)


def parse_duration(text: str) -> timedelta:
    """Parse ``"36h"`` or ``"1d12h"``; a bare number, an unknown unit or a value over
    ``LONGEST`` (100 years) is a ValueError."""
    compact = text.strip().replace(" ", "").lower()
    if not compact or not _WHOLE.match(compact):
        raise ValueError(
            f"invalid duration {text!r}: write a number with a unit, e.g. 90s, 15m, 36h, 25d, 2w"
        )
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(compact))
    if seconds > LONGEST.total_seconds():  # also inf, from a number with hundreds of digits
        raise ValueError(f"invalid duration {text!r}: longer than 100 years ({LONGEST.days}d)")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest unit form that round-trips through ``parse_duration`` (whole seconds)."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
