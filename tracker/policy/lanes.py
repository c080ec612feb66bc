"""Lane estimates: transit-time percentiles of one (carrier, origin, destination) lane.

Until a lane has enough deliveries the configured default applies; after that notices quote the
lane's own median-to-90th-percentile window, and "late" means later than the lane's 90th.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

#: deliveries a lane needs before its own figures replace the configured default
MIN_SAMPLES = 20


@dataclass(frozen=True, slots=True)
class LaneEstimate:
    """Transit-time percentiles of one lane."""

    median: timedelta
    p90: timedelta
    samples: int


def percentile(sorted_values: Sequence[timedelta], fraction: float) -> timedelta:
    """Linear-interpolated percentile of already sorted values (fraction in [0, 1])."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def estimate(
    transit_times: Sequence[timedelta], min_samples: int = MIN_SAMPLES
) -> LaneEstimate | None:
    """Median and 90th percentile, or None while there are too few deliveries to trust."""
    if len(transit_times) < min_samples:
        return None
    ordered = sorted(transit_times)
    return LaneEstimate(percentile(ordered, 0.5), percentile(ordered, 0.9), len(ordered))
