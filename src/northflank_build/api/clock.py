"""Time as the core sees it: injected, so waiting runs in virtual time in tests."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float:
        """Seconds since the epoch, for comparing with Northflank's timestamps."""
        ...

    def sleep(self, seconds: float) -> bool:
        """Sleep; return True if woken early because the run was cancelled."""
        ...


class SystemClock:
    def __init__(self, cancelled: threading.Event | None = None) -> None:
        self._cancelled = cancelled or threading.Event()

    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> bool:
        if seconds <= 0:
            return self._cancelled.is_set()
        return self._cancelled.wait(seconds)
