"""What a run learned, as values: each target's build as last seen (BuildReport), the step
as a whole (StepReport: its outcome and exit code), and the step's outputs (one flat mapping
shared by the action and the CLI's --json, with the whole result as JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from northflank_build.api.errors import CreateOutcomeUnknown, NorthflankError
from northflank_build.api.routes import BuildTarget, Routes
from northflank_build.api.timestamps import format_timestamp
from northflank_build.inputs.fields import DEFAULT_API_URL

if TYPE_CHECKING:
    from northflank_build.inputs.config import ActionConfig

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build


class Outcome(Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STARTED = "started"  # wait: false
    CREATED = "service ready"  # only the build service was asked for
    DRY_RUN = "dry run"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    ERROR = "error"
    INVALID = "invalid input"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


EXIT_CODES = {
    Outcome.SUCCEEDED: 0,
    Outcome.STARTED: 0,
    Outcome.CREATED: 0,
    Outcome.DRY_RUN: 0,
    Outcome.FAILED: 1,
    Outcome.INVALID: 2,
    Outcome.ERROR: 3,
    Outcome.TIMED_OUT: 4,
    Outcome.CANCELLED: 130,
}


@dataclass(frozen=True)
class BuildFailed:
    """The build concluded without success."""

    build_id: str
    target: BuildTarget
    status: str
    said: str  # the build's message from Northflank
    log_shown: bool  # its last lines are in the log and the summary


@dataclass(frozen=True)
class TimedOut:
    build_id: str
    timeout_s: int
    status: str
    aborted: bool | None
    abort_on_cancel: bool
    target: BuildTarget | None = None
    reused: bool = False  # not started by this step: never aborted
    # What had not concluded when it was not a build: "The rollout of service 'web'".
    subject: str = ""
    abortable: bool = True  # a rollout cannot be aborted


@dataclass(frozen=True)
class RolloutFailed:
    """A deployment service's rollout of the build ended FAILED."""

    service_id: str
    status: str
    sha: str


@dataclass(frozen=True)
class RunFailed:
    """A job run concluded without success."""

    job_id: str
    run_id: str
    status: str
    log_shown: bool


@dataclass(frozen=True)
class StartUnknown:
    """The start request may have made a build that cannot be identified; ``candidates``
    (dashboard links) when several builds, none provably this step's, could be it."""

    target: BuildTarget
    builds_url: str
    cause: CreateOutcomeUnknown
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unusable:
    """What an input names could not be read before anything was started: ``setting`` is
    the input that holds it ("deploy-services", "run-job"), ``error`` what Northflank said."""

    setting: str
    error: NorthflankError


@dataclass(frozen=True)
class InternalError:
    """A bug of ours (or an answer nothing foresaw): its type and text."""

    kind: str
    text: str


# What a run can fail with: facts, worded by each front end (src/northflank_build/wording.py).
Failure = (
    NorthflankError
    | BuildFailed
    | TimedOut
    | StartUnknown
    | Unusable
    | InternalError
    | RolloutFailed
    | RunFailed
)


@dataclass(frozen=True)
class DeploymentReport:
    """One deployment service pointed at the build: its rollout as last seen."""

    service_id: str
    outcome: Outcome
    status: str = ""  # status.deployment.status as last seen (COMPLETED, FAILED, ...)
    deployed_sha: str = ""
    failure: Failure | None = None


@dataclass(frozen=True)
class JobRunReport:
    """The run of run-job: how it ended, as last seen."""

    job_id: str
    outcome: Outcome
    run_id: str = ""
    status: str = ""
    concluded: bool = False
    failure: Failure | None = None
    duration_s: float | None = None
    log_tail: tuple[str, ...] = ()
    aborted: bool | None = None
    start_unknown: bool = False  # a start that may have made a run, unseen: the post step looks
    skipped: bool = False  # not started: a rollout before it did not succeed


@dataclass(frozen=True)
class BuildReport:
    """One target's build: how it ended and what was seen of it."""

    outcome: Outcome
    project_id: str = ""
    team_id: str | None = None
    target: BuildTarget | None = None
    build: Build | None = None
    dashboard: str = ""
    failure: Failure | None = None
    timeline: tuple[tuple[str, float], ...] = ()
    waited_s: float = 0.0
    adopted: bool = False
    reused: bool = False  # a build this step did not start (build-id, reuse)
    requested_sha: str = ""  # what was asked for, shown when no build exists (dry run)
    requested_branch: str = ""
    log_tail: tuple[str, ...] = ()
    aborted: bool | None = None  # None: no abort was attempted
    # When a start request that may have made a build (unseen) went out, epoch seconds.
    start_unknown_since: float | None = None

    @property
    def builds_url(self) -> str:
        """The dashboard page of the target's builds."""
        if not (self.target and self.dashboard):
            return ""
        return Routes(self.project_id, self.team_id).dashboard_builds(self.dashboard, self.target)

    @property
    def build_url(self) -> str:
        return self.link(self.build.id) if self.build else ""

    def link(self, build_id: str) -> str:
        """The dashboard page of one build of the target."""
        if not (self.target and self.dashboard):
            return ""
        routes = Routes(self.project_id, self.team_id)
        return routes.dashboard_build(self.dashboard, self.target, build_id)


# When targets end differently, the step ends as the most serious of them.
_SEVERITY = (
    Outcome.CANCELLED,
    Outcome.TIMED_OUT,
    Outcome.ERROR,
    Outcome.FAILED,
    Outcome.STARTED,
    Outcome.DRY_RUN,
    Outcome.SUCCEEDED,
)


@dataclass(frozen=True)
class StepReport:
    """The step: each target's report in the order given, and what ended the step besides
    them (the build service of service-spec, a bug of ours)."""

    outcome: Outcome
    builds: tuple[BuildReport, ...] = ()
    failure: Failure | None = None
    service_id: str = ""
    service_created: bool | None = None  # None: no service-spec
    deployments: tuple[DeploymentReport, ...] = ()
    job_run: JobRunReport | None = None

    @property
    def only(self) -> BuildReport | None:
        """The build of a one-target step."""
        return self.builds[0] if len(self.builds) == 1 else None

    @property
    def failures(self) -> list[Failure]:
        found = [b.failure for b in self.builds if b.failure is not None]
        found += [d.failure for d in self.deployments if d.failure is not None]
        if self.job_run is not None and self.job_run.failure is not None:
            found.append(self.job_run.failure)
        return ([self.failure] if self.failure is not None else []) + found


def step_outcome(outcomes: Iterable[Outcome]) -> Outcome:
    seen = set(outcomes)
    return next((outcome for outcome in _SEVERITY if outcome in seen), Outcome.ERROR)


def report_for(config: ActionConfig, outcome: Outcome, **learned: Any) -> BuildReport:
    """The report of one target of ``config`` (``target``, else the config's only one): what
    the configuration says, and what was learned."""
    learned.setdefault("target", config.target)
    return BuildReport(
        outcome,
        project_id=config.project_id,
        team_id=config.team_id,
        dashboard=dashboard_base(config.api_url),
        **learned,
    )


def dashboard_base(api_url: str) -> str:
    """The Northflank dashboard that goes with an API URL (api.X -> app.X)."""
    if api_url.rstrip("/") == DEFAULT_API_URL:
        return "https://app.northflank.com"
    parts = urlsplit(api_url)
    host = parts.netloc
    if host.startswith("api."):
        return f"{parts.scheme}://app.{host[4:]}"
    return api_url.rstrip("/")  # the simulator serves the dashboard paths itself


OUTPUT_NAMES = (
    "build-id",
    "status",
    "success",
    "concluded",
    "registry-uri",
    "sha",
    "branch",
    "created-at",
    "concluded-at",
    "duration-seconds",
    "build-url",
    "service-id",
    "service-created",
    "reused",
    "result",
    "deployed",
    "job-run-id",
    "job-run-status",
)
# The fields of one build in the ``result`` output, in this order (README: Outputs).
RESULT_FIELDS = (
    "kind",
    "target-id",
    "build-id",
    "status",
    "success",
    "concluded",
    "reused",
    "registry-uri",
    "sha",
    "branch",
    "created-at",
    "concluded-at",
    "duration-seconds",
    "build-url",
)


def elapsed_label(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:d}:{secs:02d}"


def duration_seconds(build: Build | None, fallback: float) -> str:
    """From created-at to concluded-at; while not concluded, the time the step waited."""
    if build is None:
        return ""
    created, concluded = build.created_datetime(), build.concluded_datetime()
    if created and concluded:
        return str(max(0, round((concluded - created).total_seconds())))
    return str(round(fallback)) if fallback else ""


def build_values(report: BuildReport | None, succeeded: bool) -> dict[str, str]:
    """The per-build scalar outputs of one build (or of none: all empty)."""
    build = report.build if report else None
    return {
        "build-id": build.id if build else "",
        "status": (build.status or "") if build else "",
        "success": "true" if succeeded else "false",
        "concluded": "true" if build and build.finished else "false",
        "registry-uri": (build.registry_uri or "") if build else "",
        "sha": (build.sha or "") if build else (report.requested_sha if report else ""),
        "branch": (build.branch or "") if build else (report.requested_branch if report else ""),
        "created-at": format_timestamp(build.created_datetime()) if build else "",
        "concluded-at": format_timestamp(build.concluded_datetime()) if build else "",
        "duration-seconds": duration_seconds(build, report.waited_s) if report else "",
        "build-url": report.build_url if report else "",
    }


def outputs(step: StepReport) -> dict[str, str]:
    """The step's outputs. With several targets the per-build ones are empty (``result``
    has each build), and success, concluded and status speak for all of them."""
    if len(step.builds) <= 1:
        values = build_values(step.only, step.outcome is Outcome.SUCCEEDED or _would_reuse(step))
    else:
        values = build_values(None, step.outcome is Outcome.SUCCEEDED)
        failing = [b for b in step.builds if b.outcome is not Outcome.SUCCEEDED]
        values["concluded"] = (
            "true" if all(b.build and b.build.finished for b in step.builds) else "false"
        )
        first = failing[0].build if failing else None
        values["status"] = "SUCCESS" if not failing else (first.status or "") if first else ""
    only = step.only
    target = only.target if only else None
    service_id = step.service_id or (target.id if target and target.kind == "service" else "")
    values["service-id"] = service_id if len(step.builds) <= 1 else ""
    values["service-created"] = "true" if step.service_created else "false"
    values["reused"] = "true" if step.builds and all(b.reused for b in step.builds) else "false"
    values["result"] = json.dumps(result(step), separators=(",", ":"))
    deployed = step.deployments and all(d.outcome is Outcome.SUCCEEDED for d in step.deployments)
    values["deployed"] = "true" if deployed else "false"
    if not step.builds and step.job_run is not None:  # run-job alone: concluded is the run's
        values["concluded"] = "true" if step.job_run.concluded else "false"
    values["job-run-id"] = step.job_run.run_id if step.job_run else ""
    values["job-run-status"] = step.job_run.status if step.job_run else ""
    assert tuple(values) == OUTPUT_NAMES
    return values


# Outputs that are booleans and numbers (strings to GitHub, typed in the CLI's --json).
BOOLEAN_OUTPUTS = ("success", "concluded", "service-created", "reused", "deployed")


def typed_outputs(step: StepReport) -> dict[str, Any]:
    """The outputs with their real types: booleans, a number (or null), ``result`` as an
    object; the rest strings."""
    values: dict[str, Any] = dict(outputs(step))
    for name in BOOLEAN_OUTPUTS:
        values[name] = values[name] == "true"
    duration = values["duration-seconds"]
    values["duration-seconds"] = int(duration) if duration.isdigit() else None
    values["result"] = result(step)
    return values


def story(step: StepReport) -> str:
    """What the step did, in a few words, for every front end's last line: "build SUCCESS,
    2 of 2 deployed, job run SUCCESS"; "3 builds: 2 succeeded, 1 failed"; "no build"."""
    parts: list[str] = []
    if len(step.builds) > 1:
        counts: dict[str, int] = {}
        for report in step.builds:
            counts[report.outcome.value] = counts.get(report.outcome.value, 0) + 1
        parts.append(
            f"{len(step.builds)} builds: " + ", ".join(f"{n} {what}" for what, n in counts.items())
        )
    elif step.builds:
        only = step.builds[0]
        build, label = only.build, only.target.label if only.target else ""
        if build is not None:
            parts.append(f"build {build.id} {build.status or 'UNKNOWN'}")
        else:
            dry = step.outcome is Outcome.DRY_RUN
            parts.append(f"would build {label}" if dry and label else "no build")
    if step.service_id:
        parts.insert(0, f"build service {step.service_id}")
    if step.deployments:
        deployed = sum(d.outcome is Outcome.SUCCEEDED for d in step.deployments)
        parts.append(f"{deployed} of {len(step.deployments)} deployed")
    run = step.job_run
    if run is not None:
        what = "skipped" if run.skipped else run.status or run.outcome.value
        parts.append(f"job run {run.run_id + ' ' if run.run_id else ''}{what}")
    return ", ".join(parts) or "nothing started"


def _would_reuse(step: StepReport) -> bool:
    """A dry run that read a succeeded build it would use: its outputs say so."""
    only = step.only
    build = only.build if only is not None and only.reused else None
    return (
        step.outcome is Outcome.DRY_RUN and build is not None and build.finished and build.succeeded
    )


def result(step: StepReport) -> dict[str, Any]:
    """The whole result, for ``fromJSON`` in later steps."""
    run = step.job_run
    return {
        "success": step.outcome is Outcome.SUCCEEDED,
        "builds": [_result_entry(b) for b in step.builds],
        "deployments": [
            {"service-id": d.service_id, "status": d.status, "deployed-sha": d.deployed_sha}
            for d in step.deployments
        ],
        "job-run": None
        if run is None
        else {
            "job-id": run.job_id,
            "run-id": run.run_id,
            "status": run.status,
            "concluded": run.concluded,
            "skipped": run.skipped,
        },
    }


def _result_entry(report: BuildReport) -> dict[str, Any]:
    values = build_values(report, report.outcome is Outcome.SUCCEEDED)
    target = report.target
    duration = values["duration-seconds"]
    entry = {
        "kind": target.kind if target else "",
        "target-id": target.id if target else "",
        "build-id": values["build-id"],
        "status": values["status"],
        "success": report.outcome is Outcome.SUCCEEDED,
        "concluded": values["concluded"] == "true",
        "reused": report.reused,
        "registry-uri": values["registry-uri"],
        "sha": values["sha"],
        "branch": values["branch"],
        "created-at": values["created-at"],
        "concluded-at": values["concluded-at"],
        "duration-seconds": int(duration) if duration else None,
        "build-url": values["build-url"],
    }
    assert tuple(entry) == RESULT_FIELDS
    return entry
