"""Poll a build until Northflank says it has concluded, within an overall deadline.

Whether a build is done is read from ``concluded``, never from a list of statuses:
Northflank adds statuses over time, and an unknown one that has not concluded is running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from northflank_build.api.clock import Clock
from northflank_build.api.errors import (
    ApiError,
    DeadlineReached,
    MalformedResponse,
    ServerError,
    TransportFailure,
)

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

# Errors worth outliving: the build keeps running on Northflank while we cannot see it.
# Not RateLimited: the client raises it only past its cap, and then we stop, saying so.
TRANSIENT = (TransportFailure, ServerError, MalformedResponse)
# However long the schedule or the budget's pacing asks to pause, the status is checked
# this long before the deadline (a quarter of a short timeout): a build that concluded in
# time is never called timed out.
LAST_CHECK_BEFORE_DEADLINE_S = 3.0


class WaitEnd(Enum):
    CONCLUDED = "concluded"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class WaitResult:
    build: Build
    end: WaitEnd
    polls: int


class Schedule(Protocol):
    def pause(self, elapsed: float, polls: int) -> float:
        """Seconds before the next check, ``elapsed`` seconds in, after ``polls`` checks."""
        ...


@dataclass(frozen=True)
class WaitPolicy:
    timeout_s: float
    schedule: Schedule


def wait_for_build(
    first: Build,
    fetch: Callable[[], Build],
    policy: WaitPolicy,
    clock: Clock,
    *,
    on_change: Callable[[Build, float], None],
    on_trouble: Callable[[Exception, float], None],
    pacing: Callable[[], float] = lambda: 0.0,
    started: float | None = None,
) -> WaitResult:
    """Return when the build concludes, the deadline passes or the run is cancelled.

    ``on_change`` hears each new status with the seconds elapsed; ``on_trouble`` hears a
    transient failure to read the build (polling goes on until the deadline). A clock whose
    sleep returns early (not cancelled) means "check now": the live log stream has ended.
    """
    began = clock.monotonic() if started is None else started
    deadline = began + policy.timeout_s
    build = first
    last_status = build.status
    on_change(build, clock.monotonic() - began)
    polls = 0
    last_check_done = False
    margin = min(LAST_CHECK_BEFORE_DEADLINE_S, policy.timeout_s / 4)
    while not build.finished:
        now = clock.monotonic()
        left = deadline - now
        if left <= 0:
            return WaitResult(build, WaitEnd.TIMED_OUT, polls)
        pause = max(policy.schedule.pause(now - began, polls), pacing())
        if pause >= left - margin:
            # The last check comes before the deadline; after it, sleep to the deadline
            # (an early wake-up, the log stream closing, still checks).
            pause = left if last_check_done else max(0.0, left - margin)
            last_check_done = True
        if clock.sleep(pause):
            return WaitResult(build, WaitEnd.CANCELLED, polls)
        if clock.monotonic() >= deadline:
            return WaitResult(build, WaitEnd.TIMED_OUT, polls)
        polls += 1
        try:
            build = fetch()
        except DeadlineReached:
            return WaitResult(build, WaitEnd.TIMED_OUT, polls)
        except TRANSIENT as exc:
            on_trouble(exc, clock.monotonic() - began)
            continue
        except ApiError:
            raise
        if build.status != last_status:
            last_status = build.status
            on_change(build, clock.monotonic() - began)
    return WaitResult(build, WaitEnd.CONCLUDED, polls)
