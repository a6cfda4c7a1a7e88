"""Follow one operation to its end, generic over what it is: forecast the checks, follow its
logs, wait, and on a cancel or timeout abort it first. Returns what it learned as a value.

An operation (engine/build.py has the build) says how to read its state, abort it, forecast
its duration and open its logs; a deployment's rollout or a job run plugs in the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from northflank_build.api.clock import Clock
from northflank_build.api.errors import Cancelled, DeadlineReached, NorthflankError
from northflank_build.api.logs import LogLine
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.logs import BuildLogs
from northflank_build.engine.schedule import DENSE_S, Forecast, PollSchedule
from northflank_build.engine.waiting import S, Snapshot, WaitEnd, WaitPolicy, wait_for

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


def follow(
    op: Operation[S],
    first: S,
    *,
    clock: Clock,
    cancel: CancelScope,
    listener: Listener[S],
    poll_interval_s: float,
    deadline: float,
    pacing: Callable[[], float],
    abort_on_cancel: bool,
) -> Followed[S]:
    began = clock.monotonic()
    logs: BuildLogs | None = None
    end: WaitEnd | None = None
    failure: NorthflankError | None = None
    last = first
    timeline: tuple[tuple[str, float], ...] = ((first.status or "UNKNOWN", 0.0),)
    try:
        with cancel.interruptible():
            # A forecast is worth one request, but not while the shared budget is short.
            forecast = op.forecast() if pacing() <= 0 else None
            schedule = PollSchedule(poll_interval_s, forecast)
            if schedule.window is not None and forecast is not None:
                lo, hi = schedule.window
                listener.note(
                    f"Recent builds of {op.of} took about {forecast.median_s:.0f} s "
                    f"({forecast.samples} builds): checking every {DENSE_S:.0f} s "
                    f"from {lo:.0f} s to {hi:.0f} s, sparsely before."
                )
            logs = op.open_logs()
            listener.log_group(first, logs.source if logs else "")
            waited = wait_for(
                first,
                op.read,
                WaitPolicy(timeout_s=deadline - began, schedule=schedule),
                clock,
                on_change=listener.status,
                on_trouble=listener.trouble,
                pacing=pacing,
                started=began,
                follow=logs,
                on_lines=listener.log_lines,
            )
        end, last, timeline = waited.end, waited.last, waited.timeline
    except Cancelled:
        end = WaitEnd.CANCELLED
    except DeadlineReached:  # e.g. a 429's hold past the deadline, before the socket opened
        end = WaitEnd.TIMED_OUT
    except NorthflankError as exc:
        failure = exc
    waited_s = clock.monotonic() - began
    aborted = None
    if end in (WaitEnd.CANCELLED, WaitEnd.TIMED_OUT):
        # The runner gives a cancelled step seconds: the abort goes first, and nothing after
        # it may wait on the network or raise the cancel again.
        if abort_on_cancel:
            aborted = abort(op.label, op.abort, listener.note)
        tail = _finish_logs(logs, listener, final=False, network=False)
    else:
        try:
            with cancel.interruptible():
                tail = _finish_logs(logs, listener, final=end is WaitEnd.CONCLUDED, network=True)
        except Cancelled:
            tail = _finish_logs(logs, listener, final=False, network=False)
    listener.log_group_end()
    return Followed(end, last, timeline, waited_s, tail, aborted, failure)


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
