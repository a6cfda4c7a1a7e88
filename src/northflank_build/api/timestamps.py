"""Northflank's timestamps, read defensively: nonsense becomes "unknown", never a crash.

Northflank's API reference types ``createdAt`` as an ISO 8601 string and ``buildConcludedAt``
as a Unix epoch number (https://northflank.com/docs/v1/api/jobs/get-job-build); either may
come as the other, in seconds or in milliseconds, or out of range.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

# 2000-01-01 to 2200-01-01: anything outside is not a build's time.
EARLIEST = 946_684_800.0
LATEST = 7_258_118_400.0
# An epoch number above this is in milliseconds (in seconds it would be past 5138).
MILLISECONDS_ABOVE = 1e11


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 string (``2021-07-28T15:55:38.296Z``) or an epoch number (s or ms)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return from_epoch(float(value))
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        return from_epoch(float(value))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return parsed if EARLIEST <= parsed.timestamp() <= LATEST else None


def from_epoch(seconds: float) -> datetime | None:
    if not math.isfinite(seconds):
        return None
    if seconds > MILLISECONDS_ABOVE:
        seconds /= 1000.0
    if not EARLIEST <= seconds <= LATEST:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def format_timestamp(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
