"""The benches' one way of reading a list of latencies (nearest rank, as
https://en.wikipedia.org/wiki/Percentile#The_nearest-rank_method defines it)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank: the smallest value with at least 95% of the
    values at or below it."""
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]
