"""One operation waited on alone, the engine's wait loop (engine/waiting.py: wait_all) with a
policy: what the tests and benches of the schedule and the log follower drive. Test-only, so
it lives here, not in the package (issue 19)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic

from northflank_build.api.clock import Clock
from northflank_build.api.logs import LogLine
from northflank_build.engine.waiting import (
    Follower,
    S,
    Schedule,
    Track,
    WaitEnd,
    ignore_lines,
    wait_all,
)


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
    on_lines: Callable[[list[LogLine]], None] = ignore_lines,
) -> Waited[S]:
    """Return when the operation concludes, the deadline passes or the run is cancelled.

    ``on_change`` hears each new status with the seconds elapsed; ``on_trouble`` hears a
    transient failure to read it (checks go on until the deadline); ``on_lines`` hears the
    log lines ``follow`` gives between checks. An ApiError that is not transient is raised.
    """
    began = clock.monotonic() if started is None else started
    track = Track(first, read, policy.schedule, began, on_change, on_trouble, follow, on_lines)
    wait_all([track], deadline=began + policy.timeout_s, clock=clock, pacing=pacing)
    if track.error is not None:
        raise track.error
    assert track.end is not None
    return Waited(track.last, track.end, tuple(track.timeline))
