"""Projects, jobs and builds, and how a build's status follows from the time since it started."""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from .clock import RealClock, SimClock, iso
from .deploys import RolloutPlan, RunPlan, SimDeployment, SimRun
from .previews import Previews
from .templates import SimTemplateRun, TemplatePlan

__all__ = ["RealClock", "SimClock", "iso"]  # where the server and the tests import them from

ADJECTIVES = ("joyous", "brave", "calm", "eager", "gentle", "lively", "quiet", "swift", "witty")
NOUNS = ("view", "river", "forest", "meadow", "harbor", "summit", "valley", "canyon", "breeze")


@dataclass(frozen=True)
class BuildPlan:
    """The statuses a build goes through, each for so many seconds, then its outcome."""

    phases: tuple[tuple[str, float], ...] = (
        ("PENDING", 0.3),
        ("STARTING", 0.3),
        ("CLONING", 0.3),
        ("BUILDING", 0.8),
        ("UPLOADING", 0.3),
    )
    outcome: str = "SUCCESS"
    message: str | None = None
    branch: str = "main"
    # Extra log lines the build prints while BUILDING (e.g. hostile text for tests).
    log_extra: tuple[str, ...] = ()
    lines_per_second: float = 4.0

    @property
    def duration(self) -> float:
        return sum(seconds for _, seconds in self.phases)

    def lasting(self, seconds: float) -> BuildPlan:
        """The same phases in the same proportions, lasting ``seconds`` in all."""
        factor = seconds / self.duration
        return replace(self, phases=tuple((status, s * factor) for status, s in self.phases))

    @classmethod
    def parse(cls, text: str, outcome: str = "SUCCESS") -> BuildPlan:
        """``PENDING:1,BUILDING:5`` as on the simulator's command line."""
        phases = []
        for part in text.split(","):
            status, _, seconds = part.partition(":")
            phases.append((status.strip(), float(seconds or 1)))
        return cls(phases=tuple(phases), outcome=outcome)


def head_sha(job: str) -> str:
    return hashlib.sha1(job.encode(), usedforsecurity=False).hexdigest()


@dataclass
class SimBuild:
    id: str
    project: str
    team: str | None
    kind: str
    resource: str
    sha: str
    branch: str
    created_wall: float
    created_mono: float
    plan: BuildPlan
    body: dict[str, Any]
    pull_request_id: int | str | None = None
    aborted_mono: float | None = None
    aborted_wall: float | None = None
    # Fields answered as given, over the modelled ones (tests: odd or hostile values).
    fields: dict[str, Any] = field(default_factory=dict)

    def view(self, now: float) -> dict[str, Any]:
        status, concluded, concluded_wall = self._status(now)
        data: dict[str, Any] = {
            "id": self.id,
            "branch": self.branch,
            "pullRequestId": self.pull_request_id,
            "sha": self.sha,
            "createdAt": iso(self.created_wall),
            "status": status,
            "concluded": concluded,
        }
        if concluded:
            data["success"] = status == "SUCCESS"
            data["buildConcludedAt"] = round(concluded_wall, 3)
            if status == "SUCCESS":
                data["message"] = self.plan.message or "Image successfully built"
                # The registry path format is not documented (../shared/reference/northflank-api.md, open question 3); a guess.
                owner = self.team or "team"
                data["registry"] = {
                    "uri": f"registry.northflank.com/{owner}/{self.project}/{self.resource}:{self.id}"
                }
            elif status == "ABORTED":
                data["message"] = "Build aborted"
            else:
                data["message"] = self.plan.message or "Build failed: RUN npm ci exited with code 1"
        else:
            data["success"] = False
        return {**data, **self.fields}

    def _status(self, now: float) -> tuple[str, bool, float]:
        if self.aborted_mono is not None and self.aborted_mono <= now:
            return "ABORTED", True, self.aborted_wall or self.created_wall
        elapsed = now - self.created_mono
        for status, seconds in self.plan.phases:
            if elapsed < seconds:
                return status, False, 0.0
            elapsed -= seconds
        return self.plan.outcome, True, self.created_wall + self.plan.duration

    def concluded(self, now: float) -> bool:
        return self._status(now)[1]

    def log_lines(self, now: float) -> list[dict[str, Any]]:
        """The build's log up to ``now``: a line per phase, then steady output while building.

        Lines look like the container logs the real API returns (``stdout F <text>``).
        """
        end = now - self.created_mono
        if self.aborted_mono is not None:
            end = min(end, self.aborted_mono - self.created_mono)
        lines: list[tuple[float, str]] = []
        offset = 0.0
        extra = list(self.plan.log_extra)
        for status, seconds in self.plan.phases:
            lines.append((offset, f"==> {status.lower()}"))
            if status in ("BUILDING", "CLONING") and self.plan.lines_per_second > 0:
                step = 1.0 / self.plan.lines_per_second
                count = int(seconds / step)
                for n in range(1, count):
                    text = (
                        extra.pop(0)
                        if extra and status == "BUILDING"
                        else f"#{n} [{status.lower()}] step {n}/{count - 1} done"
                    )
                    lines.append((offset + n * step, text))
            offset += seconds
        if self.aborted_mono is None:
            lines.append((offset, f"==> {self.plan.outcome.lower()}"))
        return [
            {
                "containerId": f"{self.id}-build",
                "log": f"stdout F {text}",
                "ts": iso(self.created_wall + at),
            }
            for at, text in lines
            if at <= end
        ]


@dataclass(frozen=True)
class DurationMix:
    """Build durations drawn from a log-normal distribution (for the benchmarks)."""

    median_s: float
    sigma: float = 0.1

    def draw(self, rng: random.Random) -> float:
        return self.median_s * rng.lognormvariate(0.0, self.sigma)


@dataclass
class World:
    """What exists on the simulated Northflank."""

    projects: dict[str, set[str]] = field(
        default_factory=lambda: {"demo-project": {"demo-job", "other-job"}}
    )
    # Services by project: id -> the service as GET returns it.
    services: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {
            "demo-project": {
                "demo-service": {
                    "id": "demo-service",
                    "name": "demo-service",
                    "serviceType": "build",
                },
                "demo-combined": {
                    "id": "demo-combined",
                    "name": "demo-combined",
                    "serviceType": "combined",
                },
            }
        }
    )
    teams: set[str] = field(default_factory=lambda: {"demo-team"})
    plan: BuildPlan = field(default_factory=BuildPlan)
    # A plan for the builds of one job or service (by id), instead of ``plan``.
    plans: dict[str, BuildPlan] = field(default_factory=dict)
    builds: list[SimBuild] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    # When set, each new build lasts a duration drawn from it (phases scaled in proportion).
    durations: DurationMix | None = None
    # The list endpoint's order is undocumented (../shared/reference/northflank-api.md, list builds); False lists oldest first.
    list_newest_first: bool = True
    # Real time over HTTP; a virtual clock in process (tests run in virtual time).
    clock: SimClock = field(default_factory=RealClock)
    # Deployment services by project (created in __post_init__), their rollouts' timing,
    # and those whose rollouts fail (fault injection).
    deployments: dict[str, dict[str, SimDeployment]] = field(default_factory=dict)
    rollout: RolloutPlan = field(default_factory=RolloutPlan)
    rollout_failures: set[str] = field(default_factory=set)
    runs: list[SimRun] = field(default_factory=list)
    run_plan: RunPlan = field(default_factory=RunPlan)
    run_plans: dict[str, RunPlan] = field(default_factory=dict)  # by job id
    sequential_ids: bool = False  # build-1, build-2, ... instead of Northflank-like names (tests)
    # Release flows (a pipeline's stages) and workflows, by project (nfsim/templates.py).
    pipelines: dict[str, dict[str, set[str]]] = field(
        default_factory=lambda: {
            "demo-project": {"demo-pipeline": {"development", "staging", "production"}}
        }
    )
    workflows: dict[str, set[str]] = field(
        default_factory=lambda: {"demo-project": {"demo-workflow"}}
    )
    template_runs: list[SimTemplateRun] = field(default_factory=list)
    template_plan: TemplatePlan = field(default_factory=TemplatePlan)
    template_plans: dict[str, TemplatePlan] = field(default_factory=dict)  # by pipeline or workflow
    previews: Previews = field(default_factory=Previews)  # preview blueprints (nfsim/previews.py)

    def __post_init__(self) -> None:
        if not self.deployments:
            for service_id, instances in (("demo-web", 2), ("demo-worker", 1)):
                self.add_deployment("demo-project", service_id, instances)
        self.projects.setdefault("demo-project", set()).add("demo-migrate")

    def add_deployment(self, project: str, service_id: str, instances: int = 1) -> SimDeployment:
        """A deployment service, running an older commit since before now."""
        deployment = SimDeployment(
            service_id, project, instances, head_sha(f"{service_id}-old"),
            self.clock.monotonic() - 3600.0, plan=self.rollout,
        )  # fmt: skip
        self.deployments.setdefault(project, {})[service_id] = deployment
        return deployment

    def start_run(self, project: str, job: str, body: dict[str, Any]) -> SimRun:
        run_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        run = SimRun(
            run_id, project, job, body, self.clock.monotonic(), self.clock.wall(),
            self.run_plans.get(job, self.run_plan),
        )  # fmt: skip
        self.runs.append(run)
        return run

    def find_run(self, project: str, job: str, run_id: str) -> SimRun | None:
        for run in self.runs:
            if run.id == run_id and run.project == project and run.job == job:
                return run
        return None

    def new_build_id(self) -> str:
        if self.sequential_ids:
            return f"build-{len(self.builds) + 1}"
        taken = {b.id for b in self.builds}
        while True:
            candidate = f"{self.rng.choice(ADJECTIVES)}-{self.rng.choice(NOUNS)}-{self.rng.randint(1000, 9999)}"
            if candidate not in taken:
                return candidate

    def plan_for(self, resource: str) -> BuildPlan:
        plan = self.plans.get(resource, self.plan)
        return plan.lasting(self.durations.draw(self.rng)) if self.durations else plan

    def start(
        self, project: str, team: str | None, kind: str, resource: str, body: dict[str, Any]
    ) -> SimBuild:
        return self._new_build(
            project, team, kind, resource, body.get("sha") or head_sha(resource), body,
            branch=body.get("branch"), pull_request_id=body.get("pullRequestId"),
        )  # fmt: skip

    def add_build(
        self,
        project: str,
        kind: str,
        resource: str,
        sha: str,
        *,
        started_ago_s: float,
        plan: BuildPlan | None = None,
        build_id: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> SimBuild:
        """A build started elsewhere (Northflank's own CI, another workflow) ``started_ago_s``
        seconds ago: concluded by now or still running, as its plan says. ``build_id`` and
        ``fields`` (answered over the modelled ones) are for tests."""
        build = self._new_build(
            project, None, kind, resource, sha, {"sha": sha}, ago=started_ago_s, plan=plan
        )
        if build_id is not None:
            build.id = build_id
        build.fields.update(fields or {})
        return build

    def _new_build(
        self,
        project: str,
        team: str | None,
        kind: str,
        resource: str,
        sha: str,
        body: dict[str, Any],
        *,
        branch: str | None = None,
        pull_request_id: int | str | None = None,
        ago: float = 0.0,
        plan: BuildPlan | None = None,
    ) -> SimBuild:
        build = SimBuild(
            id=self.new_build_id(),
            project=project,
            team=team,
            kind=kind,
            resource=resource,
            sha=sha,
            branch=branch or self.plan.branch,
            pull_request_id=pull_request_id,
            created_wall=self.clock.wall() - ago,
            created_mono=self.clock.monotonic() - ago,
            plan=plan or self.plan_for(resource),
            body=body,
        )
        self.builds.append(build)
        return build

    def add_history(
        self, project: str, kind: str, resource: str, durations: list[float], gap_s: float = 600.0
    ) -> None:
        """Successful builds that concluded before now, oldest first, ``gap_s`` apart."""
        wall, mono = self.clock.wall(), self.clock.monotonic()
        for age, seconds in enumerate(reversed(durations), start=1):
            ago = age * gap_s + seconds
            self.builds.append(
                SimBuild(
                    id=self.new_build_id(),
                    project=project,
                    team=None,
                    kind=kind,
                    resource=resource,
                    sha=head_sha(f"{resource}-{age}"),
                    branch=self.plan.branch,
                    created_wall=wall - ago,
                    created_mono=mono - ago,
                    plan=replace(self.plan.lasting(seconds), outcome="SUCCESS"),
                    body={},
                )
            )

    def newest_succeeded_sha(self, project: str, resource: str, now: float) -> str | None:
        """The commit of the newest build of ``resource`` that concluded with success."""
        done = [
            b for b in self.builds
            if b.project == project and b.resource == resource
            and b.view(now).get("status") == "SUCCESS"
        ]  # fmt: skip
        return max(done, key=lambda b: b.created_wall).sha if done else None

    def find(self, project: str, resource: str, build_id: str) -> SimBuild | None:
        for build in self.builds:
            if build.id == build_id and build.project == project and build.resource == resource:
                return build
        return None
