"""Put the build to use: point deployment services at it and wait for their rollouts, then
run a job (pinned to the build when it is a service's) and wait for the run; all within the
step's one deadline, on the engine of engine/follow.py.

A rollout's end is not documented (../shared/reference/northflank-api-deploy.md, section
2.4); it is read from documented fields: before the PATCH, ``status.deployment.
lastTransitionTime`` is noted; after it, the rollout of this deploy has succeeded when GET
service shows ``COMPLETED`` with a later transition and ``deployment.internal.deployedSHA``
equal to the build's sha, and has failed when it shows ``FAILED`` with a later transition.
The noted transition (the server's own clock), not ours, is the line: no clock skew enters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from northflank_build.api.bodies import (
    InternalDeployment,
    StartJobRunRequest,
    patch_deployment_body,
)
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import (
    Cancelled,
    CreateAmbiguous,
    CreateOutcomeUnknown,
    DeadlineReached,
    MalformedResponse,
    NorthflankError,
)
from northflank_build.api.logs import LogLine
from northflank_build.api.retry import NO_RETRY
from northflank_build.engine.build import ABORT_TIMEOUT_S, open_log_follower
from northflank_build.engine.context import StepContext
from northflank_build.engine.follow import Followed, Watch, abort
from northflank_build.engine.logs import BuildLogs
from northflank_build.engine.report import (
    DeploymentReport,
    JobRunReport,
    Outcome,
    RolloutFailed,
    RunFailed,
    TimedOut,
    step_outcome,
)
from northflank_build.engine.schedule import Forecast
from northflank_build.engine.waiting import WaitEnd

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build, JobRun, Service

# Shown while GET service still shows the state from before the PATCH.
REQUESTED = "REQUESTED"
# lastTransitionTime has millisecond resolution.
STAMP_S = 0.001
# Without a Date header the server's clock is unknown: a transition this long before our
# PATCH is still taken as possibly its own (clocks rarely disagree by more).
UNKNOWN_SKEW_S = 300.0


@dataclass(frozen=True)
class Rollout:
    """A deployment service as read after the PATCH, judged against what was seen before it
    (a Snapshot for engine/waiting.py).

    A transition is this deploy's only when it is later than the one noted before the PATCH
    and no earlier than the moment the PATCH can have reached Northflank (``not_before``, the
    server's clock): when GET showed no transition before, or lags after, an old rollout's
    FAILED stamped an hour earlier is not this one's.
    """

    service: Service
    before: datetime | None  # status.deployment.lastTransitionTime before the PATCH
    sha: str
    not_before: float | None = None  # epoch, server clock; None: no PATCH (one under way)

    @property
    def fresh(self) -> bool:
        """Whether the deployment status has moved since the PATCH."""
        moved = self.service.rollout.transition_datetime()
        if moved is None or (self.before is not None and moved <= self.before):
            return False
        return self.not_before is None or moved.timestamp() + STAMP_S >= self.not_before

    @property
    def reported(self) -> str:
        """Northflank's status.deployment.status, as it is."""
        return self.service.rollout.status or ""

    @property
    def status(self) -> str:
        return self.reported if self.fresh else REQUESTED

    @property
    def finished(self) -> bool:
        return self.fresh and (self.reported == "FAILED" or self.succeeded)

    @property
    def succeeded(self) -> bool:
        done = self.fresh and self.reported == "COMPLETED"
        return done and (self.service.deployed_sha or "").lower() == self.sha.lower()


class Already(Enum):
    """What GET service says, before any PATCH, of a service whose source is already this
    build service at this commit: a PATCH would change nothing, so no rollout would come."""

    RUNS = "runs"  # COMPLETED with deployedSHA the commit: done, no PATCH
    FAILED = "failed"  # its rollout of this commit failed: a PATCH would not retry it
    ROLLING = "rolling"  # PENDING or IN_PROGRESS: that rollout is waited on, no PATCH


def already(service: Service, build_service: str, sha: str) -> Already | None:
    """The documented rule (README, "Build, deploy, migrate"): the same source is the same
    build service (deployment.internal.nfObjectId, when GET service gives it) and the same
    commit (buildSHA, any case; not "latest"); GET service names no build id, so a rebuild of
    one commit counts as it."""
    source = service.internal
    # An answer without nfObjectId cannot tell build services apart: the commit decides.
    same = source.nf_object_id in (None, build_service) and bool(sha)
    if not same or (source.build_sha or "").lower() != sha.lower():
        return None
    status = service.rollout.status
    if status == "COMPLETED":
        return Already.RUNS if (source.deployed_sha or "").lower() == sha.lower() else None
    if status == "FAILED":
        return Already.FAILED
    return Already.ROLLING if status in ("PENDING", "IN_PROGRESS") else None


@dataclass
class RolloutOperation:
    client: NorthflankClient
    service_id: str
    before: datetime | None
    sha: str
    not_before: float | None

    @property
    def label(self) -> str:
        return f"the rollout of service {self.service_id!r}"

    @property
    def of(self) -> str:
        return f"service {self.service_id!r}"

    def read(self) -> Rollout:
        service = self.client.deployments.get(self.service_id)
        return Rollout(service, self.before, self.sha, self.not_before)

    def abort(self) -> None:
        """A rollout cannot be aborted (no endpoint): its Watch is not abortable."""

    def forecast(self) -> Forecast | None:
        return None

    def open_logs(self) -> BuildLogs | None:
        return None


@dataclass
class JobRunOperation:
    ctx: StepContext
    job_id: str
    run: JobRun
    note: Callable[[str], None]  # its listener's

    @property
    def label(self) -> str:
        return f"run {self.run.id} of job {self.job_id!r}"

    @property
    def of(self) -> str:
        return f"job {self.job_id!r}"

    def read(self) -> JobRun:
        return self.ctx.client.runs.get(self.job_id, self.run.id)

    def abort(self) -> None:
        self.ctx.client.runs.abort(self.job_id, self.run.id, timeout=ABORT_TIMEOUT_S)

    def forecast(self) -> Forecast | None:
        return None

    def open_logs(self) -> BuildLogs | None:
        client, job_id, run = self.ctx.client, self.job_id, self.run

        def read_range(start: str | None, limit: int, bound: float) -> tuple[list[LogLine], bool]:
            return client.runs.logs(job_id, run.id, start, limit, policy=NO_RETRY, timeout=bound)

        url = client.routes.run_tail_url(self.ctx.config.api_url, job_id, run.id)
        return open_log_follower(self.ctx, url, read_range, run.started_datetime(), self.note)


@dataclass(frozen=True)
class Shipped:
    deployments: tuple[DeploymentReport, ...] = ()
    job_run: JobRunReport | None = None


@dataclass(frozen=True)
class Ship:
    """Deploys and the job run of one step, with the build (a service's, to pin) or none."""

    ctx: StepContext

    def run(self, build: Build | None, build_service: str | None) -> Shipped:
        internal = None
        if build is not None and build_service is not None:
            internal = InternalDeployment(build_service, build.branch, build.sha, build.id)
        deployments: tuple[DeploymentReport, ...] = ()
        if self.ctx.config.deploy_services:
            assert internal is not None and build is not None  # inputs: a service build
            deployments = self._deploy(internal, build.sha or "")
            failed = [d for d in deployments if d.outcome is not Outcome.SUCCEEDED]
            if failed and self.ctx.config.run_job is not None:
                job_id = self.ctx.config.run_job
                self.ctx.events.note(
                    f"The run of job {job_id!r} was not started: the rollout to "
                    f"{', '.join(repr(d.service_id) for d in failed)} did not succeed."
                )
                skipped = JobRunReport(
                    job_id, step_outcome(d.outcome for d in failed), skipped=True
                )
                return Shipped(deployments, skipped)
            if failed:
                return Shipped(deployments)
        if self.ctx.config.run_job is None:
            return Shipped(deployments)
        return Shipped(deployments, self._run_job(self.ctx.config.run_job, internal))

    # -- deployments ------------------------------------------------------------------------

    def _deploy(self, internal: InternalDeployment, sha: str) -> tuple[DeploymentReport, ...]:
        """PATCH each service (its instance count read first), then wait on every rollout."""
        reports: dict[str, DeploymentReport] = {}
        watches: list[Watch[Rollout]] = []
        for service_id in self.ctx.config.deploy_services:
            if self.ctx.cancel.cancelled:
                reports[service_id] = DeploymentReport(service_id, Outcome.CANCELLED)
                continue
            try:
                with self.ctx.cancel.interruptible():
                    first = self._point(service_id, internal, sha)
            except Cancelled:
                reports[service_id] = DeploymentReport(service_id, Outcome.CANCELLED)
                continue
            except NorthflankError as exc:
                outcome = Outcome.TIMED_OUT if isinstance(exc, DeadlineReached) else Outcome.ERROR
                reports[service_id] = DeploymentReport(service_id, outcome, failure=exc)
                continue
            if isinstance(first, DeploymentReport):
                reports[service_id] = first
                continue
            op = RolloutOperation(self.ctx.client, service_id, first.before, sha, first.not_before)
            listener = self.ctx.events.watch_rollout(service_id)
            watches.append(Watch(op, first, listener, abortable=False))
        followed = self.ctx.follow(watches) if watches else []
        for watch, seen in zip(watches, followed, strict=True):
            assert isinstance(watch.op, RolloutOperation)
            reports[watch.op.service_id] = self._rollout_report(watch.op.service_id, seen)
        return tuple(reports[s] for s in self.ctx.config.deploy_services)

    def _point(
        self, service_id: str, internal: InternalDeployment, sha: str
    ) -> Rollout | DeploymentReport:
        """Point one service at the build: its rollout to wait on, or, when GET service
        shows that a PATCH would change nothing, how it ended without one."""
        client, note = self.ctx.client, self.ctx.events.note
        service = client.deployments.get(service_id)
        instances = service.deployment.instances if service.deployment else None
        before = service.rollout.transition_datetime()
        now = already(service, internal.build_service_id, sha)
        if now is Already.RUNS:
            note(
                f"[{service_id}] Service {service_id!r} already runs {sha[:12]}: no deploy needed."
            )
            return DeploymentReport(service_id, Outcome.SUCCEEDED, "COMPLETED", sha)
        if now is Already.FAILED:
            note(f"[{service_id}] Service {service_id!r} is set to {sha[:12]} and its rollout "
                 "of it failed; the same deploy again would change nothing.")  # fmt: skip
            failure = RolloutFailed(service_id, "FAILED", sha)
            deployed = service.deployed_sha or ""
            return DeploymentReport(service_id, Outcome.FAILED, "FAILED", deployed, failure=failure)
        if now is Already.ROLLING:
            note(f"[{service_id}] Service {service_id!r} is already rolling out {sha[:12]}: "
                 "waiting on that rollout.")  # fmt: skip
            return Rollout(service, before, sha)
        if instances is None:
            raise MalformedResponse(
                f"GET service {service_id!r} did not give a usable deployment.instances, "
                "which the deploy must send back unchanged."
            )
        self.ctx.events.deploying(service_id, internal, instances)
        sent = self.ctx.clock.wall()
        client.deployments.patch(service_id, patch_deployment_body(instances, internal))
        skew = client.session.skew
        not_before = sent + skew.low if skew.known else sent - UNKNOWN_SKEW_S
        return Rollout(service, before, sha, not_before)

    def _rollout_report(self, service_id: str, seen: Followed[Rollout]) -> DeploymentReport:
        last = seen.last
        base = DeploymentReport(
            service_id, Outcome.ERROR, last.reported, last.service.deployed_sha or ""
        )
        if seen.end is WaitEnd.CONCLUDED:
            if last.succeeded:
                return replace(base, outcome=Outcome.SUCCEEDED)
            failure = RolloutFailed(service_id, last.reported, last.sha)
            return replace(base, outcome=Outcome.FAILED, failure=failure)
        if seen.end is None:
            return replace(base, outcome=Outcome.ERROR, failure=seen.failure)
        self.ctx.events.note(
            f"Service {service_id!r} was mid-rollout ({last.status}) when the step "
            f"{'was cancelled' if seen.end is WaitEnd.CANCELLED else 'timed out'}; a rollout "
            "cannot be aborted and goes on at Northflank."
        )
        if seen.end is WaitEnd.CANCELLED:
            return replace(base, outcome=Outcome.CANCELLED)
        timed_out = TimedOut(
            "", self.ctx.config.timeout_seconds, last.status, None, self.ctx.config.abort_on_cancel,
            subject=f"The rollout of service {service_id!r}", abortable=False,
        )  # fmt: skip
        return replace(base, outcome=Outcome.TIMED_OUT, failure=timed_out)

    # -- the job run ------------------------------------------------------------------------

    def _run_job(self, job_id: str, internal: InternalDeployment | None) -> JobRunReport:
        config = self.ctx.config
        body = StartJobRunRequest(config.run_job_environment or None, internal)
        self.ctx.events.run_starting(job_id, body, self.ctx.clock.wall())
        try:
            with self.ctx.cancel.interruptible():
                run = self.ctx.client.runs.start(job_id, body)
        except Cancelled as exc:
            if exc.sent_at is None:
                return JobRunReport(job_id, Outcome.CANCELLED)
            return self._after_cancelled_run_start(job_id, exc.sent_at)
        except CreateOutcomeUnknown as exc:
            unknown = not isinstance(exc, CreateAmbiguous)  # ambiguous: none is ours to abort
            return JobRunReport(job_id, Outcome.ERROR, failure=exc, start_unknown=unknown)
        except NorthflankError as exc:
            outcome = Outcome.TIMED_OUT if isinstance(exc, DeadlineReached) else Outcome.ERROR
            # Cut by the deadline after it went out: it may have made a run (the post step).
            unknown = isinstance(exc, DeadlineReached) and exc.sent_at is not None
            return JobRunReport(job_id, outcome, failure=exc, start_unknown=unknown)
        self.ctx.events.run_started(job_id, run)
        # The start's answer has the run's id only: its first status comes from one read.
        try:
            with self.ctx.cancel.interruptible():
                run = self.ctx.client.runs.get(job_id, run.id)
        except (Cancelled, NorthflankError):
            pass  # the wait reads it again (and a cancel ends the wait at once, with the abort)
        listener = self.ctx.events.watch_run(job_id)
        op = JobRunOperation(self.ctx, job_id, run, listener.note)
        seen = self.ctx.follow([Watch(op, run, listener)])[0]
        return self._run_report(job_id, seen)

    def _after_cancelled_run_start(self, job_id: str, sent_at: float) -> JobRunReport:
        """Cancelled while the run's start was out: it may have made a run. One quick look
        (no retry, nothing raised, nothing during a 429's hold); a run provably ours is
        aborted, else the post step looks again (api/adopt.py: claim)."""
        runs, note = self.ctx.client.runs, self.ctx.events.note
        cancelled = JobRunReport(job_id, Outcome.CANCELLED, start_unknown=True)
        if self.ctx.client.session.held():
            return cancelled
        try:
            found = runs.claim_started(job_id, sent_at, runs.list_recent(job_id, timeout=2.0))
        except NorthflankError as exc:
            note(
                f"Cancelled while starting a run of job {job_id!r}; could not look for it: {exc.message}"
            )
            return cancelled
        if found.ours is None:
            ids = ", ".join(r.id for r in found.candidates)
            note(
                f"Cancelled while starting a run of job {job_id!r}: "
                + (f"runs {ids} started around that moment; none is provably this step's, so "
                   "none was aborted." if ids else "a run may have started; the post step "
                   "looks for it and aborts it.")
            )  # fmt: skip
            return replace(cancelled, start_unknown=not ids)
        ours = found.ours
        self.ctx.events.run_started(job_id, ours)
        aborted = abort(
            f"run {ours.id} of job {job_id!r}",
            lambda: runs.abort(job_id, ours.id, timeout=ABORT_TIMEOUT_S),
            note,
        )
        return JobRunReport(job_id, Outcome.CANCELLED, ours.id, aborted=aborted)

    def _run_report(self, job_id: str, seen: Followed[JobRun]) -> JobRunReport:
        last = seen.last
        started, concluded = last.started_datetime(), last.concluded_datetime()
        duration = (concluded - started).total_seconds() if started and concluded else None
        base = JobRunReport(
            job_id, Outcome.ERROR, last.id, last.status or "", last.finished,
            duration_s=duration, log_tail=seen.log_tail,
            aborted=seen.aborted,
        )  # fmt: skip
        if seen.end is WaitEnd.CONCLUDED:
            if last.succeeded:
                return replace(base, outcome=Outcome.SUCCEEDED)
            failure = RunFailed(job_id, last.id, last.status or "", bool(seen.log_tail))
            return replace(base, outcome=Outcome.FAILED, failure=failure)
        if seen.end is None:
            return replace(base, outcome=Outcome.ERROR, failure=seen.failure)
        if seen.end is WaitEnd.CANCELLED:
            return replace(base, outcome=Outcome.CANCELLED)
        timed_out = TimedOut(
            last.id, self.ctx.config.timeout_seconds, last.status or "", seen.aborted,
            self.ctx.config.abort_on_cancel, subject=f"Run {last.id} of job {job_id!r}",
        )  # fmt: skip
        return replace(base, outcome=Outcome.TIMED_OUT, failure=timed_out)
