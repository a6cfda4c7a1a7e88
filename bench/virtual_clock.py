"""A clock that only moves when slept on: the benches run hours of polling in milliseconds."""

from __future__ import annotations

EPOCH = 1_795_000_000.0


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def sleep(self, seconds: float) -> bool:
        self.now += max(0.0, seconds)
        return False
