"""Put the build to use: point deployment services at it and wait for their rollouts
(engine/rollout.py), then run a job (engine/jobrun.py), pinned to the build when it is a
service's; all within the step's one deadline, on the lifecycle of engine/lifecycle.py."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from northflank_build.api.bodies import (
    InternalDeployment,
    StartJobRunRequest,
    patch_deployment_body,
)
from northflank_build.api.errors import Cancelled, MalformedResponse, NorthflankError
from northflank_build.engine.context import StepContext
from northflank_build.engine.jobrun import JOB_RUN, JobRunStart
from northflank_build.engine.kind import OperationReport
from northflank_build.engine.lifecycle import conclude, held_back, run_one
from northflank_build.engine.operation import Followed, Watch
from northflank_build.engine.outcome import Outcome, RolloutFailed, ended_by, step_outcome
from northflank_build.engine.preview import preview_after
from northflank_build.engine.report import DeploymentReport
from northflank_build.engine.rollout import Already, Rollout, RolloutOperation, already
from northflank_build.engine.templaterun import TemplateRunStart, kind_of, owner_of

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build, Service

# Without a Date header the server's clock is unknown: a transition this long before our
# PATCH is still taken as possibly its own (clocks rarely disagree by more).
UNKNOWN_SKEW_S = 300.0


@dataclass(frozen=True)
class Delivered:
    """What the deploys, the job run and the template run came to."""

    deployments: tuple[DeploymentReport, ...] = ()
    job_run: OperationReport | None = None
    template: OperationReport | None = None
    preview: OperationReport | None = None

    @property
    def operations(self) -> tuple[OperationReport, ...]:
        ops = (self.job_run, self.template, self.preview)
        return tuple(op for op in ops if op is not None)


@dataclass(frozen=True)
class Delivery:
    """Deploys and the job run of one step, with the build (a service's, to pin) or none."""

    ctx: StepContext

    def run(self, build: Build | None) -> Delivered:
        """The deploys and the job run, then the template run and the preview once what came
        before them succeeded."""
        delivered = self._ship(build)
        before = [d.outcome for d in delivered.deployments]
        before += [op.outcome for op in delivered.operations]
        failed = step_outcome(before) if before else Outcome.SUCCEEDED
        template = template_after(self.ctx, failed)
        if template is not None:
            failed = step_outcome([failed, template.outcome])
        return replace(delivered, template=template, preview=preview_after(self.ctx, failed))

    def _ship(self, build: Build | None) -> Delivered:
        config = self.ctx.config
        deploy, job = config.deploy, config.run_job
        # The build service whose build is deployed, or to which a job run is pinned.
        service = deploy.build_service if deploy is not None else self._service_build()
        internal = None
        if build is not None and service is not None:
            internal = InternalDeployment(service, build.branch, build.sha, build.id)
        deployments: tuple[DeploymentReport, ...] = ()
        if deploy is not None and internal is not None:
            deployments = self._deploy(deploy.services, internal, internal.build_sha or "")
            failed = [d for d in deployments if d.outcome is not Outcome.SUCCEEDED]
            if failed:
                return Delivered(deployments, self._skipped_run(failed))
        if job is None:
            return Delivered(deployments)
        body = StartJobRunRequest(job.environment or None, internal)
        run = run_one(self.ctx, JobRunStart(self.ctx, job.job_id, body), job.job_id)
        return Delivered(deployments, run)

    def _service_build(self) -> str | None:
        """The service a one-target step builds: a run of run-job is pinned to its build."""
        target = self.ctx.config.target
        return target.id if target is not None and target.kind == "service" else None

    def _skipped_run(self, failed: list[DeploymentReport]) -> OperationReport | None:
        job = self.ctx.config.run_job
        if job is None:
            return None
        job_id = job.job_id
        services = ", ".join(repr(d.service_id) for d in failed)
        self.ctx.events.note(
            f"The run of job {job_id!r} was not started: the rollout to {services} did not succeed."
        )
        return OperationReport(
            kind=JOB_RUN,
            owner=job_id,
            outcome=step_outcome(d.outcome for d in failed),
            skipped=True,
        )

    def _deploy(
        self, services: tuple[str, ...], internal: InternalDeployment, sha: str
    ) -> tuple[DeploymentReport, ...]:
        """PATCH each service (its instance count read first), then wait on every rollout."""
        reports: dict[str, DeploymentReport] = {}
        watches: list[Watch[Rollout]] = []
        for service_id in services:
            pointed = self._point_safely(service_id, internal, sha)
            if isinstance(pointed, DeploymentReport):
                reports[service_id] = pointed
                continue
            op = RolloutOperation(
                self.ctx.client, service_id, pointed.before, sha, pointed.not_before
            )
            listener = self.ctx.events.watch(
                op.kind, service_id, f"service {service_id!r}", several=True
            )
            watches.append(Watch(op, pointed, listener))
        followed = self.ctx.follow(watches) if watches else []
        for watch, seen in zip(watches, followed, strict=True):
            assert isinstance(watch.op, RolloutOperation)
            reports[watch.op.service_id] = self._rollout_report(watch.op, seen)
        return tuple(reports[s] for s in services)

    def _point_safely(
        self, service_id: str, internal: InternalDeployment, sha: str
    ) -> Rollout | DeploymentReport:
        if self.ctx.cancel.cancelled:
            return DeploymentReport(service_id, Outcome.CANCELLED)
        try:
            with self.ctx.cancel.interruptible():
                return self._point(service_id, internal, sha)
        except Cancelled:
            return DeploymentReport(service_id, Outcome.CANCELLED)
        except NorthflankError as exc:
            return DeploymentReport(service_id, ended_by(exc), failure=exc)

    def _point(
        self, service_id: str, internal: InternalDeployment, sha: str
    ) -> Rollout | DeploymentReport:
        """Point one service at the build: its rollout to wait on, or, when GET service
        shows that a PATCH would change nothing, how it ended without one."""
        client = self.ctx.client
        service = client.deployments.get(service_id)
        before = service.rollout.transition_datetime()
        now = already(service, internal.build_service_id, sha)
        if now is not None:
            return self._already(service, now, sha, before)
        instances = service.deployment.instances if service.deployment else None
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

    def _already(
        self, service: Service, now: Already, sha: str, before: datetime | None
    ) -> Rollout | DeploymentReport:
        """GET service shows the service already set to this build service and commit."""
        note, short, service_id = self.ctx.events.note, sha[:12], service.id
        deployed = service.deployed_sha or ""
        if now is Already.RUNS:
            note(f"[{service_id}] Service {service_id!r} already runs {short}: no deploy needed.")
            return DeploymentReport(service_id, Outcome.SUCCEEDED, "COMPLETED", sha)
        if now is Already.FAILED:
            note(
                f"[{service_id}] Service {service_id!r} is set to {short} and its rollout of it "
                "failed; the same deploy again would change nothing."
            )
            failure = RolloutFailed(service_id=service_id, status="FAILED", sha=sha)
            return DeploymentReport(service_id, Outcome.FAILED, "FAILED", deployed, failure=failure)
        note(
            f"[{service_id}] Service {service_id!r} is already rolling out {short}: waiting on "
            "that rollout."
        )
        return Rollout(service, before, sha)

    def _rollout_report(self, op: RolloutOperation, seen: Followed[Rollout]) -> DeploymentReport:
        outcome, failure = conclude(self.ctx, op, seen)
        last = seen.last
        deployed = last.service.deployed_sha or ""
        urls = tuple(last.service.urls()[0])
        return DeploymentReport(op.service_id, outcome, last.reported, deployed, failure, urls)


def template_after(ctx: StepContext, before: Outcome) -> OperationReport | None:
    """The release-flow or workflow run, when everything before it (``before``: how it
    ended, as one outcome) succeeded; else a report of a run not started."""
    plan = ctx.config.template
    if plan is None:
        return None
    owner = owner_of(plan.target)
    what = f"The run of {plan.target.label} was not started"
    held = held_back(ctx, kind_of(plan.target), owner, before, what)
    if held is not None:
        return held
    return run_one(ctx, TemplateRunStart(ctx, plan.target, plan.request), owner)
