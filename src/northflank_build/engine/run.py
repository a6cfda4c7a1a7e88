"""One step's run: (create the build service,) start a build of each target or find one
(build-id, reuse), follow them together to their end (engine/follow.py), and return what was
learned as one report, assembled once from what each phase returned. Shared by the action
and the CLI; it tells a front end what happens through ``Events`` and never touches GitHub
or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpx

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock
from northflank_build.api.errors import (
    Cancelled,
    CreateAmbiguous,
    CreateOutcomeUnknown,
    DeadlineReached,
    NorthflankError,
    NotFound,
    PermissionDenied,
)
from northflank_build.api.logs import TailOpener
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.api.wire import printable
from northflank_build.engine.build import ABORT_TIMEOUT_S, BuildOperation
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.context import StepContext
from northflank_build.engine.events import Events
from northflank_build.engine.follow import Followed, Watch, abort
from northflank_build.engine.report import (
    BuildFailed,
    BuildReport,
    DeploymentReport,
    Failure,
    InternalError,
    JobRunReport,
    Outcome,
    StartUnknown,
    StepReport,
    TimedOut,
    Unusable,
    report_for,
    step_outcome,
)
from northflank_build.engine.ship import Ship, Shipped
from northflank_build.engine.waiting import WaitEnd
from northflank_build.inputs.config import ActionConfig

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build


def connect(
    config: ActionConfig,
    clock: Clock,
    *,
    deadline: float,
    retry: RetryPolicy | None = None,
    on_debug: Callable[[str], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> NorthflankClient:
    """The API client for a validated configuration (the action, the CLI, the post step)."""
    return NorthflankClient(
        api_url=config.api_url,
        token=config.api_token.get_secret_value(),
        project_id=config.project_id,
        team_id=config.team_id,
        clock=clock,
        retry=retry,
        on_debug=on_debug,
        transport=transport,
        deadline=deadline,
    )


@dataclass(frozen=True)
class Started:
    """What the start phase learned of one target: its build (or none), and how it ended if
    it ended there."""

    target: BuildTarget
    build: Build | None = None
    adopted: bool = False
    reused: bool = False  # not started by this step: never aborted
    outcome: Outcome | None = None  # set when the target's run ends here
    failure: Failure | None = None
    unknown_since: float | None = None  # a start that may have made a build, unseen
    look_again: bool = False  # cancelled while the start was out: look once, after the aborts
    aborted: bool | None = None


def run_build(
    config: ActionConfig,
    client: NorthflankClient,
    clock: Clock,
    cancel: CancelScope,
    events: Events,
    open_tail: TailOpener | None = None,
) -> StepReport:
    """Start (or find) a build of each target, follow them together to their end, and
    report. ``open_tail`` replaces the WebSocket tail (tests and benchmarks run in virtual
    time).

    Never raises: a bug of ours after builds started still aborts those that are ours
    (when abort-on-cancel) and keeps what the phases before it returned.
    """
    ctx = StepContext(config, client, clock, cancel, events, open_tail)
    service: EnsuredService | None = None
    starts: list[Started] = []
    followed: dict[int, Followed[Build]] = {}
    starting: BuildTarget | None = None  # a start under way: it may have made a build
    try:
        unready = _check_what_is_needed(ctx)
        if unready is not None:
            return _step(None, (), *unready)
        service, ended = _ensure_service(ctx)
        if ended is not None:
            return _step(service, (), ended[0], ended[1])
        targets = config.targets
        if not targets:
            return _step(service, (), shipped=_ship(ctx, ()))
        for index, target in enumerate(targets):
            if cancel.cancelled:  # nothing more goes out after a cancel
                starts.append(Started(target, outcome=Outcome.CANCELLED))
                continue
            starting = target
            starts.append(_begin(ctx, index, target))
            starting = None
        waiting = [i for i, s in enumerate(starts) if s.outcome is None and s.build is not None]
        if waiting:
            followed = _follow(ctx, starts, waiting)
        # After the aborts: a start cut short by the cancel may have made a build; one look.
        starts = [_after_cancelled_start(ctx, s) if s.look_again else s for s in starts]
        builds = tuple(_report(config, s, followed.get(i)) for i, s in enumerate(starts))
        return _step(service, builds, shipped=_ship(ctx, builds))
    except Exception as exc:  # a bug of ours, or an answer nothing foresaw
        if starting is not None:  # unseen, not lost: the post step looks for what it made
            starts.append(Started(starting, outcome=Outcome.ERROR, unknown_since=clock.wall()))
        builds = tuple(_after_bug(ctx, s, followed.get(i)) for i, s in enumerate(starts))
        return _step(service, builds, Outcome.ERROR, internal_error(exc))


def internal_error(exc: BaseException) -> InternalError:
    return InternalError(type(exc).__name__, printable(str(exc))[:300])


def _ended_by(exc: NorthflankError) -> Outcome:
    return Outcome.TIMED_OUT if isinstance(exc, DeadlineReached) else Outcome.ERROR


def _step(
    service: EnsuredService | None,
    builds: tuple[BuildReport, ...],
    outcome: Outcome | None = None,
    failure: Failure | None = None,
    shipped: Shipped | None = None,
) -> StepReport:
    shipped = shipped or Shipped()
    outcomes = [b.outcome for b in builds] + [d.outcome for d in shipped.deployments]
    if shipped.job_run is not None:
        outcomes.append(shipped.job_run.outcome)
    return StepReport(
        outcome or (step_outcome(outcomes) if outcomes else Outcome.CREATED),
        builds,
        failure,
        service_id=service.service_id if service is not None else "",
        service_created=service.created if service is not None else None,
        deployments=shipped.deployments,
        job_run=shipped.job_run,
    )


def _ship(ctx: StepContext, builds: tuple[BuildReport, ...]) -> Shipped:
    """deploy-services and run-job, once every build has succeeded (or with no build)."""
    config = ctx.config
    if not (config.deploy_services or config.run_job):
        return Shipped()
    if builds and step_outcome(b.outcome for b in builds) is not Outcome.SUCCEEDED:
        return Shipped()
    if ctx.cancel.cancelled:  # after the builds succeeded: what was asked did not happen
        deployments = tuple(
            DeploymentReport(service_id, Outcome.CANCELLED) for service_id in config.deploy_services
        )
        run = JobRunReport(config.run_job, Outcome.CANCELLED) if config.run_job else None
        return Shipped(deployments, run)
    build = builds[0].build if builds else None
    target = builds[0].target if builds else None
    build_service = target.id if target is not None and target.kind == "service" else None
    return Ship(ctx).run(build, build_service)


def _check_what_is_needed(ctx: StepContext) -> tuple[Outcome, Failure | None] | None:
    """Before any build starts: read every deployment service and the run job once, so a
    typo in deploy-services or run-job ends the step at once (how, with what failure), not
    after a build of minutes, and before anything is sent that changes anything."""
    config, client = ctx.config, ctx.client
    reads: list[tuple[str, str, Callable[[str], object]]] = [
        ("deploy-services", s, client.deployments.get) for s in config.deploy_services
    ]
    if config.run_job is not None:
        reads.append(("run-job", config.run_job, client.runs.check_job))
    for setting, what, read in reads:
        try:
            with ctx.cancel.interruptible():
                read(what)
        except Cancelled:
            return Outcome.CANCELLED, None
        except (NotFound, PermissionDenied) as exc:  # about what the input names
            return _ended_by(exc), Unusable(setting, exc)
        except NorthflankError as exc:  # the token, the network, the time: not the input's
            return _ended_by(exc), exc
    return None


def _ensure_service(
    ctx: StepContext,
) -> tuple[EnsuredService | None, tuple[Outcome, Failure | None] | None]:
    """The build service of service-spec, created (or used, or updated); or how it ended."""
    spec = ctx.config.service_spec
    if spec is None:
        return None, None
    try:
        with ctx.cancel.interruptible():
            ensured = ctx.client.services.ensure(
                spec.to_json(), spec.name, spec.service_id, ctx.config.if_exists
            )
    except Cancelled:
        return None, (Outcome.CANCELLED, None)
    except NorthflankError as exc:
        return None, (_ended_by(exc), exc)
    ctx.events.service(ensured)
    return ensured, None


def _begin(ctx: StepContext, index: int, target: BuildTarget) -> Started:
    """The build of one target: the one build-id names, one reuse finds, or a new one."""
    config, client, events = ctx.config, ctx.client, ctx.events
    if config.build_id is None and config.reuse == "never":
        return _start(ctx, index, target)
    try:
        with ctx.cancel.interruptible():
            if config.build_id is not None:
                found: Build | None = client.get_build(target, config.build_id)
            else:
                assert config.sha is not None  # inputs: reuse needs a sha
                found = client.find_reusable(target, config.sha, config.reuse == "any")
    except Cancelled:
        return Started(target, outcome=Outcome.CANCELLED)
    except NorthflankError as exc:
        return Started(target, outcome=_ended_by(exc), failure=exc)
    if found is None:
        events.note(
            f"No build of {target.label} at {config.sha} to reuse "
            f"(reuse: {config.reuse}); starting one."
        )
        return _start(ctx, index, target)
    given = config.build_id is not None
    events.reused(index, target, found, given=given)
    outcome: Outcome | None
    if given and config.wait:
        outcome = None  # followed even when it has concluded: its log is shown
    elif found.finished:
        outcome = Outcome.SUCCEEDED if found.succeeded else Outcome.FAILED
    else:
        outcome = None if config.wait else Outcome.STARTED
    return Started(target, found, reused=True, outcome=outcome)


def _start(ctx: StepContext, index: int, target: BuildTarget) -> Started:
    config = ctx.config
    body = config.start_request()
    ctx.events.starting(index, target, body, ctx.clock.wall())
    try:
        with ctx.cancel.interruptible():
            started = ctx.client.start_build(target, body)
    except Cancelled as exc:
        if exc.sent_at is None:
            return Started(target, outcome=Outcome.CANCELLED)
        return Started(
            target,
            outcome=Outcome.CANCELLED,
            unknown_since=exc.sent_at,
            look_again=config.abort_on_cancel,
        )
    except CreateOutcomeUnknown as exc:
        where = report_for(config, Outcome.ERROR, target=target)
        if isinstance(exc, CreateAmbiguous):
            # None of them is provably ours: nothing is left for the post step either.
            links = tuple(where.link(build_id) for build_id in exc.candidates)
            failure = StartUnknown(target, where.builds_url, exc, links)
            return Started(target, outcome=Outcome.ERROR, failure=failure)
        return Started(
            target,
            outcome=Outcome.ERROR,
            failure=StartUnknown(target, where.builds_url, exc),
            unknown_since=exc.sent_at,
        )
    except NorthflankError as exc:
        # The deadline cut the start after it went out: it may have made a build.
        sent_at = exc.sent_at if isinstance(exc, DeadlineReached) else None
        return Started(target, outcome=_ended_by(exc), failure=exc, unknown_since=sent_at)
    ctx.events.started(index, target, started.build, started.adopted)
    outcome = None if config.wait else Outcome.STARTED
    return Started(target, started.build, started.adopted, outcome=outcome)


def _follow(
    ctx: StepContext, starts: list[Started], waiting: list[int]
) -> dict[int, Followed[Build]]:
    """Follow every build still running, together: one deadline, one budget."""
    count = len(starts)
    watches = []
    for i in waiting:
        started = starts[i]
        assert started.build is not None
        listener = ctx.events.watch(i, started.target, count)
        op = BuildOperation(ctx, started.target, started.build, listener.note)
        watches.append(Watch(op, started.build, listener, abortable=not started.reused))
    return dict(zip(waiting, ctx.follow(watches), strict=True))


def _after_cancelled_start(ctx: StepContext, started: Started) -> Started:
    """Cancelled while the start request was out: it may have made a build. One quick look
    (no wait, nothing raised); found, it is aborted; not found, the post step looks again."""
    config, client, events = ctx.config, ctx.client, ctx.events
    target, sent_at = started.target, started.unknown_since
    assert sent_at is not None
    try:
        found = client.find_started_quickly(target, config.sha, sent_at)
    except NorthflankError as exc:
        events.note(f"Cancelled while starting; could not check for a started build: {exc.message}")
        return started
    where = report_for(config, Outcome.CANCELLED, target=target)
    if found.candidates:
        links = ", ".join(where.link(b.id) for b in found.candidates)
        events.note(
            f"Cancelled while starting: {len(found.candidates)} build(s) of {target.label} "
            f"started around that moment ({links}); none is provably this step's, so none "
            "was aborted."
        )
        return replace(started, unknown_since=None)
    if found.ours is None:
        events.note(
            f"Cancelled while starting: a build of {target.label} may have started "
            f"({where.builds_url}); the post step looks for it and aborts it."
        )
        return started
    events.started(config.targets.index(target), target, found.ours, adopted=True)
    aborted = _abort_build(ctx, target, found.ours.id)
    return Started(target, found.ours, True, outcome=Outcome.CANCELLED, aborted=aborted)


def _after_bug(ctx: StepContext, started: Started, followed: Followed[Build] | None) -> BuildReport:
    """After a bug of ours: a build of ours still running is aborted (abort-on-cancel)."""
    build = followed.last if followed is not None else started.build
    aborted = followed.aborted if followed is not None else started.aborted
    ours = not started.reused
    if build is not None and not build.finished and ours and ctx.config.abort_on_cancel:
        aborted = _abort_build(ctx, started.target, build.id)
    return report_for(
        ctx.config,
        Outcome.ERROR,
        target=started.target,
        build=build,
        adopted=started.adopted,
        reused=started.reused,
        aborted=aborted,
        start_unknown_since=started.unknown_since,
    )


def _abort_build(ctx: StepContext, target: BuildTarget, build_id: str) -> bool:
    return abort(
        f"build {build_id}",
        lambda: ctx.client.abort_build(target, build_id, timeout=ABORT_TIMEOUT_S),
        ctx.events.note,
    )


def _report(
    config: ActionConfig, started: Started, followed: Followed[Build] | None
) -> BuildReport:
    """The one place a target's report is put together, from what the phases returned."""
    fields: dict[str, Any] = {
        "target": started.target,
        "build": started.build,
        "adopted": started.adopted,
        "reused": started.reused,
        "start_unknown_since": started.unknown_since,
        "aborted": started.aborted,
        "requested_sha": config.sha or "",
        "requested_branch": config.branch or "",
    }
    target = started.target
    if followed is None:
        outcome = started.outcome or Outcome.ERROR
        failure = started.failure
        build = started.build
        if outcome is Outcome.FAILED and build is not None:  # a reused build that failed
            failure = BuildFailed(build.id, target, build.status or "", build.message or "", False)
        return report_for(config, outcome, failure=failure, **fields)
    build = followed.last
    fields.update(
        build=build,
        timeline=followed.timeline,
        waited_s=followed.waited_s,
        log_tail=followed.log_tail,
        aborted=followed.aborted,
    )
    failure = followed.failure
    if followed.end is None:
        outcome = Outcome.ERROR
    elif followed.end is WaitEnd.CONCLUDED:
        outcome = Outcome.SUCCEEDED if build.succeeded else Outcome.FAILED
        if outcome is Outcome.FAILED:
            failure = BuildFailed(
                build.id, target, build.status or "", build.message or "", bool(followed.log_tail)
            )
    elif followed.end is WaitEnd.TIMED_OUT:
        outcome = Outcome.TIMED_OUT
        failure = TimedOut(
            build.id,
            config.timeout_seconds,
            build.status or "",
            followed.aborted,
            config.abort_on_cancel,
            target,
            started.reused,
        )
    else:
        outcome = Outcome.CANCELLED
    return report_for(config, outcome, failure=failure, **fields)
