"""The simulator's time (real over HTTP, virtual in process) and its timestamp format."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class RealClock:
    """The simulator's time when it serves over HTTP: the machine's."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> bool:
        time.sleep(max(0.0, seconds))
        return False


class SimClock(Protocol):
    def monotonic(self) -> float: ...
    def wall(self) -> float: ...
    def sleep(self, seconds: float) -> bool: ...


def iso(wall: float) -> str:
    return (
        datetime.fromtimestamp(wall, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
