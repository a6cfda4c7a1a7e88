"""What a run learned, as values: its outcome, exit code, the build as last seen, and the
step's outputs (one flat mapping shared by the action and the CLI's --json)."""

from __future__ import annotations

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


@dataclass(frozen=True)
class StartUnknown:
    """The start request may have made a build that cannot be identified."""

    target: BuildTarget
    builds_url: str
    cause: CreateOutcomeUnknown


@dataclass(frozen=True)
class InternalError:
    """A bug of ours (or an answer nothing foresaw): its type and text."""

    kind: str
    text: str


# What a run can fail with: facts, worded by each front end (src/northflank_build/wording.py).
Failure = NorthflankError | BuildFailed | TimedOut | StartUnknown | InternalError


@dataclass(frozen=True)
class BuildReport:
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
    service_id: str = ""
    service_created: bool | None = None  # None: no service-spec
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
        if not (self.build and self.target and self.dashboard):
            return ""
        routes = Routes(self.project_id, self.team_id)
        return routes.dashboard_build(self.dashboard, self.target, self.build.id)


def report_for(config: ActionConfig, outcome: Outcome, **learned: Any) -> BuildReport:
    """The report of a run of ``config``: what the configuration says, and what was learned."""
    return BuildReport(
        outcome,
        project_id=config.project_id,
        team_id=config.team_id,
        target=config.target,
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


def outputs(report: BuildReport) -> dict[str, str]:
    build = report.build
    values = {
        "build-id": build.id if build else "",
        "status": (build.status or "") if build else "",
        "success": "true" if report.outcome is Outcome.SUCCEEDED else "false",
        "concluded": "true" if build and build.finished else "false",
        "registry-uri": (build.registry_uri or "") if build else "",
        "sha": (build.sha or "") if build else report.requested_sha,
        "branch": (build.branch or "") if build else report.requested_branch,
        "created-at": format_timestamp(build.created_datetime()) if build else "",
        "concluded-at": format_timestamp(build.concluded_datetime()) if build else "",
        "duration-seconds": duration_seconds(build, report.waited_s),
        "build-url": report.build_url,
        "service-id": report.service_id,
        "service-created": "true" if report.service_created else "false",
    }
    assert tuple(values) == OUTPUT_NAMES
    return values
