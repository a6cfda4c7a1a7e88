"""One step: check what it names, (create the build service,) start a build of each
target or find one (build-id, reuse), follow them together to their end, then deploy and
run the job (engine/delivery.py); return what was learned as one report, assembled once
from what each phase returned. Shared by the action and the CLI; it tells a front end what
happens through ``Events`` and never touches GitHub or the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import httpx

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock
from northflank_build.api.errors import Cancelled, NorthflankError
from northflank_build.api.logs import TailOpener
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.api.wire import printable
from northflank_build.engine.builds import BUILD, BuildOperation, BuildStart
from northflank_build.engine.cancel import CancelScope
from northflank_build.engine.context import StepContext
from northflank_build.engine.delivery import Delivered, Delivery, template_after
from northflank_build.engine.events import Events
from northflank_build.engine.follow import abort
from northflank_build.engine.jobrun import JOB_RUN
from northflank_build.engine.kind import OperationReport, Record
from northflank_build.engine.lifecycle import Begun, begin, conclude, leftover, look_again
from northflank_build.engine.operation import Followed, Watch
from northflank_build.engine.outcome import (
    BuildFailed,
    Failure,
    InternalError,
    Outcome,
    ended_by,
    step_outcome,
)
from northflank_build.engine.preflight import check_what_is_needed, ensure_service
from northflank_build.engine.preview import preview_after
from northflank_build.engine.report import BuildReport, DeploymentReport, Place, StepReport
from northflank_build.inputs.config import ActionConfig, GivenBuild, Reuse

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
        api_url=config.connection.api_url,
        token=config.connection.api_token.get_secret_value(),
        project_id=config.connection.project_id,
        team_id=config.connection.team_id,
        clock=clock,
        retry=retry,
        on_debug=on_debug,
        transport=transport,
        deadline=deadline,
    )


@dataclass(frozen=True)
class TargetBuild:
    """What the start phase learned of one target: how its start went (engine/lifecycle.py:
    Begun), and whether its build is one this step did not start (never aborted)."""

    target: BuildTarget
    begun: Begun[Build]
    reused: bool = False


def run_step(
    config: ActionConfig,
    client: NorthflankClient,
    clock: Clock,
    cancel: CancelScope,
    events: Events,
    open_tail: TailOpener | None = None,
) -> StepReport:
    """The whole step, as one report. ``open_tail`` replaces the WebSocket tail (tests and
    benchmarks run in virtual time).

    Never raises: a bug of ours after builds started still aborts those that are ours
    (when abort-on-cancel) and keeps what the phases before it returned.
    """
    ctx = StepContext(config, client, clock, cancel, events, open_tail)
    phase = _Phases(ctx)
    try:
        return phase.run()
    except Exception as exc:  # a bug of ours, or an answer nothing foresaw
        return phase.after_bug(exc)


class _Phases:
    """The phases of one step, and what each has learned so far (for a bug's report)."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.service: EnsuredService | None = None
        self.begun: list[TargetBuild] = []
        self.followed: dict[int, Followed[Build]] = {}
        self.starting: BuildTarget | None = None  # a start under way: it may have made a build

    def run(self) -> StepReport:
        ctx, config = self.ctx, self.ctx.config
        if config.preview is not None and (config.preview.delete or config.preview.sweep):
            return self.delete_preview()
        ended = check_what_is_needed(ctx)
        if ended is not None:
            return self.step(outcome=ended[0], failure=ended[1])
        self.service, ended = ensure_service(ctx)
        if ended is not None:
            return self.step(outcome=ended[0], failure=ended[1])
        self.start_builds()
        waiting = [i for i, t in enumerate(self.begun) if t.begun.outcome is None and t.begun.first]
        if waiting:
            self.followed = _follow(ctx, self.begun, waiting)
        # After the aborts: a start cut short by the cancel may have made a build; one look.
        self.begun = [_look_again(ctx, i, t) for i, t in enumerate(self.begun)]
        builds = tuple(_report(ctx, t, self.followed.get(i)) for i, t in enumerate(self.begun))
        return self.step(builds, delivered=_deliver(ctx, builds))

    def start_builds(self) -> None:
        """Each target's build started (or found); then the front end hears they are."""
        ctx = self.ctx
        for index, target in enumerate(ctx.config.targets):
            if ctx.cancel.cancelled:  # nothing more goes out after a cancel
                self.begun.append(TargetBuild(target, Begun(outcome=Outcome.CANCELLED)))
                continue
            self.starting = target
            self.begun.append(_begin(ctx, index, target))
            self.starting = None
        if not ctx.cancel.cancelled:
            ctx.events.under_way(
                tuple((t.target, t.begun.first.id) for t in self.begun if t.begun.first)
            )

    def delete_preview(self) -> StepReport:
        """A closed pull request (or preview-action: delete, or a sweep): previews are
        deleted, and nothing is built, deployed or run for a pull request that has ended."""
        ended = check_what_is_needed(self.ctx)
        if ended is not None:
            return self.step(outcome=ended[0], failure=ended[1])
        if self.ctx.config.targets or self.ctx.config.template or self.ctx.config.run_job:
            self.ctx.events.note("The preview is deleted; nothing else of this step is started.")
        return self.step(delivered=Delivered(preview=preview_after(self.ctx, Outcome.SUCCEEDED)))

    def step(
        self,
        builds: tuple[BuildReport, ...] = (),
        *,
        outcome: Outcome | None = None,
        failure: Failure | None = None,
        delivered: Delivered | None = None,
    ) -> StepReport:
        delivered = delivered or Delivered()
        return _step_report(
            self.service, builds, outcome, failure, delivered.deployments, delivered.operations
        )

    def after_bug(self, exc: Exception) -> StepReport:
        """After a bug of ours: a build of ours still running is aborted (abort-on-cancel);
        a start under way is left to the post step (it may have made a build)."""
        begun = self.begun
        if self.starting is not None:
            unseen: Begun[Build] = Begun(outcome=Outcome.ERROR, unknown_since=self.ctx.clock.wall())
            begun = [*begun, TargetBuild(self.starting, unseen)]
        builds = tuple(_after_bug(self.ctx, t, self.followed.get(i)) for i, t in enumerate(begun))
        return self.step(builds, outcome=Outcome.ERROR, failure=internal_error(exc))


def internal_error(exc: BaseException) -> InternalError:
    return InternalError(type(exc).__name__, printable(str(exc))[:300])


def _step_report(
    service: EnsuredService | None,
    builds: tuple[BuildReport, ...],
    outcome: Outcome | None,
    failure: Failure | None,
    deployments: tuple[DeploymentReport, ...],
    operations: tuple[OperationReport, ...],
) -> StepReport:
    outcomes = [b.outcome for b in builds] + [d.outcome for d in deployments]
    outcomes += [op.outcome for op in operations]
    return StepReport(
        outcome or (step_outcome(outcomes) if outcomes else Outcome.CREATED),
        builds,
        failure,
        service_id=service.service_id if service is not None else "",
        service_created=service.created if service is not None else None,
        deployments=deployments,
        operations=operations,
    )


def _deliver(ctx: StepContext, builds: tuple[BuildReport, ...]) -> Delivered:
    """deploy-services, run-job and the template run, once every build has succeeded (or
    with no build)."""
    config = ctx.config
    if not (config.deploy or config.run_job or config.template or config.preview):
        return Delivered()
    built = step_outcome(b.outcome for b in builds) if builds else Outcome.SUCCEEDED
    if built is not Outcome.SUCCEEDED:
        return Delivered(template=template_after(ctx, built), preview=preview_after(ctx, built))
    if ctx.cancel.cancelled:  # after the builds succeeded: what was asked did not happen
        services = config.deploy.services if config.deploy else ()
        deployments = tuple(DeploymentReport(s, Outcome.CANCELLED) for s in services)
        job = config.run_job
        run = (
            OperationReport(kind=JOB_RUN, owner=job.job_id, outcome=Outcome.CANCELLED)
            if job
            else None
        )
        cancelled = Outcome.CANCELLED
        return Delivered(
            deployments, run, template_after(ctx, cancelled), preview_after(ctx, cancelled)
        )
    build = builds[0].build if builds else None
    return Delivery(ctx).run(build)


def _start(ctx: StepContext, index: int, target: BuildTarget) -> BuildStart:
    config = ctx.config
    return BuildStart(ctx, target, config.start_request(), index, len(config.targets) > 1)


def _begin(ctx: StepContext, index: int, target: BuildTarget) -> TargetBuild:
    """The build of one target: the one build-id names, one reuse finds, or a new one."""
    config = ctx.config
    existing = config.existing
    if existing is None:
        return _new(ctx, index, target)
    try:
        with ctx.cancel.interruptible():
            if isinstance(existing, GivenBuild):
                found: Build | None = ctx.client.builds.get(target, existing.build_id)
            else:
                found = ctx.client.builds.find_reusable(target, existing.sha, existing.running_too)
    except Cancelled:
        return TargetBuild(target, Begun(outcome=Outcome.CANCELLED))
    except NorthflankError as exc:
        return TargetBuild(target, Begun(outcome=ended_by(exc), failure=exc))
    if found is None:
        ctx.events.note(
            f"No build of {target.label} at {config.sha} to reuse "
            f"(reuse: {existing.mode if isinstance(existing, Reuse) else 'never'}); starting one."
        )
        return _new(ctx, index, target)
    given = isinstance(existing, GivenBuild)
    ctx.events.reused(index, target, found, given=given)
    outcome: Outcome | None
    if given and config.waiting.wait:
        outcome = None  # followed even when it has concluded: its log is shown
    elif found.finished:
        outcome = Outcome.SUCCEEDED if found.succeeded else Outcome.FAILED
    else:
        outcome = None if config.waiting.wait else Outcome.STARTED
    return TargetBuild(target, Begun(found, outcome=outcome), reused=True)


def _new(ctx: StepContext, index: int, target: BuildTarget) -> TargetBuild:
    begun = begin(ctx, _start(ctx, index, target))
    if begun.first is not None and begun.outcome is None and not ctx.config.waiting.wait:
        begun = replace(begun, outcome=Outcome.STARTED)
    return TargetBuild(target, begun)


def _follow(
    ctx: StepContext, begun: list[TargetBuild], waiting: list[int]
) -> dict[int, Followed[Build]]:
    """Follow every build still running, together: one deadline, one budget."""
    several = len(begun) > 1
    watches = []
    for i in waiting:
        one = begun[i]
        first = one.begun.first
        assert first is not None
        listener = ctx.events.watch(BUILD, one.target.id, one.target.label, several=several)
        op = BuildOperation(ctx, one.target, first, listener.note)
        watches.append(Watch(op, first, listener, ours=not one.reused))
    return dict(zip(waiting, ctx.follow(watches), strict=True))


def _look_again(ctx: StepContext, index: int, one: TargetBuild) -> TargetBuild:
    if not one.begun.look_again:
        return one
    return replace(one, begun=look_again(ctx, _start(ctx, index, one.target), one.begun))


def _after_bug(ctx: StepContext, one: TargetBuild, followed: Followed[Build] | None) -> BuildReport:
    """After a bug of ours: a build of ours still running is aborted (abort-on-cancel)."""
    begun = one.begun
    build = followed.last if followed is not None else begun.first
    aborted = followed.aborted if followed is not None else begun.aborted
    if (
        build is not None
        and not build.finished
        and not one.reused
        and ctx.config.waiting.abort_on_cancel
    ):
        op = BuildOperation(ctx, one.target, build, ctx.events.note)
        aborted = abort(op.label, op.abort, ctx.events.note)
    bug = replace(begun, first=build, aborted=aborted, outcome=Outcome.ERROR, failure=None)
    return _assemble(ctx, one, bug, Outcome.ERROR, None, None)


def _report(ctx: StepContext, one: TargetBuild, followed: Followed[Build] | None) -> BuildReport:
    """One target's report, from what the phases returned."""
    begun = one.begun
    if followed is None:
        outcome = begun.outcome or Outcome.ERROR
        failure = begun.failure
        build = begun.first
        if outcome is Outcome.FAILED and build is not None:  # a reused build that failed
            failure = BuildFailed(
                build_id=build.id,
                target=one.target,
                status=build.status or "",
                message=build.message or "",
                log_shown=False,
            )
        return _assemble(ctx, one, begun, outcome, failure, None)
    op = BuildOperation(ctx, one.target, followed.last, ctx.events.note)
    outcome, failure = conclude(ctx, op, followed, ours=not one.reused)
    return _assemble(ctx, one, begun, outcome, failure, followed)


def _assemble(
    ctx: StepContext,
    one: TargetBuild,
    begun: Begun[Build],
    outcome: Outcome,
    failure: Failure | None,
    followed: Followed[Build] | None,
) -> BuildReport:
    """The one place a target's report is put together."""
    config = ctx.config
    build = followed.last if followed is not None else begun.first
    aborted = followed.aborted if followed is not None else begun.aborted
    target = one.target
    record = Record(BUILD.name, f"{target.kind}:{target.id}", sha=config.sha or "")
    rest = None if one.reused else leftover(record, outcome, build, aborted, begun.unknown_since)
    return BuildReport(
        outcome,
        place=Place.of(
            config.connection.project_id, config.connection.team_id, config.connection.api_url
        ),
        target=target,
        build=build,
        failure=failure,
        timeline=followed.timeline if followed is not None else (),
        waited_s=followed.waited_s if followed is not None else 0.0,
        adopted=begun.adopted,
        reused=one.reused,
        requested_sha=config.sha or "",
        requested_branch=config.branch or "",
        log_tail=followed.log_tail if followed is not None else (),
        aborted=aborted,
        start_unknown_since=begun.unknown_since,
        leftover=rest,
    )
