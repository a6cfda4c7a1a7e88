"""Following an operation's log while waiting (a build's, a job run's): the live tail, or paging the HTTP range endpoint.

Northflank offers a WebSocket tail and an HTTP range query
(https://northflank.com/docs/v1/api/log-tailing). The tail
costs one request for the whole build; when it cannot be opened or drops, the range
endpoint is paged from the last line seen, at most every ``http_every`` seconds so that logs
never eat the rate-limit budget that status polling needs. Lines are keyed by
(timestamp, container, text), so a switch between the two neither loses nor repeats any.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock
from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import LogLine, Tail, TailOpener, TailUnavailable
from northflank_build.api.timestamps import format_timestamp

TAIL_LINES = 30
HTTP_EVERY_S = 20.0
RANGE_PAGE = 500
RANGE_PAGES_PER_PUMP = 5
FINAL_SETTLE_S = 3.0
# Consecutive failed log pages before logs are given up (status checks go on).
MAX_FAILURES = 2
# One log page is bounded by this, and by the time left before the next status check is
# due: a log page is worth less than a status check (a slow log endpoint costs the logs,
# never the build's result). Less than MIN_PAGE_S left: the page waits for the next turn.
LOG_READ_S = 5.0
MIN_PAGE_S = 0.5
# The catch-up after the end is bounded as a whole too (up to 20 pages otherwise).
FINAL_READ_S = 10.0
TAIL_OPEN_TIMEOUT_S = 5.0


class LineBook:
    """Which lines have been shown: everything before the last timestamp, and the lines at it."""

    def __init__(self) -> None:
        self.last_ts = ""
        self._at_last: set[LogLine] = set()

    def fresh(self, lines: Iterable[LogLine]) -> list[LogLine]:
        out = []
        for line in lines:
            if line.ts < self.last_ts or (line.ts == self.last_ts and line in self._at_last):
                continue
            if line.ts > self.last_ts:
                self.last_ts, self._at_last = line.ts, set()
            self._at_last.add(line)
            out.append(line)
        return out


# (start time or None, line limit, seconds it may take) -> (lines, whether more follow)
RangeReader = Callable[[str | None, int, float], tuple[list[LogLine], bool]]


class LogFollower:
    """One operation's log while it is followed: new lines at each pump, the last lines
    kept for the summary, and the live stream's close as a hint that it has ended."""

    def __init__(
        self,
        read_range: RangeReader,
        now: Callable[[], float],
        tail: Tail | None,
        note: Callable[[str], None],
        sleep: Callable[[float], bool],
        budget_low: Callable[[], bool] = lambda: False,
        http_every: float = HTTP_EVERY_S,
        first_start: str | None = None,
        show: bool = True,
        noun: str = "build",
    ) -> None:
        # show False (show-logs: false): the live tail serves only as the end signal; its
        # lines are dropped unread and nothing is ever paged over HTTP.
        self.show = show
        self._noun = noun  # whose log: "build", "job run"
        self._first_start = first_start
        self._failures = 0
        self._budget_low = budget_low
        self._sleep = sleep
        self._read_range = read_range
        self._now = now
        self._tail = tail
        self._note = note
        self._every = http_every
        self._next_http = 0.0
        self._book = LineBook()
        self.last_lines: deque[str] = deque(maxlen=TAIL_LINES)
        self.source = ("live tail" if tail is not None else "HTTP range") if show else ""
        self.range_requests = 0
        self.enabled = True
        self._stream_closed = False
        self._end_hint = False

    def pump(self, *, final: bool = False, until: float | None = None) -> list[LogLine]:
        """New lines since the last call; ``final`` after the build concluded fetches the rest.
        ``until`` (monotonic): when a status check is due; no page read may run past it."""
        if not self.enabled:
            return []
        if not self.show:
            self._watch_end()
            return []
        out = self._from_tail(final) if self._tail is not None else []
        # Status polling comes first: while the rate-limit budget is low, paging waits for
        # the end (the final pump always catches up).
        due = self._now() >= self._next_http and not self._budget_low()
        if self._tail is None and (final or due):
            if final and until is None:
                until = self._now() + FINAL_READ_S
            fetched, tried = self._fetch(final, until)
            out += fetched
            if tried:  # a page held back for a status check comes at the next turn
                self._next_http = self._now() + self._every
        self.last_lines.extend(line.text for line in out)
        return out

    def _from_tail(self, final: bool) -> list[LogLine]:
        """What the live tail holds; when it dropped (or is still open after the end), it
        is closed and the rest is paged over HTTP from here."""
        tail = self._tail
        assert tail is not None
        out: list[LogLine] = []
        if final:
            # The stream closes a moment after the end; wait for it before paying for an
            # HTTP catch-up.
            settle_until = self._now() + FINAL_SETTLE_S
            while not (tail.ended or tail.broken) and self._now() < settle_until:
                out += self._book.fresh(tail.drain())
                if self._sleep(0.1):
                    break
        out += self._book.fresh(tail.drain())
        if not self._stream_closed and (tail.ended or tail.broken):
            self._stream_closed = self._end_hint = True
        if tail.broken or (final and not tail.ended):
            if tail.broken:
                self._note("The live log stream dropped; following the log over HTTP instead.")
            tail.close()
            self._tail = None
            self.source = "HTTP range"
            self._next_http = 0.0
        return out

    def _watch_end(self) -> None:
        """The end signal alone: lines dropped, the hint set once when the stream closes."""
        if self._tail is None:
            return
        self._tail.drain()
        if self._tail.ended or self._tail.broken:
            self._end_hint = not self._stream_closed
            self._stream_closed = True
            self._tail.close()
            self._tail = None

    def drain_tail(self) -> list[LogLine]:
        """What the live tail already holds, with no request (after a cancel or timeout)."""
        if not self.enabled or not self.show or self._tail is None:
            return []
        out = self._book.fresh(self._tail.drain())
        self.last_lines.extend(line.text for line in out)
        return out

    def take_end_hint(self) -> bool:
        """True once, after the live stream closed: the build has likely just concluded.

        Whether Northflank closes the stream at the end is undocumented (log-tailing doc above);
        acting on it costs one status check, and a close mid-build is harmless.
        """
        hint, self._end_hint = self._end_hint, False
        return hint

    def _fetch(self, final: bool, until: float | None) -> tuple[list[LogLine], bool]:
        """Pages from the last line seen, and whether any request was tried."""
        out: list[LogLine] = []
        tried = False
        for _ in range(RANGE_PAGES_PER_PUMP * (4 if final else 1)):
            bound = LOG_READ_S if until is None else min(LOG_READ_S, until - self._now())
            if bound < min(MIN_PAGE_S, LOG_READ_S):
                break  # the status check comes first; this page at the next turn
            tried = True
            try:
                start = self._book.last_ts or self._first_start
                lines, more = self._read_range(start, RANGE_PAGE, bound)
            except NorthflankError as exc:
                # One try a page (a hung read is bounded, never retried at once); the next
                # pump tries again, and after MAX_FAILURES in a row logs are given up.
                self._failures += 1
                if self._failures >= MAX_FAILURES or final:
                    self._note(
                        f"{self._noun.capitalize()} log unavailable ({exc.message}); "
                        "status is still followed."
                    )
                    self.enabled = False
                break
            self._failures = 0
            self.range_requests += 1
            fresh = self._book.fresh(lines)
            out += fresh
            if not more or not fresh:
                break
        return out, tried

    def close(self) -> None:
        if self._tail is not None:
            self._tail.close()


@dataclass(frozen=True)
class LogAccess:
    """What opening a log needs besides the operation: the token for the socket, whether
    lines are shown (show-logs), and the tail opener (a virtual one in tests and benches)."""

    token: str
    show: bool
    open_tail: TailOpener | None = None


def open_follower(
    client: NorthflankClient,
    clock: Clock,
    access: LogAccess,
    tail_url: str,
    read_range: RangeReader,
    *,
    created: datetime | None,
    note: Callable[[str], None],
    noun: str,
) -> LogFollower | None:
    """The live tail of an operation's log (with show-logs: false, only as the end signal:
    one request, no output), else, when lines are shown, the HTTP range endpoint."""
    # websockets is imported here, after the operation started: start-up stays lean.
    from northflank_build.api.logtail import WebSocketTail  # noqa: PLC0415

    client.wait_for_turn()  # after a 429, not even the socket's upgrade goes out early
    # A quarter of the time left at most: the socket is worth less than the status checks.
    left = client.deadline - clock.monotonic()
    open_timeout = max(0.1, min(TAIL_OPEN_TIMEOUT_S, left / 4))
    tail: Tail | None = None
    try:
        tail = (access.open_tail or WebSocketTail)(tail_url, access.token, open_timeout)
    except TailUnavailable as exc:
        if not access.show:
            return None  # no end signal: the schedule alone, as without a socket
        note(f"Live log stream unavailable ({exc}); following the log over HTTP.")
    return LogFollower(
        read_range,
        clock.monotonic,
        tail,
        note,
        clock.sleep,
        budget_low=lambda: client.pacing_delay() > 0,
        # Without a startTime the server applies its own window (30 minutes in the
        # official CLI): the first page starts at the creation.
        first_start=format_timestamp(created - timedelta(seconds=1)) if created else None,
        show=access.show,
        noun=noun,
    )
