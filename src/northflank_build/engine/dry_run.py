"""The dry run: validate the inputs and show what would be sent, with secrets redacted.

The one rule (README, the CLI's --help and the inputs table say the same): nothing that
changes anything is sent. Without a token nothing at all is sent (pull requests from forks
can run it); with a token and reuse or build-id, the target's builds are read (GET only) to
say whether one would be reused, and the outputs then describe that build."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from northflank_build.api.bodies import (
    InternalDeployment,
    StartJobRunRequest,
    patch_deployment_body,
)
from northflank_build.api.client import NorthflankClient
from northflank_build.api.errors import NorthflankError
from northflank_build.api.routes import BuildTarget, Routes
from northflank_build.engine.events import Events
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.report import BuildReport, Place, StepReport
from northflank_build.inputs.config import ActionConfig, GivenBuild, Reuse

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

SECRET_MAPS = ("buildFiles", "dockerSecretMounts")


def redacted(body: dict[str, Any]) -> dict[str, Any]:
    """A request body safe to print: secret file and mount contents replaced."""
    out = dict(body)
    holder = out.get("overrides") if "overrides" in out else out
    if isinstance(holder, dict):
        holder = dict(holder)
        for key in SECRET_MAPS:
            if isinstance(holder.get(key), dict):
                holder[key] = {name: {"data": "***", "encoding": "utf-8"} for name in holder[key]}
        if "overrides" in out:
            out["overrides"] = holder
        else:
            out = holder
    return out


def dry_run(
    config: ActionConfig, events: Events, client: NorthflankClient | None = None
) -> StepReport:
    """Validate and show what would be sent; send nothing (so no token is needed). With a
    ``client`` (a token was given), reads are allowed: whether each target would reuse."""
    routes, base = (
        Routes(config.connection.project_id, config.connection.team_id),
        config.connection.api_url,
    )
    service_id = ""
    if config.service_spec is not None:
        service_id = config.service_spec.service_id
        events.planned(
            "POST", base + routes.build_services, redacted(config.service_spec.to_json())
        )
        if config.if_exists == "update":
            events.note(
                "If the service exists (409), the same body would be sent with PUT (if-exists: update)."
            )
    reports = []
    for target in config.targets:
        reused = _would_reuse(config, client, target, events)
        if not reused:
            events.planned(
                "POST", base + routes.builds(target), redacted(config.start_request().to_json())
            )
        if config.waiting.wait and not (reused is not None and reused.finished):
            events.note(
                f"Then it would poll GET {base}{routes.builds(target)}/<build-id> until the "
                "build concludes."
            )
        reports.append(
            BuildReport(
                Outcome.DRY_RUN,
                place=Place.of(
                    config.connection.project_id,
                    config.connection.team_id,
                    config.connection.api_url,
                ),
                target=target,
                build=reused,
                reused=reused is not None,
                requested_sha=config.sha or "",
                requested_branch=config.branch or "",
            )
        )
    _ship_plan(config, events)
    return StepReport(Outcome.DRY_RUN, tuple(reports), service_id=service_id)


def _ship_plan(config: ActionConfig, events: Events) -> None:
    """The deploys, the job run and the template run that would follow a successful build."""
    routes, base = (
        Routes(config.connection.project_id, config.connection.team_id),
        config.connection.api_url,
    )
    target = config.target
    internal = None
    if target is not None and target.kind == "service":
        internal = InternalDeployment(
            target.id,
            config.branch or "<the build's branch>",
            config.sha or "<the build's sha>",
            "<the build's id>",
        )
    for service_id in config.deploy.services if config.deploy else ():
        events.note(
            f"Then it would read GET {base}{routes.service(service_id)} for its instance "
            "count, and point it at the build:"
        )
        assert internal is not None  # config.deploy: there is a service build
        body = patch_deployment_body(0, internal)
        body["deployment"]["instances"] = "<current>"
        events.planned("PATCH", base + routes.deployment_service(service_id), body)
    if config.run_job is not None:
        secrets = {key: "***" for key in config.run_job.environment}  # masked values
        run = StartJobRunRequest(secrets or None, internal).to_json()
        events.planned("POST", base + routes.job_runs(config.run_job.job_id), run)
    _runs_plan(config, events, routes, base)


def _runs_plan(config: ActionConfig, events: Events, routes: Routes, base: str) -> None:
    """The release-flow or workflow run, then the preview."""
    if config.template is not None:
        plan = config.template
        then = "Then" if config.targets or config.deploy or config.run_job else "It"
        events.note(f"{then} it would run {plan.target.label}:")
        events.planned("POST", base + routes.template_runs(plan.target), plan.request.to_json())
    if config.preview is not None:
        _preview_plan(config, events, routes, base)


def reads(config: ActionConfig) -> bool:
    """Whether a dry run of ``config`` has something to read (a build to reuse)."""
    return config.existing is not None


def _would_reuse(
    config: ActionConfig, client: NorthflankClient | None, target: BuildTarget, events: Events
) -> Build | None:
    """The build a run would use instead of starting one, when it can be read."""
    existing = config.existing
    if existing is None:
        return None
    what = (
        f"build {existing.build_id} of {target.label}"
        if isinstance(existing, GivenBuild)
        else f"a build of {target.label} at {existing.sha} (reuse: {existing.mode})"
    )
    if client is None:
        events.note(f"Dry run: would look for {what}; without an api-token it was not read.")
        return None
    try:
        if isinstance(existing, GivenBuild):
            found: Build | None = client.builds.get(target, existing.build_id)
        else:
            found = client.builds.find_reusable(target, existing.sha, existing.running_too)
    except NorthflankError as exc:
        events.note(f"Dry run: could not look for {what}: {exc.message}")
        return None
    if found is None:
        events.note(
            f"Dry run: no build of {target.label} at {config.sha} to reuse "
            f"(reuse: {existing.mode if isinstance(existing, Reuse) else 'never'}); would start one."
        )
        return None
    how = "use it as it is" if found.finished else "wait on it (never abort it)"
    events.note(
        f"Dry run: would reuse build {found.id} of {target.label} ({found.status}): {how}; "
        "no start request."
    )
    return found


def _preview_plan(config: ActionConfig, events: Events, routes: Routes, base: str) -> None:
    """The preview's requests: the look for its older runs (each aborted), then its run, or
    its deletion (and the look until it is gone)."""
    plan = config.preview
    assert plan is not None
    runs = base + routes.template_runs(plan.blueprint)
    events.note(
        f"It would read GET {runs}?concluded=false and abort (POST …/runs/<id>/abort) every "
        f"run named {plan.name!r}."
    )
    if plan.delete:
        target = base + routes.preview(plan.blueprint.id, plan.name)
        events.planned("DELETE", target, {})
        events.note(
            f"Then it would read GET {base + routes.previews(plan.blueprint.id)} until it is gone."
        )
        return
    events.planned("POST", runs, plan.request.to_json())
    events.note(
        f"Then, once the run has concluded, GET {base + routes.services} (every page) and GET "
        "each service tagged with the preview's name for its public URL."
    )
