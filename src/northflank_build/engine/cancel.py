"""Cancellation: the runner sends SIGINT, then SIGTERM 7.5 s later, then kills 2.5 s after.

The first signal sets the event (waking any sleep) and, inside an interruptible section
(a poll or a request), raises ``Cancelled`` so a blocking socket read ends at once. Outside
such sections (writing outputs, aborting the build) it only sets the event, so cleanup is
never cut short; later signals are only counted.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from northflank_build.api.errors import Cancelled


class CancelScope:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""
        self._interruptible = False

    @property
    def cancelled(self) -> bool:
        return self.event.is_set()

    def cancel(self, reason: str) -> None:
        first = not self.event.is_set()
        if first:
            self.reason = reason
            self.event.set()
        if first and self._interruptible:
            self._interruptible = False
            raise Cancelled(reason)

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        if self.event.is_set():
            raise Cancelled(self.reason)
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False

    def install(self, pending: list[str] | None = None) -> None:
        """Handle SIGINT and SIGTERM (Python as PID 1 ignores SIGTERM without a handler)."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.cancel(signal.Signals(signum).name)

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)
        if pending:  # a cancel that came while the action was loading (see _early.py)
            self.cancel(pending[0])
