"""The one virtual clock of the tests and the benches: time moves only when slept on, so
hours of polling and retries run in milliseconds. ``cancel_when`` makes a sleep report a
cancel from a given moment on (what the real clock does once SIGINT set the event)."""

from __future__ import annotations

from collections.abc import Callable

EPOCH = 1_795_000_000.0


class VirtualClock:
    def __init__(self, cancel_when: Callable[[float], bool] | None = None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.cancel_when = cancel_when or (lambda _t: False)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        return self.cancel_when(self.now)

    def advance(self, seconds: float) -> None:
        self.now += seconds
