"""Northflank's rate-limit headers, and how much to slow down before a 429 happens.

Every response carries ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and
``x-ratelimit-reset`` (seconds until the window resets); about 1000 requests an hour per
token, shared by every workflow using that token (reference §5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

# Below this share of the limit, requests are spread evenly over the rest of the window.
LOW_WATERMARK = 0.10
MIN_LOW_REMAINING = 20


def _number(headers: httpx.Headers, name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 and not math.isnan(value) else None


@dataclass(frozen=True)
class RateLimit:
    limit: float | None
    remaining: float | None
    reset_seconds: float | None
    observed_at: float  # monotonic

    @classmethod
    def from_headers(cls, headers: httpx.Headers, now: float) -> RateLimit | None:
        remaining = _number(headers, "x-ratelimit-remaining")
        if remaining is None:
            return None
        return cls(
            limit=_number(headers, "x-ratelimit-limit"),
            remaining=remaining,
            reset_seconds=_number(headers, "x-ratelimit-reset"),
            observed_at=now,
        )

    def pacing_delay(self, now: float) -> float:
        """The least pause before the next request that keeps the budget for the window.

        Zero while plenty is left; when low, the time left in the window divided by what is
        left, so the budget lasts until the reset instead of running out into a 429.
        """
        if self.remaining is None or self.reset_seconds is None:
            return 0.0
        low = max(MIN_LOW_REMAINING, (self.limit or 0) * LOW_WATERMARK)
        if self.remaining > low:
            return 0.0
        left = max(0.0, self.reset_seconds - (now - self.observed_at))
        return left / max(self.remaining, 1.0)


def retry_after_seconds(headers: httpx.Headers, wall_now: float) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After`` (seconds or a date), else the reset."""
    raw = headers.get("retry-after")
    if raw:
        raw = raw.strip()
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            return max(0.0, moment.timestamp() - wall_now)
    return _number(headers, "x-ratelimit-reset")


def server_time(headers: httpx.Headers) -> float | None:
    """The server's clock from the ``Date`` header (1 s resolution), as an epoch."""
    raw = headers.get("date")
    if not raw:
        return None
    try:
        return parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None
