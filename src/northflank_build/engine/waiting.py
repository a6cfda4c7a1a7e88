"""Wait until Northflank says an operation has concluded, within one deadline.

Generic over the operation: a build today, a rollout or a job run next. Whether it is done
is read from its snapshot's ``finished``, never from a list of statuses: Northflank adds
statuses over time, and an unknown one that has not concluded is still running. When logs
are followed, they are pumped between checks, and the stream closing asks for a check now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, Protocol, TypeVar

from northflank_build.api.clock import Clock
from northflank_build.api.errors import (
    ApiError,
    DeadlineReached,
    MalformedResponse,
    ServerError,
    TransportFailure,
)
from northflank_build.api.logs import LogLine

# Errors worth outliving: the operation goes on at Northflank while we cannot see it.
# Not RateLimited: the client raises it only past its cap, and then we stop, saying so.
TRANSIENT = (TransportFailure, ServerError, MalformedResponse)
# However long the schedule or the budget's pacing asks to pause, the status is checked
# this long before the deadline (a quarter of a short timeout): an operation that concluded
# in time is never called timed out.
LAST_CHECK_BEFORE_DEADLINE_S = 3.0
# While logs are followed, new lines are shown four times a second.
LOG_SLICE_S = 0.25


class Snapshot(Protocol):
    """What a status read returns (api.models.Build is one)."""

    @property
    def status(self) -> str | None: ...
    @property
    def finished(self) -> bool: ...
    @property
    def succeeded(self) -> bool: ...


S = TypeVar("S", bound=Snapshot)


class Follower(Protocol):
    """Logs followed while waiting (engine.logs.BuildLogs)."""

    def pump(self, *, final: bool = False) -> list[LogLine]: ...
    def take_end_hint(self) -> bool: ...


class Schedule(Protocol):
    def pause(self, elapsed: float, polls: int) -> float:
        """Seconds before the next check, ``elapsed`` seconds in, after ``polls`` checks."""
        ...


class WaitEnd(Enum):
    CONCLUDED = "concluded"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class WaitPolicy:
    timeout_s: float
    schedule: Schedule


@dataclass(frozen=True)
class Waited(Generic[S]):
    last: S
    end: WaitEnd
    timeline: tuple[tuple[str, float], ...]  # each status seen, with the seconds elapsed


def wait_for(
    first: S,
    read: Callable[[], S],
    policy: WaitPolicy,
    clock: Clock,
    *,
    on_change: Callable[[S, float], None],
    on_trouble: Callable[[Exception, float], None],
    pacing: Callable[[], float] = lambda: 0.0,
    started: float | None = None,
    follow: Follower | None = None,
    on_lines: Callable[[list[LogLine]], None] = lambda _lines: None,
) -> Waited[S]:
    """Return when the operation concludes, the deadline passes or the run is cancelled.

    ``on_change`` hears each new status with the seconds elapsed; ``on_trouble`` hears a
    transient failure to read it (checks go on until the deadline); ``on_lines`` hears the
    log lines ``follow`` gives between checks.
    """
    began = clock.monotonic() if started is None else started
    deadline = began + policy.timeout_s
    last = first
    timeline = [(last.status or "UNKNOWN", clock.monotonic() - began)]
    on_change(last, timeline[0][1])
    polls = 0
    last_check_done = False
    margin = min(LAST_CHECK_BEFORE_DEADLINE_S, policy.timeout_s / 4)

    def done(end: WaitEnd) -> Waited[S]:
        return Waited(last, end, tuple(timeline))

    while not last.finished:
        now = clock.monotonic()
        left = deadline - now
        if left <= 0:
            return done(WaitEnd.TIMED_OUT)
        pause = max(policy.schedule.pause(now - began, polls), pacing())
        if pause >= left - margin:
            # The last check comes before the deadline; after it, sleep to the deadline
            # (an early wake-up, the log stream closing, still checks).
            pause = left if last_check_done else max(0.0, left - margin)
            last_check_done = True
        if _pause(clock, pause, follow, on_lines):
            return done(WaitEnd.CANCELLED)
        if clock.monotonic() >= deadline:
            return done(WaitEnd.TIMED_OUT)
        polls += 1
        try:
            snapshot = read()
        except DeadlineReached:
            return done(WaitEnd.TIMED_OUT)
        except TRANSIENT as exc:
            on_trouble(exc, clock.monotonic() - began)
            continue
        except ApiError:
            raise
        if snapshot.status != last.status:
            timeline.append((snapshot.status or "UNKNOWN", clock.monotonic() - began))
            on_change(snapshot, timeline[-1][1])
        last = snapshot
    return done(WaitEnd.CONCLUDED)


def _pause(
    clock: Clock,
    seconds: float,
    follow: Follower | None,
    on_lines: Callable[[list[LogLine]], None],
) -> bool:
    """Sleep ``seconds``, pumping logs meanwhile; True if cancelled. Returns early (not
    cancelled) when the log stream closes: the operation has likely just concluded."""
    if follow is None:
        return clock.sleep(seconds)
    end = clock.monotonic() + seconds
    while True:
        left = end - clock.monotonic()
        if left <= 0:
            return False
        if clock.sleep(min(LOG_SLICE_S, left)):
            return True
        lines = follow.pump()
        if lines:
            on_lines(lines)
        if follow.take_end_hint():
            return False
