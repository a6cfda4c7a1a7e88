"""Northflank's rate-limit headers, and how much to slow down before a 429 happens.

Every response carries ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (seconds until the window resets); about 1000 requests an hour per
token, shared by every workflow using that token
(https://northflank.com/docs/v1/api/rate-limits).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from northflank_build.api.timestamps import EARLIEST, LATEST

# Below this share of the limit, requests are spread evenly over the rest of the window.
LOW_WATERMARK = 0.10
MIN_LOW_REMAINING = 20
# Kept back for the requests that must go out at the end (final status, an abort).
RESERVE = 0.02
MIN_RESERVE = 10
RATE_SPAN_S = 60.0
RATE_MIN_SPAN_S = 10.0
HORIZON_S = 600.0
CONSUMER_SMOOTHING = 0.3


# Whether x-ratelimit-reset counts seconds or names an epoch time is undocumented: a value
# this large can only be an epoch (in seconds it would be 31 years away).
EPOCH_ABOVE = 1e9
# Longer than any window Northflank documents (an hour): a reset further away is nonsense.
MAX_RESET_S = 24 * 3600.0


def _number(headers: httpx.Headers, name: str) -> float | None:
    raw = headers.get(name)
    if raw is None or len(raw) > 40:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 and math.isfinite(value) else None


def reset_seconds(headers: httpx.Headers, wall_now: float) -> float | None:
    """``x-ratelimit-reset`` as seconds from now: relative seconds or an epoch time (s or ms)."""
    value = _number(headers, "x-ratelimit-reset")
    if value is None:
        return None
    if value > EPOCH_ABOVE:
        value = (value / 1000.0 if value > 1e12 else value) - wall_now
    return min(max(0.0, value), MAX_RESET_S)


@dataclass(frozen=True)
class RateLimit:
    limit: float | None
    remaining: float  # a response without it gives no RateLimit at all
    reset_seconds: float | None
    observed_at: float  # monotonic

    @classmethod
    def from_headers(cls, headers: httpx.Headers, now: float, wall_now: float) -> RateLimit | None:
        remaining = _number(headers, "x-ratelimit-remaining")
        if remaining is None:
            return None
        return cls(
            limit=_number(headers, "x-ratelimit-limit"),
            remaining=remaining,
            reset_seconds=reset_seconds(headers, wall_now),
            observed_at=now,
        )

    def pacing_delay(self, now: float) -> float:
        """The least pause before the next request that keeps the budget for the window.

        Zero while plenty is left; when low, the time left in the window divided by what is
        left, so the budget lasts until the reset instead of running out into a 429.
        """
        if self.reset_seconds is None:
            return 0.0
        low = max(MIN_LOW_REMAINING, (self.limit or 0) * LOW_WATERMARK)
        if self.remaining > low:
            return 0.0
        left = max(0.0, self.reset_seconds - (now - self.observed_at))
        return left / max(self.remaining, 1.0)


class SharedBudget:
    """How fast everyone on this token spends the budget, seen from our own responses.

    Between two of our responses in one window, ``remaining`` falls by our one request plus
    whatever every other workflow on the token sent meanwhile. From that: the total rate
    (over the last minute, at least RATE_MIN_SPAN_S, so a burst of our own requests is not
    taken for a trend) and how many consumers share the token (requests per one of ours).
    When the total rate would run the budget out within HORIZON_S, each consumer is held
    to its fair share of what is left: ``consumers * time left / requests left``.
    """

    def __init__(self) -> None:
        self.last: RateLimit | None = None
        self.consumers = 1.0
        self._seen: deque[tuple[float, float]] = deque()  # (observed_at, remaining)

    def observe(self, rate: RateLimit) -> None:
        last, self.last = self.last, rate
        if last is not None:
            spent = last.remaining - rate.remaining
            if spent < 0:
                self._seen.clear()  # a new window
            else:
                # Requests per one of ours (responses may cross, so at least one).
                self.consumers += CONSUMER_SMOOTHING * (max(1.0, spent) - self.consumers)
        self._seen.append((rate.observed_at, rate.remaining))
        while len(self._seen) > 2 and rate.observed_at - self._seen[1][0] >= RATE_SPAN_S:
            self._seen.popleft()

    @property
    def total_rate(self) -> float | None:
        """Requests per second by everyone on the token, or None until seen long enough."""
        if len(self._seen) < 2:
            return None
        (then, before), (now, after) = self._seen[0], self._seen[-1]
        if now - then < RATE_MIN_SPAN_S:
            return None
        return max(0.0, before - after) / (now - then)

    def pacing_delay(self, now: float) -> float:
        rate = self.last
        if rate is None:
            return 0.0
        floor = rate.pacing_delay(now)
        total = self.total_rate
        if total is None or rate.reset_seconds is None:
            return floor
        left = max(0.0, rate.reset_seconds - (now - rate.observed_at))
        usable = rate.remaining - max(MIN_RESERVE, (rate.limit or 0) * RESERVE)
        if usable <= 0:
            return max(floor, left)
        # Judged over the next few minutes, not the whole window: pacing a lone step as if
        # its dense minute lasted an hour would only make it late.
        if total * min(left, HORIZON_S) <= usable:
            return floor
        return max(floor, self.consumers * left / usable)


def retry_after_seconds(headers: httpx.Headers, wall_now: float) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After`` (seconds or a date), else the reset.

    None when neither says anything usable (``nan``, ``-5``, garbage): the caller's floor
    applies. Never more than MAX_RESET_S.
    """
    raw = (headers.get("retry-after") or "").strip()
    if raw and len(raw) <= 100:
        try:
            value = float(raw)
        except ValueError:
            moment = http_date(raw)
            if moment is not None:
                return min(max(0.0, moment - wall_now), MAX_RESET_S)
        else:
            if math.isfinite(value) and value >= 0:
                return min(value, MAX_RESET_S)
    return reset_seconds(headers, wall_now)


def server_time(headers: httpx.Headers) -> float | None:
    """The server's clock from the ``Date`` header (1 s resolution), as an epoch."""
    return http_date(headers.get("date") or "")


def http_date(raw: str) -> float | None:
    """An HTTP date (RFC 9110 section 5.6.7) as an epoch, or None: the one place a date
    header is read. The email parser raises ValueError, OverflowError or IndexError on
    nonsense (a year 99999, an offset of days); a date outside 2000-2200 is nonsense too."""
    if not raw or len(raw) > 100:
        return None
    try:
        moment = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return moment if EARLIEST <= moment <= LATEST else None
