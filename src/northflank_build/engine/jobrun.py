"""The job run as a kind of operation (engine/kind.py): start one run of ``run-job``
(pinned to the build when it is a service's), follow it, abort it; and how the post step
reaches one (../shared/reference/northflank-api-deploy.md, section 3)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from northflank_build.api.adopt import Claim
from northflank_build.api.bodies import StartJobRunRequest
from northflank_build.api.client import NorthflankClient
from northflank_build.api.logs import LogLine
from northflank_build.api.retry import NO_RETRY
from northflank_build.api.routes import BUILD_ID_PATTERN
from northflank_build.engine.context import StepContext
from northflank_build.engine.follow import ABORT_TIMEOUT_S
from northflank_build.engine.kind import (
    POST_ABORT_S,
    Kind,
    OperationReport,
    Reached,
    Reaching,
    Record,
)
from northflank_build.engine.logs import LogFollower, open_follower
from northflank_build.engine.outcome import Failure, OperationFailed
from northflank_build.engine.report import dashboard_base
from northflank_build.engine.schedule import Forecast
from northflank_build.inputs.fields import ID_PATTERN

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import JobRun

_RUN_ID = re.compile(BUILD_ID_PATTERN)
# A cancelled start's one look for the run it made: no retry, this long at most.
QUICK_LOOK_S = 2.0


class JobRunKind(Kind):
    name = "job-run"
    noun = "job run"
    title = "Job run"
    reread = True
    outputs = ("job-run-id", "job-run-status")

    def values(self, report: OperationReport | None) -> dict[str, str]:
        if report is None:
            return dict.fromkeys(self.outputs, "")
        return {"job-run-id": report.id, "job-run-status": report.status}

    def result(self, report: OperationReport) -> dict[str, Any]:
        return {
            "job-id": report.owner,
            "run-id": report.id,
            "status": report.status,
            "concluded": report.concluded,
            "skipped": report.skipped,
        }

    def duration(self, last: Any) -> float | None:
        started, concluded = last.started_datetime(), last.concluded_datetime()
        return (concluded - started).total_seconds() if started and concluded else None

    def owner_label(self, owner: str) -> str:
        return f"job {owner!r}"

    def reach(self, client: NorthflankClient, record: Record) -> Reached | None:
        if not (ID_PATTERN.fullmatch(record.owner) and _RUN_ID.fullmatch(record.id)):
            return None
        job_id, run_id = record.owner, record.id
        return Reaching(
            lambda: client.runs.get(job_id, run_id),
            lambda: client.runs.abort(job_id, run_id, timeout=POST_ABORT_S),
        )

    def find(self, client: NorthflankClient, record: Record) -> Claim[Any] | None:
        if not ID_PATTERN.fullmatch(record.owner) or record.sent_at is None:
            return None
        runs = client.runs
        return runs.claim_started(record.owner, record.sent_at, runs.list_recent(record.owner))


JOB_RUN = JobRunKind()


@dataclass
class JobRunOperation:
    ctx: StepContext
    job_id: str
    run: JobRun
    note: Callable[[str], None]  # its listener's
    kind: Kind = JOB_RUN

    @property
    def label(self) -> str:
        return f"run {self.run.id} of job {self.job_id!r}"

    @property
    def owner(self) -> str:
        return f"job {self.job_id!r}"

    def read(self) -> JobRun:
        return self.ctx.client.runs.get(self.job_id, self.run.id)

    def abort(self) -> None:
        self.ctx.client.runs.abort(self.job_id, self.run.id, timeout=ABORT_TIMEOUT_S)

    def forecast(self) -> Forecast | None:
        return None

    def open_logs(self) -> LogFollower | None:
        ctx, job_id, run = self.ctx, self.job_id, self.run
        client = ctx.client

        def read_range(start: str | None, limit: int, bound: float) -> tuple[list[LogLine], bool]:
            return client.runs.logs(job_id, run.id, start, limit, policy=NO_RETRY, timeout=bound)

        url = client.routes.run_tail_url(ctx.config.connection.api_url, job_id, run.id)
        return open_follower(
            client,
            ctx.clock,
            ctx.log_access,
            url,
            read_range,
            created=run.started_datetime(),
            note=self.note,
            noun="job run",
        )

    def failed(self, last: JobRun, log_shown: bool) -> Failure:
        return OperationFailed(
            noun="job run",
            subject=f"Run {last.id} of job {self.job_id!r}",
            status=last.status or "",
            log_shown=log_shown,
            look="Open the job's runs on Northflank to read its log.",
        )


@dataclass(frozen=True)
class JobRunStart:
    """One run of ``job_id`` with ``body``."""

    ctx: StepContext
    job_id: str
    body: StartJobRunRequest
    kind: Kind = JOB_RUN
    key: str = "job-run"
    sha: str = ""
    run_name: str = ""
    output: str | None = "job-run-id"

    @property
    def owner(self) -> str:
        return self.job_id

    @property
    def owner_label(self) -> str:
        return f"job {self.job_id!r}"

    @property
    def where(self) -> str:
        routes, config = self.ctx.client.routes, self.ctx.config
        return routes.dashboard_runs(dashboard_base(config.connection.api_url), self.job_id)

    def link(self, op_id: str) -> str:
        routes, config = self.ctx.client.routes, self.ctx.config
        return routes.dashboard_run(dashboard_base(config.connection.api_url), self.job_id, op_id)

    def announce(self) -> tuple[str, ...]:
        internal = self.body.internal
        pinned = (
            f" with build {internal.build_id} of service {internal.build_service_id!r}"
            if internal
            else ""
        )
        names = sorted(self.body.runtime_environment or {})
        env = f"; environment {', '.join(names)}" if names else ""
        return (f"Starting a run of job {self.job_id!r}{pinned}{env}.",)

    def said_started(self, first: JobRun, adopted: bool) -> str:
        how = " (found after the start request's answer was lost)" if adopted else ""
        return f"Run {first.id} of job {self.job_id!r} started{how}."

    def send(self) -> tuple[JobRun, bool]:
        return self.ctx.client.runs.start(self.job_id, self.body), False

    def find_lost(self, sent_at: float) -> Claim[JobRun]:
        runs = self.ctx.client.runs
        recent = runs.list_recent(self.job_id, timeout=QUICK_LOOK_S)
        return runs.claim_started(self.job_id, sent_at, recent)

    def operation(self, first: JobRun, note: Callable[[str], None]) -> JobRunOperation:
        return JobRunOperation(self.ctx, self.job_id, first, note)
