"""The one virtual clock of the tests and the benches: time moves only when slept on (or
advanced), so hours of polling and retries run in milliseconds.

Cancels come two ways: ``cancel_at`` schedules one (a SIGINT) at a moment of virtual time,
delivered as the real handler would (inside an interruptible section it raises Cancelled,
outside it only sets the event; on another thread, the real signal to the main thread);
``cancel_when`` makes a sleep report a cancel from a given moment on, without a scope.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from northflank_build.engine.cancel import CancelScope

EPOCH = 1_795_000_000.0


class VirtualClock:
    def __init__(
        self,
        cancel: CancelScope | None = None,
        *,
        cancel_when: Callable[[float], bool] | None = None,
    ) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.cancel = cancel or CancelScope()
        self.cancel_at: float | None = None
        self.cancel_when = cancel_when or (lambda _t: False)
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)
        self._maybe_cancel()

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        if self.cancel.cancelled:
            return True
        target = self.now + max(0.0, seconds)
        if self.cancel_at is not None and self.cancel_at <= target:
            self.now = max(self.now, self.cancel_at)
            self._maybe_cancel()
            return True
        self.now = target
        return self.cancel.cancelled or self.cancel_when(self.now)

    def _maybe_cancel(self) -> None:
        if self.cancel_at is None or self.now < self.cancel_at or self.cancel.cancelled:
            return
        if threading.current_thread() is threading.main_thread():
            self.cancel.cancel("SIGINT")  # what the handler does, on the thread it runs on
        else:  # a request's worker: the real signal, handled on the main thread
            self.cancel_at = None
            os.kill(os.getpid(), signal.SIGINT)
