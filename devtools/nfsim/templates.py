"""Release flows and workflows in the simulator (../shared/reference/northflank-api-deploy.md,
section 4): the pipeline ``demo-pipeline`` (stages development, staging, production) and the
workflow ``demo-workflow``. A run goes queued, then running through a small node tree
(a build, an optional approval, a release, a condition), to success over a few seconds;
abort makes it ``aborting``, then ``aborted``. Faults (``TemplatePlan``): the POST answered
without a body or without an id, an approval wait of N seconds, a node that fails; the run
list comes newest first unless ``World.list_newest_first`` says otherwise.

Node statuses come from the node enum of get-release-flow-run (waiting, success, failure,
aborted, approval_wait, skipped, ...): a node not reached yet has no ``response``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs

from .clock import iso

if TYPE_CHECKING:
    from .state import World

ABORTING_S = 0.5  # how long a run shows "aborting" before "aborted"
NODES = (("Build", "build", "demo-service"), ("Release", "release", "demo-web"),
         ("Condition", "check", "demo-web"))  # fmt: skip
ROUTE_PATTERNS = {
    "release-flow": r"/pipelines/(?P<res>[^/]+)/release-flows/(?P<stage>[^/]+)/runs",
    "workflow": r"/workflows/(?P<res>[^/]+)/runs",
    "preview-blueprint": r"/preview-(?P<blueprint>blueprints)/(?P<res>[^/]+)/runs",
}


@dataclass(frozen=True)
class TemplatePlan:
    """How a template run goes: queued this long, then each node in turn; ``approval_s``
    of approval_wait before the release node; ``fails`` the ref of a node that fails;
    ``answer`` what the run POST answers: the run, a body without its id, or no body."""

    queued_s: float = 0.5
    node_s: float = 1.0
    approval_s: float = 0.0
    fails: str | None = None
    answer: Literal["run", "no-id", "empty"] = "run"


@dataclass
class SimTemplateRun:
    id: str
    project: str
    flow: str  # "release-flow" or "workflow"
    resource: str  # the pipeline's id, or the workflow's
    stage: str
    body: dict[str, Any]
    created_mono: float
    created_wall: float
    plan: TemplatePlan
    aborted_mono: float | None = None
    nodes_done: list[str] = field(default_factory=list)

    def _timeline(self) -> list[tuple[str, str, float, float]]:
        """(ref, status while running, start, end) of each node, from the creation."""
        at = self.plan.queued_s
        out = []
        for _kind, ref, _name in NODES:
            if ref == "release" and self.plan.approval_s:
                out.append(("release", "approval_wait", at, at + self.plan.approval_s))
                at += self.plan.approval_s
            out.append((ref, "waiting", at, at + self.plan.node_s))
            at += self.plan.node_s
        return out

    def _end(self) -> tuple[str, float]:
        """How and when (seconds after creation) the run ends, left alone."""
        for ref, _status, _start, end in self._timeline():
            if ref == self.plan.fails:
                return "failure", end
        return "success", self._timeline()[-1][3]

    def status(self, now: float) -> tuple[str, bool, float | None]:
        """(status, concluded, when it concluded: monotonic)."""
        t = now - self.created_mono
        outcome, end = self._end()
        if self.aborted_mono is not None and self.aborted_mono - self.created_mono < end:
            if now < self.aborted_mono + ABORTING_S:
                return "aborting", False, None
            return "aborted", True, self.aborted_mono + ABORTING_S
        if t >= end:
            return outcome, True, self.created_mono + end
        if t < self.plan.queued_s:
            return "queued", False, None
        waiting = any(s == "approval_wait" and a <= t < b for _r, s, a, b in self._timeline())
        return ("approval_wait" if waiting else "running"), False, None

    def _node(self, kind: str, ref: str, name: str, now: float) -> dict[str, Any]:
        t = now - self.created_mono
        stop = self.aborted_mono - self.created_mono if self.aborted_mono is not None else None
        spans = [(s, a, b) for r, s, a, b in self._timeline() if r == ref]
        start, end = spans[0][1], spans[-1][2]
        node: dict[str, Any] = {"kind": kind, "ref": ref, "spec": {"name": name}}
        if t < start or (stop is not None and stop < start):
            return node  # not reached (yet, or ever)
        wall = self.created_wall - self.created_mono
        response: dict[str, Any] = {"startTime": round((wall + self.created_mono + start) * 1000)}
        failed_before = self.plan.fails is not None and any(
            r == self.plan.fails and b <= start for r, _s, _a, b in self._timeline()
        )
        if failed_before:
            return {**node, "response": {"status": "skipped"}}
        if stop is not None and stop < end and t >= stop:
            response["status"] = "aborted"
        elif t >= end:
            response["endTime"] = round((wall + self.created_mono + end) * 1000)
            if ref == self.plan.fails:
                response["status"] = "failure"
                response["error"] = {"code": 1, "message": f"{name}: exited with code 1"}
            else:
                response["status"] = "success"
        else:
            response["status"] = next(s for s, a, b in spans if a <= t < b)
        return {**node, "response": response}

    def view(self, now: float, *, full: bool = True) -> dict[str, Any]:
        status, concluded, at = self.status(now)
        started = self.created_wall + self.plan.queued_s
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.body.get("name"),
            "description": self.body.get("description"),
            "status": status,
            "concluded": concluded,
            # The reference's examples write a space where ISO 8601 has a T.
            "createdAt": _spaced(self.created_wall),
            "updatedAt": _spaced(self.created_wall + (now - self.created_mono)),
        }
        if now - self.created_mono >= self.plan.queued_s:
            data["startedAt"] = _spaced(started)
        if concluded and at is not None:
            data["concludedAt"] = _spaced(self.created_wall + (at - self.created_mono))
        if not full:
            return {k: v for k, v in data.items() if v is not None}
        steps = [self._node(kind, ref, name, now) for kind, ref, name in NODES]
        data.update(
            apiVersion="v1.2",
            arguments=self.body.get("arguments", {}),
            spec={"kind": "Workflow", "spec": {"type": "sequential", "steps": steps}},
        )
        return {k: v for k, v in data.items() if v is not None}


def _spaced(wall: float) -> str:
    return iso(wall).replace("T", " ")


def routes(prefix: str) -> list[tuple[str, str, re.Pattern[str]]]:
    """The routes of both flows: a match with a ``stage`` group is a release flow's."""
    found = []
    for path in ROUTE_PATTERNS.values():
        base = prefix + path
        found += [
            ("tpl_start", "POST", re.compile(base + "$")),
            ("tpl_list", "GET", re.compile(base + "$")),
            ("tpl_get", "GET", re.compile(base + r"/(?P<run>[^/]+)$")),
            ("tpl_abort", "POST", re.compile(base + r"/(?P<run>[^/]+)/abort$")),
        ]
    return found


def known(world: World, project: str, flow: str, resource: str, stage: str) -> str | None:
    """Why the target does not exist, or None."""
    if flow == "preview-blueprint":
        return world.previews.known(project, resource)
    if flow == "workflow":
        return (
            None
            if resource in world.workflows.get(project, set())
            else f"Workflow {resource} not found"
        )
    stages = world.pipelines.get(project, {}).get(resource)
    if stages is None:
        return f"Pipeline {resource} not found"
    return None if stage in stages else f"Stage {stage} not found in pipeline {resource}"


def start(world: World, project: str, flow: str, resource: str, stage: str,
          body: dict[str, Any], now: float, wall: float) -> SimTemplateRun:  # fmt: skip
    run = SimTemplateRun(
        str(uuid.UUID(int=world.rng.getrandbits(128), version=4)), project, flow, resource,
        stage, body, now, wall, world.template_plans.get(resource, world.template_plan),
    )  # fmt: skip
    world.template_runs.append(run)
    return run


def find(world: World, project: str, flow: str, resource: str, stage: str, run_id: str) -> SimTemplateRun | None:  # fmt: skip
    for run in world.template_runs:
        if (run.id, run.project, run.flow, run.resource, run.stage) == (
            run_id, project, flow, resource, stage,
        ):  # fmt: skip
            return run
    return None


def page(world: World, project: str, flow: str, resource: str, stage: str, query: str,
         now: float) -> dict[str, Any]:  # fmt: skip
    """A page of the runs: ``per_page`` (at most 100), ``cursor``, and for release flows the
    ``concluded`` and ``status`` filters."""
    params = parse_qs(query)
    per_page = max(1, min(100, int(params.get("per_page", ["50"])[0] or 50)))
    offset = int(params.get("cursor", ["0"])[0] or 0)
    mine = [
        r for r in world.template_runs
        if (r.project, r.flow, r.resource, r.stage) == (project, flow, resource, stage)
    ]  # fmt: skip
    mine.sort(key=lambda r: r.created_mono, reverse=world.list_newest_first)
    if flow != "workflow" and "concluded" in params:
        wanted = params["concluded"][0] == "true"
        mine = [r for r in mine if r.status(now)[1] == wanted]
    if flow != "workflow" and "status" in params:
        mine = [r for r in mine if r.status(now)[0] == params["status"][0]]
    runs = [r.view(now, full=False) for r in mine[offset : offset + per_page]]
    more = len(mine) > offset + per_page
    pagination: dict[str, Any] = {"hasNextPage": more, "count": len(runs)}
    if more:
        pagination["cursor"] = f"{offset + per_page:024d}"
    return {"data": {"runs": runs}, "pagination": pagination}


def add_history(
    world: World, project: str, flow: str, resource: str, stage: str, durations: list[float],
    gap_s: float = 3600.0,
) -> None:  # fmt: skip
    """Runs that succeeded before now, oldest first, ``gap_s`` apart, each lasting as given
    (for the forecast of benches and tests)."""
    now, wall = world.clock.monotonic(), world.clock.wall()
    for age, seconds in enumerate(reversed(durations), start=1):
        ago = age * gap_s + seconds
        plan = TemplatePlan(queued_s=0.0, node_s=seconds / len(NODES))
        world.template_runs.append(
            SimTemplateRun(
                str(uuid.UUID(int=world.rng.getrandbits(128), version=4)), project, flow,
                resource, stage, {"name": f"earlier {age}"}, now - ago, wall - ago, plan,
            )
        )  # fmt: skip
