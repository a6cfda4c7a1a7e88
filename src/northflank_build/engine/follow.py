"""Follow one operation to its end, generic over what it is: forecast the checks, follow its
logs, wait, and on a cancel or timeout abort it first. Returns what it learned as a value.

An operation (engine/build.py has the build) says how to read its state, abort it, forecast
its duration and open its logs; a deployment's rollout or a job run plugs in the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from northflank_build.api.clock import Clock
from northflank_build.api.errors import Cancelled, DeadlineReached, NorthflankError
from northflank_build.api.logs import LogLine
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.logs import BuildLogs
from northflank_build.engine.schedule import DENSE_S, Forecast, PollSchedule
from northflank_build.engine.waiting import S, Snapshot, Track, WaitEnd, wait_all

S_co = TypeVar("S_co", bound=Snapshot, covariant=True)
S_contra = TypeVar("S_contra", bound=Snapshot, contravariant=True)


class Operation(Protocol[S_co]):
    @property
    def label(self) -> str:
        """For messages: "build joyous-view-6290"."""
        ...

    @property
    def of(self) -> str:
        """What it belongs to: "job 'my-job'"."""
        ...

    def read(self) -> S_co:
        """One status read (raises NorthflankError)."""
        ...

    def abort(self) -> None:
        """One short abort (raises NorthflankError); exempt from the deadline."""
        ...

    def forecast(self) -> Forecast | None:
        """How long such operations took lately, for the schedule; None when unknown."""
        ...

    def open_logs(self) -> BuildLogs | None:
        """Its logs, followed while waiting (or only the end signal); None when none."""
        ...


class Listener(Protocol[S_contra]):
    def note(self, message: str) -> None: ...
    def status(self, snapshot: S_contra, elapsed: float) -> None: ...
    def trouble(self, problem: Exception, elapsed: float) -> None: ...
    def log_lines(self, lines: list[LogLine]) -> None: ...
    def log_group(self, snapshot: S_contra, source: str) -> None: ...
    def log_group_end(self) -> None: ...


@dataclass(frozen=True)
class Followed(Generic[S]):
    end: WaitEnd | None  # None: an API error stopped the wait (``failure``)
    last: S
    timeline: tuple[tuple[str, float], ...]
    waited_s: float
    log_tail: tuple[str, ...]
    aborted: bool | None  # None: no abort was tried
    failure: NorthflankError | None = None


@dataclass(frozen=True)
class Watch(Generic[S]):
    """One operation to follow: as first seen, who hears about it, and whether it is ours
    to abort (a build this step did not start belongs to someone else)."""

    op: Operation[S]
    first: S
    listener: Listener[S]
    abortable: bool = True


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
    began = clock.monotonic()
    logs: list[BuildLogs | None] = [None] * len(watches)
    tails: dict[int, tuple[str, ...]] = {}
    tracks = [
        Track(w.first, w.op.read, PollSchedule(poll_interval_s, None), began,
              w.listener.status, w.listener.trouble, on_lines=w.listener.log_lines)
        for w in watches
    ]  # fmt: skip
    index = {track: i for i, track in enumerate(tracks)}  # tracks hash by identity
    stopped: WaitEnd | None = None  # how the wait as a whole was cut short
    failure: NorthflankError | None = None

    def ended(track: Track[S]) -> None:
        """A track concluded (or failed) while others go on: its logs end now."""
        i = index[track]
        tails[i] = _finish_logs(
            logs[i], watches[i].listener, final=track.end is WaitEnd.CONCLUDED, network=True
        )
        watches[i].listener.log_group_end()

    try:
        with cancel.interruptible():
            for i, (watch, track) in enumerate(zip(watches, tracks, strict=True)):
                track.schedule = _schedule(watch, poll_interval_s, pacing)
                opened = logs[i] = watch.op.open_logs()
                track.follow = opened
                watch.listener.log_group(watch.first, opened.source if opened else "")
            wait_all(tracks, deadline=deadline, clock=clock, pacing=pacing, on_end=ended)
    except Cancelled:
        stopped = WaitEnd.CANCELLED
    except DeadlineReached:  # e.g. a 429's hold past the deadline, before the socket opened
        stopped = WaitEnd.TIMED_OUT
    except NorthflankError as exc:
        failure = exc
    waited_s = clock.monotonic() - began
    ends = [track.end if track.end is not None or track.error else stopped for track in tracks]
    aborted: list[bool | None] = [None] * len(watches)
    # The runner gives a cancelled step seconds: the aborts go first, and nothing after them
    # may wait on the network or raise the cancel again.
    ours = [
        i
        for i, watch in enumerate(watches)
        if ends[i] in (WaitEnd.CANCELLED, WaitEnd.TIMED_OUT) and abort_on_cancel and watch.abortable
    ]
    done = abort_all(
        [(watches[i].op.label, watches[i].op.abort, watches[i].listener.note) for i in ours]
    )
    for i, result in zip(ours, done, strict=True):
        aborted[i] = result
    for i, watch in enumerate(watches):
        if i in tails:
            continue
        if ends[i] in (WaitEnd.CANCELLED, WaitEnd.TIMED_OUT) or cancel.cancelled:
            tails[i] = _finish_logs(logs[i], watch.listener, final=False, network=False)
        else:
            try:
                with cancel.interruptible():
                    tails[i] = _finish_logs(
                        logs[i], watch.listener, final=ends[i] is WaitEnd.CONCLUDED, network=True
                    )
            except Cancelled:
                tails[i] = _finish_logs(logs[i], watch.listener, final=False, network=False)
        watch.listener.log_group_end()
    return [
        Followed(
            ends[i], track.last, tuple(track.timeline) or ((track.first.status or "UNKNOWN", 0.0),),
            waited_s, tails[i], aborted[i],
            track.error if track.error is not None else (failure if ends[i] is None else None),
        )
        for i, track in enumerate(tracks)
    ]  # fmt: skip


def _schedule(watch: Watch[S], poll_interval_s: float, pacing: Callable[[], float]) -> PollSchedule:
    # A forecast is worth one request, but not while the shared budget is short.
    op = watch.op
    concluded = watch.first.finished  # a build given by id may have: nothing to forecast
    forecast = op.forecast() if pacing() <= 0 and not concluded else None
    schedule = PollSchedule(poll_interval_s, forecast)
    if schedule.window is not None and forecast is not None:
        lo, hi = schedule.window
        watch.listener.note(
            f"Recent builds of {op.of} took about {forecast.median_s:.0f} s "
            f"({forecast.samples} builds): checking every {DENSE_S:.0f} s "
            f"from {lo:.0f} s to {hi:.0f} s, sparsely before."
        )
    return schedule


def abort_all(
    aborts: Sequence[tuple[str, Callable[[], None], Callable[[str], None]]],
) -> list[bool]:
    """Several aborts at once, each bounded by its own short timeout: every DELETE goes out
    in the first moments of a cancel, however long the others take (the runner kills the
    step 10 s after a cancel)."""
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
            raise problem  # a bug of ours: run_build's own handler reports it
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


def _finish_logs(
    logs: BuildLogs | None, listener: Listener[S], *, final: bool, network: bool
) -> tuple[str, ...]:
    """The lines that came after the last check, then the last lines for the summary.

    Without ``network`` (after a cancel or timeout) only what the live tail already holds.
    """
    if logs is None:
        return ()
    lines = logs.pump(final=final) if network else logs.drain_tail()
    if lines:
        listener.log_lines(lines)
    logs.close()
    return tuple(logs.last_lines)
