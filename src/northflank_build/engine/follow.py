"""Follow operations to their end together, generic over what they are: forecast the
checks, follow their logs, wait under one deadline, and on a cancel or timeout abort the
ones that are ours first. Returns what it learned as values (``Followed``).

What an operation declares is in engine/operation.py; the loop itself in engine/waiting.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic

from northflank_build.api.clock import Clock
from northflank_build.api.errors import Cancelled, DeadlineReached, NorthflankError
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.logs import LogFollower
from northflank_build.engine.operation import Followed, Watch
from northflank_build.engine.schedule import DENSE_S, PollSchedule
from northflank_build.engine.waiting import S, Track, WaitEnd, wait_all

# An abort is one short request, exempt from the deadline: the runner kills a cancelled
# step 10 s after the cancel.
ABORT_TIMEOUT_S = 3.0
_CUT = (WaitEnd.CANCELLED, WaitEnd.TIMED_OUT)


class _Group(Generic[S]):
    """The operations followed together: their tracks, their logs, what each left."""

    def __init__(self, watches: Sequence[Watch[S]], clock: Clock, poll_interval_s: float) -> None:
        self.watches = watches
        self.clock = clock
        self.began = clock.monotonic()
        self.logs: list[LogFollower | None] = [None] * len(watches)
        self.tails: dict[int, tuple[str, ...]] = {}
        self.tracks = [self._track(w, poll_interval_s) for w in watches]
        self.index = {id(track): i for i, track in enumerate(self.tracks)}

    def _track(self, watch: Watch[S], poll_interval_s: float) -> Track[S]:
        listener = watch.listener
        return Track(
            watch.first,
            watch.op.read,
            PollSchedule(poll_interval_s, None),
            self.began,
            listener.status,
            listener.trouble,
            on_lines=listener.log_lines,
            near_end=watch.op.kind.near_end,
        )

    def open(self, poll_interval_s: float, pacing: Callable[[], float]) -> None:
        for i, (watch, track) in enumerate(zip(self.watches, self.tracks, strict=True)):
            track.schedule = _schedule(watch, poll_interval_s, pacing)
            opened = self.logs[i] = watch.op.open_logs()
            track.follow = opened
            watch.listener.log_group(watch.first, opened.source if opened else "")

    def ended(self, track: Track[S]) -> None:
        """A track concluded (or failed) while others go on: its logs end now."""
        i = self.index[id(track)]
        final = track.end is WaitEnd.CONCLUDED
        self.close_logs(i, final=final, network=True)

    def close_logs(self, i: int, *, final: bool, network: bool) -> None:
        """The lines that came after the last check, then the last lines for the summary.
        Without ``network`` (after a cancel or timeout) only what the live tail holds."""
        logs, listener = self.logs[i], self.watches[i].listener
        tail: tuple[str, ...] = ()
        if logs is not None:
            lines = logs.pump(final=final) if network else logs.drain_tail()
            if lines:
                listener.log_lines(lines)
            logs.close()
            tail = tuple(logs.last_lines)
        self.tails[i] = tail
        listener.log_group_end()

    def finish(self, ends: list[WaitEnd | None], cancel: CancelScope) -> None:
        """The logs of every operation that had not ended on its own."""
        for i in range(len(self.watches)):
            if i in self.tails:
                continue
            if ends[i] in _CUT or cancel.cancelled:
                self.close_logs(i, final=False, network=False)
                continue
            try:
                with cancel.interruptible():
                    self.close_logs(i, final=ends[i] is WaitEnd.CONCLUDED, network=True)
            except Cancelled:
                self.close_logs(i, final=False, network=False)

    def results(
        self,
        ends: list[WaitEnd | None],
        aborted: list[bool | None],
        failure: NorthflankError | None,
    ) -> list[Followed[S]]:
        waited_s = self.clock.monotonic() - self.began
        out = []
        for i, track in enumerate(self.tracks):
            timeline = tuple(track.timeline) or ((track.first.status or "UNKNOWN", 0.0),)
            error = (
                track.error if track.error is not None else (failure if ends[i] is None else None)
            )
            out.append(
                Followed(ends[i], track.last, timeline, waited_s, self.tails[i], aborted[i], error)
            )
        return out


def follow_all(
    watches: Sequence[Watch[S]],
    *,
    clock: Clock,
    cancel: CancelScope,
    poll_interval_s: float,
    deadline: float,
    pacing: Callable[[], float],
    abort_on_cancel: bool,
) -> list[Followed[S]]:
    """Follow several operations at once under one deadline and one budget (engine/
    waiting.py: wait_all); each one's logs end with it. On a cancel or timeout every one
    still running that is ours is aborted, all of them before anything else."""
    group = _Group(watches, clock, poll_interval_s)
    stopped: WaitEnd | None = None  # how the wait as a whole was cut short
    failure: NorthflankError | None = None
    try:
        with cancel.interruptible():
            group.open(poll_interval_s, pacing)
            wait_all(
                group.tracks, deadline=deadline, clock=clock, pacing=pacing, on_end=group.ended
            )
    except Cancelled:
        stopped = WaitEnd.CANCELLED
    except DeadlineReached:  # e.g. a 429's hold past the deadline, before the socket opened
        stopped = WaitEnd.TIMED_OUT
    except NorthflankError as exc:
        failure = exc
    ends = [t.end if t.end is not None or t.error else stopped for t in group.tracks]
    # The runner gives a cancelled step seconds: the aborts go first, and nothing after them
    # may wait on the network or raise the cancel again.
    ours = [i for i, w in enumerate(watches) if ends[i] in _CUT and abort_on_cancel and w.abortable]
    done = abort_all(
        [(watches[i].op.label, watches[i].op.abort, watches[i].listener.note) for i in ours]
    )
    aborted: list[bool | None] = [None] * len(watches)
    for i, result in zip(ours, done, strict=True):
        aborted[i] = result
    group.finish(ends, cancel)
    return group.results(ends, aborted, failure)


def _schedule(watch: Watch[S], poll_interval_s: float, pacing: Callable[[], float]) -> PollSchedule:
    # A forecast is worth one request, but not while the shared budget is short.
    op = watch.op
    concluded = watch.first.finished  # a build given by id may have: nothing to forecast
    forecast = op.forecast() if pacing() <= 0 and not concluded else None
    schedule = PollSchedule(poll_interval_s, forecast)
    if schedule.window is not None and forecast is not None:
        lo, hi = schedule.window
        noun = op.kind.noun
        watch.listener.note(
            f"Recent {noun}s of {op.owner} took about {forecast.median_s:.0f} s "
            f"({forecast.samples} {noun}s): checking every {DENSE_S:.0f} s "
            f"from {lo:.0f} s to {hi:.0f} s, sparsely before."
        )
    return schedule


Abort = tuple[str, Callable[[], None], Callable[[str], None]]  # label, the request, whom to tell


def abort_all(aborts: Sequence[Abort]) -> list[bool]:
    """Several aborts at once, each bounded by its own short timeout: every abort goes out
    in the first moments of a cancel, however long the others take."""
    if len(aborts) <= 1:
        return [abort(*one) for one in aborts]
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - only for several

    for label, _do, note in aborts:
        note(f"Aborting {label} on Northflank...")
    with ThreadPoolExecutor(max_workers=len(aborts)) as pool:
        futures = [pool.submit(do) for _label, do, _note in aborts]
    results = []
    for (label, _do, note), future in zip(aborts, futures, strict=True):
        problem = future.exception()
        if problem is not None and not isinstance(problem, NorthflankError):
            raise problem  # a bug of ours: the step's own handler reports it
        if problem is not None:
            note(f"Could not abort {label}: {problem.message}")
        else:
            note(f"Aborted {label}.")
        results.append(problem is None)
    return results


def abort(label: str, do_abort: Callable[[], None], note: Callable[[str], None]) -> bool:
    """One short abort; a failure is reported, never raised (we are already ending)."""
    note(f"Aborting {label} on Northflank...")
    try:
        do_abort()
    except NorthflankError as exc:
        note(f"Could not abort {label}: {exc.message}")
        return False
    note(f"Aborted {label}.")
    return True
