"""Deployment services and job runs on the simulated Northflank, and how their state follows
from the time since a deploy or a run started
(../shared/reference/northflank-api-deploy.md, sections 1 to 3).

A rollout goes PENDING, then IN_PROGRESS, then COMPLETED (``deployedSHA`` becomes the new
commit) or FAILED (``deployedSHA`` stays): what section 2.4 infers, made the simulator's
behaviour. ``status.deployment.lastTransitionTime`` is when the current status began.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .clock import SimClock, iso


@dataclass(frozen=True)
class RolloutPlan:
    pending_s: float = 0.5
    in_progress_s: float = 2.0


@dataclass
class SimDeployment:
    """A deployment service and its last rollout."""

    id: str
    project: str
    instances: int
    deployed_sha: str
    created_mono: float
    source: dict[str, Any] = field(default_factory=dict)  # deployment.internal as last set
    rollout_mono: float | None = None
    rollout_sha: str = ""
    rollout_fails: bool = False
    plan: RolloutPlan = field(default_factory=RolloutPlan)
    patches: int = 0
    reason: str = "DEPLOYING"  # status.deployment.reason: DEPLOYING or SCALING

    def _state(self, now: float) -> tuple[str, float, str]:
        """(status, when it began (monotonic), the deployed sha)."""
        if self.rollout_mono is None:
            return "COMPLETED", self.created_mono, self.deployed_sha
        elapsed = now - self.rollout_mono
        if elapsed < self.plan.pending_s:
            return "PENDING", self.rollout_mono, self.deployed_sha
        if elapsed < self.plan.pending_s + self.plan.in_progress_s:
            return "IN_PROGRESS", self.rollout_mono + self.plan.pending_s, self.deployed_sha
        ended = self.rollout_mono + self.plan.pending_s + self.plan.in_progress_s
        if self.rollout_fails:
            return "FAILED", ended, self.deployed_sha
        return "COMPLETED", ended, self.rollout_sha

    def settle(self, now: float) -> None:
        """Fold a finished rollout into the service before the next one starts."""
        status, _, sha = self._state(now)
        if status in ("COMPLETED", "FAILED"):
            self.deployed_sha = sha

    def view(self, clock: SimClock) -> dict[str, Any]:
        now = clock.monotonic()
        status, since, sha = self._state(now)
        wall = clock.wall() - (now - since)
        internal = {
            "nfObjectId": self.source.get("id", ""),
            "nfObjectType": "service",
            "repository": "",
            "branch": self.source.get("branch", ""),
            "buildSHA": self.source.get("buildSHA", sha),
            "deployedSHA": sha,
        }
        created = clock.wall() - (now - self.created_mono)
        # The fields GET service marks required in the official types
        # (../shared/reference/northflank-api-deploy.md section 2.1), with the simulator's values.
        return {
            "id": self.id,
            "appId": f"/{self.project}/{self.id}",
            "name": self.id,
            "tags": [],
            "projectId": self.project,
            "serviceType": "deployment",
            "createdAt": iso(created),
            "disabledCI": False,
            "disabledCD": False,
            "billing": {"deploymentPlan": "nf-compute-20"},
            "servicePaused": False,
            # A web service has a public HTTP port (the environment-url of a deploy).
            "ports": []
            if "worker" in self.id
            else [
                {
                    "id": "p-1",
                    "name": "http",
                    "internalPort": 8080,
                    "protocol": "HTTP",
                    "public": True,
                    "dns": f"p01--{self.id}--{self.project}--sim.code.run",
                }
            ],
            "cluster": {"id": "nfsim", "name": "nfsim", "namespace": self.project},
            "status": {
                "deployment": {
                    "status": status,
                    "reason": self.reason,
                    "lastTransitionTime": iso(wall),
                }
            },
            "deployment": {"instances": self.instances, "internal": internal},
        }

    def patch(
        self, now: float, deployment: dict[str, Any], fails: bool, latest: str | None = None
    ) -> None:
        """Set the source and start its rollout; ``latest``: the commit that buildSHA
        "latest" means now (the newest succeeded build of the build service)."""
        self.settle(now)
        self.patches += 1
        scaling = deployment["instances"] != self.instances
        self.instances = deployment["instances"]
        internal = deployment.get("internal")
        if isinstance(internal, dict):
            # A PATCH that sets the source it already has changes nothing: no rollout, no
            # transition (issue 18's finding, what a Kubernetes-backed service does).
            unchanged = {k: internal.get(k) for k in ("id", "buildSHA")} == {
                k: self.source.get(k) for k in ("id", "buildSHA")
            }
            if unchanged and self._state(now)[0] in ("COMPLETED", "FAILED"):
                self.reason = "SCALING" if scaling else self.reason
                return
            self.reason = "DEPLOYING"
            self.source = dict(internal)
            self.rollout_mono = now
            wanted = internal.get("buildSHA")
            self.rollout_sha = (latest if wanted == "latest" else wanted) or self.deployed_sha
            self.rollout_fails = fails


@dataclass(frozen=True)
class RunPlan:
    duration_s: float = 2.0
    outcome: str = "SUCCESS"
    lines_per_second: float = 2.0


@dataclass
class SimRun:
    id: str
    project: str
    job: str
    body: dict[str, Any]
    started_mono: float
    started_wall: float
    plan: RunPlan
    aborted_mono: float | None = None

    def _status(self, now: float) -> tuple[str, bool, float]:
        """(status, concluded, when it concluded (monotonic))."""
        if self.aborted_mono is not None and self.aborted_mono <= now:
            # What an aborted run reports is undocumented (reference, open question 6):
            # here FAILED, concluded.
            return "FAILED", True, self.aborted_mono
        end = self.started_mono + self.plan.duration_s
        if now < end:
            return "RUNNING", False, 0.0
        return self.plan.outcome, True, end

    def concluded(self, now: float) -> bool:
        return self._status(now)[1]

    def view(self, now: float) -> dict[str, Any]:
        status, concluded, at = self._status(now)
        return {
            "id": self.id,
            "runName": f"{self.job}-{self.id[:8]}",
            "status": status,
            "concluded": concluded,
            "active": 0 if concluded else 1,
            "failed": 1 if status == "FAILED" else 0,
            "succeeded": 1 if status == "SUCCESS" else 0,
            "backoffLimit": 0,
            "completions": 1 if concluded else 0,
            "startedAt": iso(self.started_wall),
            "concludedAt": iso(self.started_wall + (at - self.started_mono)) if concluded else None,
        }

    def log_lines(self, now: float) -> list[dict[str, Any]]:
        end = now - self.started_mono
        if self.aborted_mono is not None:
            end = min(end, self.aborted_mono - self.started_mono)
        lines: list[tuple[float, str]] = [(0.0, "==> running")]
        if self.plan.lines_per_second > 0:
            step = 1.0 / self.plan.lines_per_second
            count = int(self.plan.duration_s / step)
            lines += [(n * step, f"migration {n}/{count - 1} applied") for n in range(1, count)]
        if self.aborted_mono is None:
            lines.append((self.plan.duration_s, f"==> {self.plan.outcome.lower()}"))
        return [
            {"containerId": f"{self.id}-run", "log": f"stdout F {text}",
             "ts": iso(self.started_wall + at)}
            for at, text in lines
            if at <= end
        ]  # fmt: skip
