"""What a run learned, as values: each target's build as last seen (BuildReport), each
deployment service's rollout (DeploymentReport), each other operation (engine/kind.py:
OperationReport), and the step as a whole (StepReport: its outcome and exit code).
The step's outputs are made from it in engine/outputs.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from northflank_build.api.routes import BuildTarget, Routes
from northflank_build.engine.kind import OperationReport, Record
from northflank_build.engine.outcome import Failure, Outcome
from northflank_build.inputs.fields import DEFAULT_API_URL

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build


@dataclass(frozen=True)
class Place:
    """Where a step's builds live: the project, the team, and the dashboard's address."""

    project_id: str = ""
    team_id: str | None = None
    dashboard: str = ""

    @staticmethod
    def of(project_id: str, team_id: str | None, api_url: str) -> Place:
        return Place(project_id, team_id, dashboard_base(api_url))


@dataclass(frozen=True)
class DeploymentReport:
    """One deployment service pointed at the build: its rollout as last seen."""

    service_id: str
    outcome: Outcome
    status: str = ""  # status.deployment.status as last seen (COMPLETED, FAILED, ...)
    deployed_sha: str = ""
    failure: Failure | None = None
    urls: tuple[str, ...] = ()  # the public URLs GET service showed after the rollout


@dataclass(frozen=True)
class BuildReport:
    """One target's build: how it ended and what was seen of it."""

    outcome: Outcome
    place: Place = Place()
    target: BuildTarget | None = None
    build: Build | None = None
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
    leftover: Record | None = None  # what the post step must look after, if anything

    @property
    def project_id(self) -> str:
        return self.place.project_id

    @property
    def builds_url(self) -> str:
        """The dashboard page of the target's builds."""
        if not (self.target and self.place.dashboard):
            return ""
        routes = Routes(self.place.project_id, self.place.team_id)
        return routes.dashboard_builds(self.place.dashboard, self.target)

    @property
    def build_url(self) -> str:
        return self.link(self.build.id) if self.build else ""

    def link(self, build_id: str) -> str:
        """The dashboard page of one build of the target."""
        if not (self.target and self.place.dashboard):
            return ""
        routes = Routes(self.place.project_id, self.place.team_id)
        return routes.dashboard_build(self.place.dashboard, self.target, build_id)


@dataclass(frozen=True)
class StepReport:
    """The step: each target's report in the order given, the deployments and the other
    operations (a job run), and what ended the step besides them (the build service of
    service-spec, a bug of ours)."""

    outcome: Outcome
    builds: tuple[BuildReport, ...] = ()
    failure: Failure | None = None
    service_id: str = ""
    service_created: bool | None = None  # None: no service-spec
    deployments: tuple[DeploymentReport, ...] = ()
    operations: tuple[OperationReport, ...] = ()

    @property
    def single_build(self) -> BuildReport | None:
        """The build of a one-target step."""
        return self.builds[0] if len(self.builds) == 1 else None

    def operation(self, kind_name: str) -> OperationReport | None:
        """The operation of that kind (a step runs one of each at most)."""
        return next((op for op in self.operations if op.kind.name == kind_name), None)

    @property
    def failures(self) -> list[Failure]:
        found = [b.failure for b in self.builds if b.failure is not None]
        found += [d.failure for d in self.deployments if d.failure is not None]
        found += [op.failure for op in self.operations if op.failure is not None]
        return ([self.failure] if self.failure is not None else []) + found

    @property
    def leftovers(self) -> list[Record]:
        """What the post step must look after (github/state.py records it)."""
        found = [b.leftover for b in self.builds if b.leftover is not None]
        return found + [op.leftover for op in self.operations if op.leftover is not None]


def dashboard_base(api_url: str) -> str:
    """The Northflank dashboard that goes with an API URL (api.X -> app.X)."""
    if api_url.rstrip("/") == DEFAULT_API_URL:
        return "https://app.northflank.com"
    parts = urlsplit(api_url)
    host = parts.netloc
    if host.startswith("api."):
        return f"{parts.scheme}://app.{host[4:]}"
    return api_url.rstrip("/")  # the simulator serves the dashboard paths itself


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
