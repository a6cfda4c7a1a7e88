"""The lifecycle of an operation of any kind, written once: start it (a cancel, a lost
answer, an API error), look once after a cancel for what a cut-off start made, follow it,
and read how it ended as an outcome and a failure. A kind declares its parts
(engine/operation.py: Start, Operation; engine/kind.py: Kind); run_one runs one operation
alone from start to report (a job run); builds run several together (engine/run.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Generic

from northflank_build.api.errors import (
    Cancelled,
    CreateAmbiguous,
    CreateOutcomeUnknown,
    DeadlineReached,
    NorthflankError,
)
from northflank_build.engine.context import StepContext
from northflank_build.engine.follow import abort
from northflank_build.engine.kind import Kind, OperationReport, Record
from northflank_build.engine.operation import Followed, Operation, Start, Watch
from northflank_build.engine.outcome import Failure, Outcome, StartUnknown, TimedOut, ended_by
from northflank_build.engine.waiting import S, WaitEnd


@dataclass(frozen=True)
class Begun(Generic[S]):
    """How a start went: the operation as first seen, or how it ended without one."""

    first: S | None = None
    adopted: bool = False  # found after its start's answer was lost
    outcome: Outcome | None = None  # set when it ended here: nothing to follow
    failure: Failure | None = None
    unknown_since: float | None = None  # a start that may have made one, unseen (epoch s)
    look_again: bool = False  # cancelled while the start was out: one look, after the aborts
    aborted: bool | None = None


def begin(ctx: StepContext, start: Start[S]) -> Begun[S]:
    """Send one start: never twice (api/http.py: Session.call resends only what provably
    created nothing), and whatever happens, what is known is returned, nothing raised."""
    ctx.events.starting(start, ctx.clock.wall())
    try:
        with ctx.cancel.interruptible():
            first, adopted = start.send()
    except Cancelled as exc:
        if exc.sent_at is None:
            return Begun(outcome=Outcome.CANCELLED)
        look = ctx.config.waiting.abort_on_cancel
        return Begun(outcome=Outcome.CANCELLED, unknown_since=exc.sent_at, look_again=look)
    except CreateOutcomeUnknown as exc:
        kind = start.kind
        if isinstance(exc, CreateAmbiguous):
            # None of them is provably ours: nothing is left for the post step either.
            links = tuple(start.link(op_id) for op_id in exc.candidates)
            unknown = StartUnknown(
                noun=kind.noun,
                owner=start.owner_label,
                where=start.where,
                cause=exc,
                candidates=links,
            )
            return Begun(outcome=Outcome.ERROR, failure=unknown)
        unknown = StartUnknown(
            noun=kind.noun, owner=start.owner_label, where=start.where, cause=exc
        )
        return Begun(outcome=Outcome.ERROR, failure=unknown, unknown_since=exc.sent_at)
    except NorthflankError as exc:
        # The deadline cut the start after it went out: it may have made one.
        sent_at = exc.sent_at if isinstance(exc, DeadlineReached) else None
        return Begun(outcome=ended_by(exc), failure=exc, unknown_since=sent_at)
    ctx.events.started(start, first, adopted)
    return Begun(first, adopted)


def look_again(ctx: StepContext, start: Start[S], begun: Begun[S]) -> Begun[S]:
    """Cancelled while the start request was out: it may have made one. One quick look (no
    wait, nothing raised, nothing during a 429's hold); found and provably ours, it is
    aborted; not found, the post step looks again (api/adopt.py: claim)."""
    note, noun, owner = ctx.events.note, start.kind.noun, start.owner_label
    sent_at = begun.unknown_since
    assert sent_at is not None
    if ctx.client.session.held():
        return begun
    try:
        found = start.find_lost(sent_at)
    except NorthflankError as exc:
        note(f"Cancelled while starting; could not check for a started {noun}: {exc.message}")
        return begun
    if found.candidates:
        links = ", ".join(start.link(one.id) for one in found.candidates)
        note(
            f"Cancelled while starting: {len(found.candidates)} {noun}(s) of {owner} started "
            f"around that moment ({links}); none is provably this step's, so none was aborted."
        )
        return replace(begun, unknown_since=None)
    if found.ours is None:
        note(
            f"Cancelled while starting: a {noun} of {owner} may have started ({start.where}); "
            "the post step looks for it and aborts it."
        )
        return begun
    ctx.events.started(start, found.ours, True)
    op = start.operation(found.ours, note)
    aborted = abort(op.label, op.abort, note)
    return Begun(found.ours, True, outcome=Outcome.CANCELLED, aborted=aborted)


def conclude(
    ctx: StepContext, op: Operation[S], seen: Followed[S], *, ours: bool = True
) -> tuple[Outcome, Failure | None]:
    """How a followed operation ended, and what it failed with: the one reading for every
    kind. A kind that cannot be aborted and was cut short is said to go on."""
    last, kind = seen.last, op.kind
    if seen.end is WaitEnd.CONCLUDED:
        if last.succeeded:
            return Outcome.SUCCEEDED, None
        return Outcome.FAILED, op.failed(last, bool(seen.log_tail))
    if seen.end is None:
        return Outcome.ERROR, seen.failure
    cut = "was cancelled" if seen.end is WaitEnd.CANCELLED else "timed out"
    if not kind.abortable:
        ctx.events.note(
            f"{_upper(op.owner)} was mid-{kind.noun} ({last.status or 'UNKNOWN'}) when the step "
            f"{cut}; a {kind.noun} cannot be aborted and goes on at Northflank."
        )
    if seen.end is WaitEnd.CANCELLED:
        return Outcome.CANCELLED, None
    config = ctx.config
    subject = _upper(op.label) + ("" if op.owner in op.label else f" of {op.owner}")
    return Outcome.TIMED_OUT, TimedOut(
        noun=kind.noun,
        subject=subject,
        timeout_s=config.waiting.timeout_seconds,
        status=last.status or "",
        aborted=seen.aborted,
        abort_on_cancel=config.waiting.abort_on_cancel,
        abortable=kind.abortable,
        ours=ours,
    )


def leftover(
    record: Record, outcome: Outcome, last: Any, aborted: bool | None, unknown_since: float | None
) -> Record | None:
    """What the post step must look after: a start that may have made one (unseen), one
    whose abort failed, or one still running when an error ended the step's wait."""
    if unknown_since is not None:
        return replace(record, id="", sent_at=unknown_since)
    if last is None:
        return None
    running = not last.finished and aborted is None and outcome is Outcome.ERROR
    return replace(record, id=last.id, sent_at=None) if aborted is False or running else None


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def held_back(
    ctx: StepContext, kind: Kind, owner_id: str, before: Outcome, what: str
) -> OperationReport | None:
    """For what starts only once everything before it (``before``, as one outcome)
    succeeded: None when it may start; else its report, not started (after a cancel, or
    skipped, with ``what`` was not done said once)."""
    if ctx.cancel.cancelled:
        return OperationReport(kind=kind, owner=owner_id, outcome=Outcome.CANCELLED)
    if before is not Outcome.SUCCEEDED:
        ctx.events.note(f"{what}: what came before it did not succeed.")
        return OperationReport(kind=kind, owner=owner_id, outcome=before, skipped=True)
    return None


def run_one(ctx: StepContext, start: Start[S], owner_id: str) -> OperationReport:
    """One operation from its start to its report, alone: start (or look for what a
    cancelled start made), one read when the start's answer is partial, follow, conclude."""
    kind = start.kind
    begun = begin(ctx, start)
    if begun.look_again:
        begun = look_again(ctx, start, begun)
    record = Record(kind.name, start.owner, sha=start.sha, name=start.run_name)
    first = begun.first
    if first is not None and begun.outcome is None and not ctx.config.waiting.wait:
        begun = replace(begun, outcome=Outcome.STARTED)  # wait: false: started, not followed
    if first is None or begun.outcome is not None:
        rest = leftover(
            record, begun.outcome or Outcome.ERROR, first, begun.aborted, begun.unknown_since
        )
        return OperationReport(
            kind=kind,
            owner=owner_id,
            outcome=begun.outcome or Outcome.ERROR,
            id=first.id if first else "",
            status=(first.status or "") if first else "",
            concluded=bool(first and first.finished),
            failure=begun.failure,
            aborted=begun.aborted,
            start_unknown=begun.unknown_since is not None,
            leftover=rest,
            url=start.link(first.id) if first else start.where,
        )
    listener = ctx.events.watch(kind, owner_id, start.owner_label, several=False)
    op = start.operation(first, listener.note)
    if kind.reread:
        first = _reread(ctx, op, first)
    seen = ctx.follow([Watch(op, first, listener)])[0]
    outcome, failure = conclude(ctx, op, seen)
    report = report_of(kind, owner_id, seen, outcome, failure, record)
    return replace(report, url=start.link(seen.last.id))


def report_of(
    kind: Kind,
    owner_id: str,
    seen: Followed[Any],
    outcome: Outcome,
    failure: Failure | None,
    record: Record,
) -> OperationReport:
    last = seen.last
    return OperationReport(
        kind=kind,
        owner=owner_id,
        outcome=outcome,
        id=last.id,
        status=last.status or "",
        concluded=last.finished,
        failure=failure,
        duration_s=kind.duration(last),
        log_tail=seen.log_tail,
        aborted=seen.aborted,
        leftover=leftover(record, outcome, last, seen.aborted, None),
        parts=kind.parts(last),
        detail=kind.detail(last),
    )


def _reread(ctx: StepContext, op: Operation[S], first: S) -> S:
    """The start's answer has the id only: its first status comes from one read. A failure
    is fine (the wait reads it again, and a cancel ends the wait at once, with the abort)."""
    try:
        with ctx.cancel.interruptible():
            return op.read()
    except (Cancelled, NorthflankError):
        return first
