"""The step's outputs: one flat mapping shared by the action and the CLI's --json, with the
whole result as JSON (``result``), and the step's story in a few words."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from northflank_build.api.timestamps import format_timestamp
from northflank_build.engine.kind import Kind, OperationReport
from northflank_build.engine.kinds import REPORTED
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.report import BuildReport, StepReport, duration_seconds

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

BUILD_OUTPUTS = (
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
)
STEP_OUTPUTS = ("service-id", "service-created", "reused", "result", "deployed", "environment-url")
OUTPUT_NAMES = (
    BUILD_OUTPUTS + STEP_OUTPUTS + tuple(dict.fromkeys(n for k in REPORTED for n in k.outputs))
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
# Outputs that are booleans and numbers (strings to GitHub, typed in the CLI's --json).
BOOLEAN_OUTPUTS = ("success", "concluded", "service-created", "reused", "deployed")


def _slots(step: StepReport) -> list[tuple[Kind, OperationReport | None]]:
    """Each entry of ``result`` with the kind that fills it: the package's reported kinds,
    then any other kind the step ran. Kinds that share an entry (a release-flow run and a
    workflow run: "template-run") fill it with the one the step ran."""
    extra = [op.kind for op in step.operations if op.kind not in REPORTED]
    slots: dict[str, tuple[Kind, OperationReport | None]] = {}
    for kind in [*REPORTED, *dict.fromkeys(extra)]:
        op = step.operation(kind.name)
        if kind.result_name not in slots or op is not None:
            slots[kind.result_name] = (kind, op)
    return list(slots.values())


def build_values(report: BuildReport | None, succeeded: bool) -> dict[str, str]:
    """The per-build scalar outputs of one build (or of none: all empty)."""
    values = dict.fromkeys(BUILD_OUTPUTS, "")
    values["success"] = "true" if succeeded else "false"
    values["concluded"] = "false"
    if report is None:
        return values
    build = report.build
    values["sha"], values["branch"] = report.requested_sha, report.requested_branch
    values["duration-seconds"] = duration_seconds(build, report.waited_s)
    values["build-url"] = report.build_url
    if build is not None:
        values.update(_seen(build))
    return values


def _seen(build: Build) -> dict[str, str]:
    return {
        "build-id": build.id,
        "status": build.status or "",
        "concluded": "true" if build.finished else "false",
        "registry-uri": build.registry_uri or "",
        "sha": build.sha or "",
        "branch": build.branch or "",
        "created-at": format_timestamp(build.created_datetime()),
        "concluded-at": format_timestamp(build.concluded_datetime()),
    }


def _builds(step: StepReport) -> dict[str, str]:
    """The per-build outputs: one build's own; with several, empty but for success,
    concluded and status, which speak for all of them (``result`` has each)."""
    succeeded = step.outcome is Outcome.SUCCEEDED
    if len(step.builds) <= 1:
        return build_values(step.single_build, succeeded or _would_reuse(step))
    values = build_values(None, succeeded)
    failing = [b for b in step.builds if b.outcome is not Outcome.SUCCEEDED]
    concluded = all(b.build and b.build.finished for b in step.builds)
    values["concluded"] = "true" if concluded else "false"
    first = failing[0].build if failing else None
    values["status"] = "SUCCESS" if not failing else (first.status or "") if first else ""
    return values


def outputs(step: StepReport) -> dict[str, str]:
    """The step's outputs, every name on every path."""
    values = _builds(step)
    single = step.single_build
    target = single.target if single else None
    service_id = step.service_id or (target.id if target and target.kind == "service" else "")
    values["service-id"] = service_id if len(step.builds) <= 1 else ""
    values["service-created"] = _flag(bool(step.service_created))
    values["reused"] = _flag(bool(step.builds) and all(b.reused for b in step.builds))
    values["result"] = json.dumps(result(step), separators=(",", ":"))
    deployed = all(d.outcome is Outcome.SUCCEEDED for d in step.deployments)
    values["deployed"] = _flag(bool(step.deployments) and deployed)
    values["environment-url"] = environment_url(step)
    if not step.builds and step.operations:  # an operation alone: concluded is its own
        values["concluded"] = _flag(all(op.concluded for op in step.operations))
    for kind, op in _slots(step):
        values.update(kind.values(op))
    return values


def environment_url(step: StepReport) -> str:
    """The preview's URL, else the first public URL of the deployed services, else ""."""
    preview = step.operation("preview-run")
    found = preview.kind.values(preview).get("preview-url", "") if preview is not None else ""
    urls = [u for d in step.deployments for u in d.urls]
    return found or (urls[0] if urls else "")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def typed_outputs(step: StepReport) -> dict[str, Any]:
    """The outputs with their real types: booleans, a number (or null), ``result`` as an
    object; the rest strings."""
    values: dict[str, Any] = dict(outputs(step))
    for name in (*BOOLEAN_OUTPUTS, *(n for kind, _op in _slots(step) for n in kind.booleans)):
        values[name] = values[name] == "true"
    duration = values["duration-seconds"]
    values["duration-seconds"] = int(duration) if duration.isdigit() else None
    values["result"] = result(step)
    return values


def story(step: StepReport) -> str:
    """What the step did, in a few words, for every front end's last line: "build SUCCESS,
    2 of 2 deployed, job run SUCCESS"; "3 builds: 2 succeeded, 1 failed"; "no build"."""
    parts = [f"build service {step.service_id}"] if step.service_id else []
    parts += _builds_story(step)
    if step.deployments:
        deployed = sum(d.outcome is Outcome.SUCCEEDED for d in step.deployments)
        parts.append(f"{deployed} of {len(step.deployments)} deployed")
    parts += [op.kind.told(op) for op in step.operations]
    return ", ".join(parts) or "nothing started"


def _builds_story(step: StepReport) -> list[str]:
    if len(step.builds) > 1:
        counts: dict[str, int] = {}
        for report in step.builds:
            counts[report.outcome.value] = counts.get(report.outcome.value, 0) + 1
        each = ", ".join(f"{n} {what}" for what, n in counts.items())
        return [f"{len(step.builds)} builds: {each}"]
    single = step.single_build
    if single is None:
        return []
    if single.build is not None:
        return [f"build {single.build.id} {single.build.status or 'UNKNOWN'}"]
    label = single.target.label if single.target else ""
    dry = step.outcome is Outcome.DRY_RUN
    return [f"would build {label}" if dry and label else "no build"]


def _would_reuse(step: StepReport) -> bool:
    """A dry run that read a succeeded build it would use: its outputs say so."""
    single = step.single_build
    build = single.build if single is not None and single.reused else None
    return (
        step.outcome is Outcome.DRY_RUN and build is not None and build.finished and build.succeeded
    )


def result(step: StepReport) -> dict[str, Any]:
    """The whole result, for ``fromJSON`` in later steps."""
    whole: dict[str, Any] = {
        "success": step.outcome is Outcome.SUCCEEDED,
        "builds": [_result_entry(b) for b in step.builds],
        "deployments": [
            {
                "service-id": d.service_id,
                "status": d.status,
                "deployed-sha": d.deployed_sha,
                "urls": list(d.urls),
            }
            for d in step.deployments
        ],
    }
    for kind, op in _slots(step):
        whole[kind.result_name] = None if op is None else kind.result(op)
    return whole


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
