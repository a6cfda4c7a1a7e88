"""Wait until Northflank says an operation has concluded, within one deadline.

Generic over the operation: a build today, a rollout or a job run next. Whether it is done
is read from its snapshot's ``finished``, never from a list of statuses: Northflank adds
statuses over time, and an unknown one that has not concluded is still running. When logs
are followed, they are pumped between checks, and the stream closing asks for a check now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, Protocol, TypeVar

from northflank_build.api.clock import Clock
from northflank_build.api.errors import ApiError, DeadlineReached, NorthflankError
from northflank_build.api.logs import LogLine

# However long the schedule or the budget's pacing asks to pause, the status is checked
# this long before the deadline (a quarter of a short timeout): an operation that concluded
# in time is never called timed out.
LAST_CHECK_BEFORE_DEADLINE_S = 3.0
# While logs are followed, new lines are shown four times a second.
LOG_SLICE_S = 0.25
# An operation in its last step is checked this often (engine/schedule.py: DENSE_S).
NEAR_END_S = 2.0


class Snapshot(Protocol):
    """What a status read returns: api.models.Build and JobRun, engine/rollout.Rollout."""

    @property
    def id(self) -> str: ...
    @property
    def message(self) -> str | None:
        """Northflank's words on how it ended (a build's), or None."""
        ...

    @property
    def status(self) -> str | None: ...
    @property
    def finished(self) -> bool: ...
    @property
    def succeeded(self) -> bool: ...


S = TypeVar("S", bound=Snapshot)


class Follower(Protocol):
    """Logs followed while waiting (engine.logs.LogFollower)."""

    def pump(self, *, final: bool = False, until: float | None = None) -> list[LogLine]: ...
    def take_end_hint(self) -> bool: ...


class Schedule(Protocol):
    def pause(self, elapsed: float, polls: int) -> float:
        """Seconds before the next check, ``elapsed`` seconds in, after ``polls`` checks."""
        ...


class WaitEnd(Enum):
    CONCLUDED = "concluded"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"


def ignore_lines(_lines: list[LogLine]) -> None:
    return None


@dataclass(eq=False)
class Track(Generic[S]):
    """One operation waited on, among others under the same deadline: how to read it and
    whom to tell, and what was seen so far."""

    first: S
    read: Callable[[], S]
    schedule: Schedule
    began: float  # when its wait began (monotonic): elapsed times count from here
    on_change: Callable[[S, float], None]
    on_trouble: Callable[[Exception, float], None]
    follow: Follower | None = None
    on_lines: Callable[[list[LogLine]], None] = ignore_lines
    # Whether the operation says its last step is under way (a template run's last node):
    # checked densely then, whatever the schedule, as a build's closing log stream hints.
    near_end: Callable[[S], bool] = lambda _snapshot: False
    # What the wait learned.
    end: WaitEnd | None = None
    error: ApiError | None = None  # an answer that ended this wait (not transient)
    last: S = field(init=False)
    timeline: list[tuple[str, float]] = field(init=False, default_factory=list)
    polls: int = 0
    last_check_done: bool = False
    due: float | None = None  # when the next check is due (monotonic)

    def __post_init__(self) -> None:
        self.last = self.first

    @property
    def pending(self) -> bool:
        return self.end is None and self.error is None

    def next_pause(self, now: float, deadline: float, pacing: float) -> float:
        left = deadline - now
        margin = min(LAST_CHECK_BEFORE_DEADLINE_S, (deadline - self.began) / 4)
        elapsed = now - self.began
        pause = self.schedule.pause(elapsed, self.polls)
        if self.near_end(self.last):
            pause = min(pause, NEAR_END_S)
        pause = max(pause, pacing)
        if pause >= left - margin:
            # The last check comes before the deadline; after it, sleep to the deadline
            # (an early wake-up, the log stream closing, still checks).
            pause = left if self.last_check_done else max(0.0, left - margin)
            self.last_check_done = True
        return pause


def wait_all(
    tracks: Sequence[Track[S]],
    *,
    deadline: float,
    clock: Clock,
    pacing: Callable[[], float] = lambda: 0.0,
    on_end: Callable[[Track[S]], None] = lambda _track: None,
) -> None:
    """Wait on several operations at once, each on its own schedule, under one deadline;
    each track's ``end`` (or ``error``) says how its wait ended. ``on_end`` hears a track
    the moment it concludes or fails, while the others go on."""
    for track in tracks:
        track.timeline.append((track.last.status or "UNKNOWN", clock.monotonic() - track.began))
        track.on_change(track.last, track.timeline[0][1])
        if track.last.finished:
            track.end = WaitEnd.CONCLUDED
            on_end(track)
    while pending := [track for track in tracks if track.pending]:
        end = _turn(pending, deadline, clock, pacing, on_end)
        if end is not None:
            for track in pending:
                if track.pending:
                    track.end = end
            return


def _turn(
    pending: list[Track[S]],
    deadline: float,
    clock: Clock,
    pacing: Callable[[], float],
    on_end: Callable[[Track[S]], None],
) -> WaitEnd | None:
    """One turn of the wait: sleep to the first check due (pumping logs), then make every
    check due. How the whole wait ended, when it did."""
    now = clock.monotonic()
    if deadline - now <= 0:
        return WaitEnd.TIMED_OUT
    delay = pacing()
    for track in pending:
        if track.due is None:
            track.due = now + track.next_pause(now, deadline, delay)
    wake = min(track.due for track in pending if track.due is not None)
    cancelled, hinted = _pause(clock, wake - now, pending)
    if cancelled:
        return WaitEnd.CANCELLED
    now = clock.monotonic()
    if now >= deadline:
        return WaitEnd.TIMED_OUT
    for track in pending:
        if track in hinted or (track.due is not None and track.due <= now):
            track.due = None
            if not _check(track, clock):
                return WaitEnd.TIMED_OUT
            if not track.pending:
                on_end(track)
    return None


def _check(track: Track[S], clock: Clock) -> bool:
    """One status read; False when the deadline ended it."""
    track.polls += 1
    try:
        snapshot = track.read()
    except DeadlineReached:
        return False
    except NorthflankError as exc:
        # Outlived when transient (api/errors.py: the one rule the retry loop reads too): the
        # operation goes on at Northflank while we cannot see it. Not RateLimited: it is
        # raised only past the client's cap, and then we stop, saying so.
        if exc.transient:
            track.on_trouble(exc, clock.monotonic() - track.began)
            return True
        if not isinstance(exc, ApiError):
            raise
        track.error = exc
        return True
    if snapshot.status != track.last.status:
        track.timeline.append((snapshot.status or "UNKNOWN", clock.monotonic() - track.began))
        track.on_change(snapshot, track.timeline[-1][1])
    track.last = snapshot
    if snapshot.finished:
        track.end = WaitEnd.CONCLUDED
    return True


def _pause(clock: Clock, seconds: float, tracks: Sequence[Track[S]]) -> tuple[bool, set[Track[S]]]:
    """Sleep ``seconds``, pumping the tracks' logs meanwhile: (cancelled, the tracks whose
    log stream closed). Returns early when a stream closes: that operation has likely
    just concluded."""
    followed = [track for track in tracks if track.follow is not None]
    if not followed:
        return clock.sleep(seconds), set()
    end = clock.monotonic() + seconds
    while True:
        left = end - clock.monotonic()
        if left <= 0:
            return False, set()
        if clock.sleep(min(LOG_SLICE_S, left)):
            return True, set()
        hinted: set[Track[S]] = set()
        for track in followed:
            assert track.follow is not None
            lines = track.follow.pump(until=end)
            if lines:
                track.on_lines(lines)
            if track.follow.take_end_hint():
                hinted.add(track)
        if hinted:
            return False, hinted
