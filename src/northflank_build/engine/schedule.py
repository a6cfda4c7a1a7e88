"""When to check a build's status next: densely when it is likely to end, sparsely otherwise.

A fixed interval p notices the end p/2 late on average and spends one request per p. Builds
of one job take similar times, so the job's recent builds (one list request) predict when
this one will likely end. Checks are dense in that window and sparse before it, and the
window is sized so the whole wait spends no more than a fixed 10 s poller would on the
predicted duration. Without a forecast, checks start at 1 s and grow to the longest pause.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class Timed(Protocol):
    """What a forecast reads of a past operation (a build, a template run)."""

    @property
    def id(self) -> str: ...
    @property
    def succeeded(self) -> bool: ...
    def created_datetime(self) -> datetime | None: ...
    def concluded_datetime(self) -> datetime | None: ...


FIRST_S = 1.0
GROWTH = 1.5
GROWTH_STEPS_CAP = 64  # 1.5 ** 64 is about 1.8e11 s: past any longest pause
# Dense checks every 2 s: the end is noticed 1 s late on average.
DENSE_S = 2.0
# The request budget: what a fixed poller at this interval spends on the predicted duration.
REFERENCE_S = 10.0
MIN_HISTORY = 3
MAX_PLAUSIBLE_S = 432_000.0  # the longest timeout-seconds allows
HISTORY = 20
# In log space. No two builds take exactly the same time; a floor keeps a window open.
MIN_SPREAD = 0.02
MAX_Z = 2.5
FIT_STEPS = 50
MIN_WINDOW_S = 4 * DENSE_S
# Robust standard deviation from the median absolute deviation, for a normal distribution.
MAD_TO_SD = 1.4826


@dataclass(frozen=True)
class Forecast:
    """How long builds of this job take: median and spread (log space) of recent successes."""

    median_s: float
    spread: float
    samples: int

    @classmethod
    def from_durations(cls, durations: Iterable[float]) -> Forecast | None:
        logs = [math.log(d) for d in durations if d > 0 and math.isfinite(d)][:HISTORY]
        if len(logs) < MIN_HISTORY:
            return None
        import statistics  # noqa: PLC0415 - only with a history (it loads decimal: ~5 ms)

        centre = statistics.median(logs)
        mad = statistics.median(abs(x - centre) for x in logs)
        return cls(math.exp(centre), max(MIN_SPREAD, MAD_TO_SD * mad), len(logs))

    @classmethod
    def from_builds(cls, builds: Iterable[Timed], exclude: str) -> Forecast | None:
        """From the newest successful builds that say when they were created and concluded.

        Failures are left out: they end at any moment and would only blur the window.
        """
        timed = []
        for build in builds:
            created = build.created_datetime()
            if build.id == exclude or not build.succeeded or created is None:
                continue
            concluded = build.concluded_datetime()  # seconds or milliseconds, or None
            if concluded is None:
                continue
            duration = concluded.timestamp() - created.timestamp()
            # A clock gone wrong would put the window days away: left out.
            if 0 < duration <= MAX_PLAUSIBLE_S:
                timed.append((created.timestamp(), duration))
        # The list's sort order is not documented (https://northflank.com/docs/v1/api/jobs/list-job-builds): newest first, by our sort.
        timed.sort(reverse=True)
        return cls.from_durations(duration for _, duration in timed)


class PollSchedule:
    """The pause before the next status check, from the seconds since the build started."""

    def __init__(self, max_interval_s: float, forecast: Forecast | None = None) -> None:
        self.max_interval_s = max_interval_s
        self.forecast = forecast
        self.window: tuple[float, float] | None = None
        if forecast is not None:
            self.window = self._fit(forecast)
        self._past_window_polls = 0

    def _growing(self, first: float, steps: int) -> float:
        # Capped exponent: 1.5 ** 1751 overflows a float, and a long build with a short
        # longest pause makes that many checks (1 s pauses: after half an hour).
        return min(self.max_interval_s, first * GROWTH ** min(steps, GROWTH_STEPS_CAP))

    def _sparse_polls(self, until: float) -> int:
        """Checks the growing schedule makes before ``until``.

        The growing part step by step (a dozen steps at most), the rest at the longest pause
        in one division: a forecast of hours would otherwise loop thousands of times.
        """
        t, polls = 0.0, 0
        while True:
            pause = FIRST_S * GROWTH**polls
            if pause >= self.max_interval_s:
                return polls + max(0, math.ceil((until - t) / self.max_interval_s) - 1)
            t += pause
            if t >= until:
                return polls
            polls += 1

    def _fit(self, forecast: Forecast) -> tuple[float, float]:
        """The widest window around the median (up to MAX_Z spreads) that the budget pays for.

        Budget: the checks a REFERENCE_S poller makes over the median duration, less the
        sparse checks before the window and the list request that made the forecast. Short
        builds cannot be on budget at all (the growing start alone costs more); they get a
        window of a few dense checks, as the growing schedule is about that dense anyway.
        """
        # A user who asks for long pauses asks for few requests: the budget shrinks with it.
        reference = max(REFERENCE_S, self.max_interval_s / 3)
        allowed = forecast.median_s / reference - 1
        widest = MAX_Z * forecast.spread
        for step in range(FIT_STEPS, -1, -1):
            half = widest * step / FIT_STEPS
            lo, hi = forecast.median_s * math.exp(-half), forecast.median_s * math.exp(half)
            if hi - lo < MIN_WINDOW_S or self._sparse_polls(lo) + (hi - lo) / DENSE_S <= allowed:
                break
        return max(0.0, min(lo, forecast.median_s - MIN_WINDOW_S / 2)), max(
            hi, forecast.median_s + MIN_WINDOW_S / 2
        )

    def pause(self, elapsed: float, polls: int) -> float:
        """Seconds to wait before the next check; ``polls`` is how many were made so far."""
        growing = self._growing(FIRST_S, polls)
        if self.window is None:
            return growing
        lo, hi = self.window
        if elapsed < lo:
            # Sparse, but land on the window's opening rather than overshoot it.
            return max(min(growing, lo - elapsed), min(DENSE_S, growing))
        if elapsed <= hi:
            return min(DENSE_S, self.max_interval_s)
        # Later than expected: grow again from dense, so a long overrun stays cheap.
        self._past_window_polls += 1
        return self._growing(DENSE_S, self._past_window_polls)
