"""Backoff and jitter: how long to wait before trying again, stable for a given key.

Stable pseudo-random spreading (a hash of the key, not ``random``) keeps replays and simulated
runs identical while still keeping shipments and retries out of lockstep.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta


def jitter_fraction(key: str) -> float:
    """A stable pseudo-random number in [0, 1) for ``key``: spreads retries without randomness
    that would make replays differ."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def backoff(failures: int, key: str, *, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential backoff with +-25% jitter: base, 2*base, 4*base ... up to ``cap``."""
    exponent: int = max(0, min(failures - 1, 20))
    raw: timedelta = base * (1 << exponent)
    bounded = min(raw, cap)
    return bounded * (0.75 + 0.5 * jitter_fraction(key))
