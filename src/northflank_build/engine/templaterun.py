"""A template run as a kind of operation (engine/kind.py): run a pipeline stage's release
flow or a workflow, follow it until Northflank says it has concluded, show its nodes as
they change, abort it (POST …/abort) on a cancel or timeout; and how the post step reaches
one (../shared/reference/northflank-api-deploy.md, section 4)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from northflank_build.api.adopt import Claim
from northflank_build.api.bodies import TemplateRunRequest
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import NorthflankError
from northflank_build.api.routes import BUILD_ID_PATTERN, TemplateTarget
from northflank_build.engine.context import StepContext
from northflank_build.engine.follow import ABORT_TIMEOUT_S
from northflank_build.engine.kind import (
    POST_ABORT_S,
    Kind,
    OperationReport,
    Part,
    Reached,
    Reaching,
    Record,
)
from northflank_build.engine.logs import LogFollower
from northflank_build.engine.outcome import Failure, OperationFailed
from northflank_build.engine.report import dashboard_base
from northflank_build.engine.schedule import Forecast
from northflank_build.inputs.fields import ID_PATTERN

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import TemplateRun

# The node statuses that end a node (get-release-flow-run's node enum).
ENDED = ("success", "failure", "skipped", "aborted")
# Statuses in which a run waits on a person or an event: said once, then waited on.
WAITING = ("approval_wait", "async_wait", "waiting")
QUICK_LOOK_S = 2.0
FORECAST_PAGE = 50
FORECAST_TIMEOUT_S = 5.0
STAGE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_RUN_ID = re.compile(BUILD_ID_PATTERN)


def target_of(owner: str) -> TemplateTarget | None:
    """The target a record names ("release-flow:web/staging", "workflow:deploy")."""
    flow, _, rest = owner.partition(":")
    if flow in ("workflow", "preview-blueprint") and ID_PATTERN.fullmatch(rest):
        return TemplateTarget(flow, rest)  # type: ignore[arg-type]
    pipeline, _, stage = rest.partition("/")
    if flow == "release-flow" and ID_PATTERN.fullmatch(pipeline) and STAGE_PATTERN.fullmatch(stage):
        return TemplateTarget("release-flow", pipeline, stage)
    return None


def owner_of(target: TemplateTarget) -> str:
    if target.flow in ("workflow", "preview-blueprint"):
        return f"{target.flow}:{target.id}"
    return f"release-flow:{target.id}/{target.stage}"


class TemplateRunKind(Kind):
    """A release-flow run or a workflow run: one kind each (the post step tells them
    apart), one entry in ``result`` ("template-run") and the same outputs."""

    result_key = "template-run"
    outputs: tuple[str, ...] = ("template-run-id", "template-run-status")

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self.name = f"{flow}-run"
        self.noun = f"{flow} run"
        self.title = self.noun.capitalize()

    def values(self, report: OperationReport | None) -> dict[str, str]:
        if report is None:
            return dict.fromkeys(self.outputs, "")
        return {"template-run-id": report.id, "template-run-status": report.status}

    def result(self, report: OperationReport) -> dict[str, Any]:
        target = target_of(report.owner)
        release = target is not None and target.flow == "release-flow"
        return {
            "kind": self.flow,
            "pipeline-id": target.id if release and target else None,
            "stage": target.stage if release and target else None,
            "workflow-id": target.id if target and not release else None,
            "run-id": report.id,
            "name": report.detail if isinstance(report.detail, str) else "",
            "status": report.status,
            "concluded": report.concluded,
            "success": report.outcome.value == "succeeded",
            "url": report.url,
            "nodes": [
                {"kind": p.kind, "ref": p.ref, "name": p.name, "status": p.status, "error": p.error}
                for p in report.parts
            ],
        }

    def detail(self, last: Any) -> Any:
        return last.name or ""

    def parts(self, last: Any) -> tuple[Part, ...]:
        return tuple(
            Part(n.kind, n.ref, n.name, n.status, n.duration_s, n.error) for n in last.nodes
        )

    def near_end(self, last: Any) -> bool:
        """Every node but the last has ended, and the last has started."""
        nodes = last.nodes
        if not nodes or not nodes[-1].status or last.finished:
            return False
        return all(n.status in ENDED for n in nodes[:-1])

    def duration(self, last: Any) -> float | None:
        started, concluded = last.started_datetime(), last.concluded_datetime()
        return (concluded - started).total_seconds() if started and concluded else None

    def owner_label(self, owner: str) -> str:
        target = target_of(owner)
        return target.label if target is not None else owner

    def short(self, owner: str) -> str:
        return owner.partition(":")[2]

    def reach(self, client: NorthflankClient, record: Record) -> Reached | None:
        target = target_of(record.owner)
        if target is None or not _RUN_ID.fullmatch(record.id):
            return None
        run_id, runs = record.id, client.templates
        return Reaching(
            lambda: runs.get(target, run_id),
            lambda: runs.abort(target, run_id, timeout=POST_ABORT_S),
        )

    def find(self, client: NorthflankClient, record: Record) -> Claim[Any] | None:
        target = target_of(record.owner)
        if target is None or record.sent_at is None or not record.name:
            return None
        found = client.templates.find_by_name(target, record.name, record.sent_at)
        return Claim(found)


RELEASE_FLOW_RUN = TemplateRunKind("release-flow")
WORKFLOW_RUN = TemplateRunKind("workflow")


def kind_of(target: TemplateTarget) -> TemplateRunKind:
    return WORKFLOW_RUN if target.flow == "workflow" else RELEASE_FLOW_RUN


@dataclass
class TemplateRunOperation:
    ctx: StepContext
    target: TemplateTarget
    run: TemplateRun
    note: Callable[[str], None]  # its listener's
    link: str
    kind: Kind = RELEASE_FLOW_RUN
    _nodes: dict[str, str] = field(default_factory=dict)  # node -> status as last said
    _waiting_said: bool = False

    @property
    def label(self) -> str:
        return f"run {self.run.id} of {self.target.label}"

    @property
    def owner(self) -> str:
        return self.target.label

    def read(self) -> TemplateRun:
        run = self.ctx.client.templates.get(self.target, self.run.id)
        self._tell(run)
        return run

    def _tell(self, run: TemplateRun) -> None:
        """A line per node whose status changed, and once that it waits on someone."""
        for node in run.nodes:
            key = f"{node.kind} {node.ref or node.name}".strip()
            if node.status and self._nodes.get(key) != node.status:
                self._nodes[key] = node.status
                self.note(f"Node {key}: {node.status}")
        if run.status in WAITING and not self._waiting_said:
            self._waiting_said = True
            self.note(
                f"The run is waiting for an approval in Northflank ({run.status}): {self.link}; "
                "waiting until timeout-seconds."
            )

    def abort(self) -> None:
        self.ctx.client.templates.abort(self.target, self.run.id, timeout=ABORT_TIMEOUT_S)

    def forecast(self) -> Forecast | None:
        """Recent runs of the same flow, as a build's forecast reads recent builds."""
        try:
            runs, _cursor = self.ctx.client.templates.page(
                self.target, per_page=FORECAST_PAGE, timeout=FORECAST_TIMEOUT_S
            )
        except NorthflankError:
            return None
        return Forecast.from_builds(runs, exclude=self.run.id)

    def open_logs(self) -> LogFollower | None:
        return None

    def failed(self, last: TemplateRun, log_shown: bool) -> Failure:
        failed = next((n for n in last.nodes if n.status == "failure"), None)
        cause = ""
        if failed is not None:
            cause = f"node {failed.kind} {failed.ref or failed.name}".rstrip()
            cause += f": {failed.error}" if failed.error else " failed"
        return OperationFailed(
            noun=self.kind.noun,
            subject=f"Run {last.name or last.id} of {self.target.label}",
            status=last.status or "",
            log_shown=False,
            look=f"Open the run on Northflank: {self.link}",
            cause=cause,
        )


@dataclass(frozen=True)
class TemplateRunStart:
    """One run of ``target`` with ``body``."""

    ctx: StepContext
    target: TemplateTarget
    body: TemplateRunRequest
    key: str = "template-run"
    output: str | None = "template-run-id"

    @property
    def kind(self) -> Kind:
        return kind_of(self.target)

    @property
    def owner(self) -> str:
        return owner_of(self.target)

    @property
    def owner_label(self) -> str:
        return self.target.label

    @property
    def sha(self) -> str:
        return self.ctx.config.sha or ""

    @property
    def run_name(self) -> str:
        return self.body.name

    @property
    def where(self) -> str:
        routes, config = self.ctx.client.routes, self.ctx.config
        return routes.dashboard_template_runs(
            dashboard_base(config.connection.api_url), self.target
        )

    def link(self, op_id: str) -> str:
        routes, config = self.ctx.client.routes, self.ctx.config
        base = dashboard_base(config.connection.api_url)
        return routes.dashboard_template_run(base, self.target, op_id)

    def announce(self) -> tuple[str, ...]:
        lines = [f"Starting a run of {self.target.label}, named {self.body.name!r}."]
        if self.body.arguments:
            lines.append("Arguments: " + ", ".join(sorted(self.body.arguments)) + ".")
        if self.body.overrides:
            lines.append("Overrides for: " + ", ".join(sorted(self.body.overrides)) + ".")
        return tuple(lines)

    def said_started(self, first: TemplateRun, adopted: bool) -> str:
        return f"Run {first.id} of {self.target.label} started: {self.link(first.id)}"

    def send(self) -> tuple[TemplateRun, bool]:
        return self.ctx.client.templates.start(self.target, self.body), False

    def find_lost(self, sent_at: float) -> Claim[TemplateRun]:
        found = self.ctx.client.templates.find_by_name(
            self.target, self.body.name, sent_at, timeout=QUICK_LOOK_S
        )
        return Claim(found)

    def operation(self, first: TemplateRun, note: Callable[[str], None]) -> TemplateRunOperation:
        return TemplateRunOperation(
            self.ctx, self.target, first, note, self.link(first.id), kind_of(self.target)
        )
