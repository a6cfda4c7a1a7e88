"""When and how long to wait before trying a request again."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential back-off with jitter, capped in attempts and in total time."""

    attempts: int = 6
    total_seconds: float = 90.0
    base_delay: float = 0.5
    max_delay: float = 15.0
    # The longest single wait a 429 may impose before we give up with a clear message.
    max_rate_limit_wait: float = 300.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, failures: int) -> float:
        """Delay after the n-th consecutive failure (1-based): half fixed, half jitter."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (failures - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)


NO_RETRY = RetryPolicy(attempts=1, total_seconds=0.0)
