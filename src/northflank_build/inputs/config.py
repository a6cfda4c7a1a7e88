"""The action's typed configuration, in a few parts, and parse_inputs, which reads every
input (inputs/declared.py) and checks how they go together (inputs/rules.py).

All problems are collected and reported together; a problem names the input, what is wrong
and what is allowed, and never repeats a secret. Core code takes an ``ActionConfig`` and
never reads the environment itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from northflank_build.api.bodies import (
    BuildOverrides,
    DockerOverrides,
    Secret,
    SecretContent,
    StartBuildRequest,
    TemplateRunRequest,
    run_description,
)
from northflank_build.api.routes import BuildTarget, TemplateTarget
from northflank_build.inputs import declared as i
from northflank_build.inputs import rules
from northflank_build.inputs.declared import INPUT_NAMES, Reading
from northflank_build.inputs.event import NO_EVENT, EventFacts
from northflank_build.inputs.fields import build_file_key_problem, mount_key_problem
from northflank_build.inputs.problems import InputProblem, InvalidInputs

if TYPE_CHECKING:  # loaded at run time only when a service-spec is given (with PyYAML)
    from northflank_build.inputs.spec_model import BuildServiceSpec

__all__ = ["INPUT_NAMES", "ActionConfig", "parse_inputs"]


@dataclass(frozen=True)
class Connection:
    """Where the API is and who may use it."""

    api_token: Secret
    api_url: str
    project_id: str
    team_id: str | None


@dataclass(frozen=True)
class Overrides:
    """What a new build builds differently from its build source on Northflank."""

    build_arguments: dict[str, str]
    build_files: dict[str, SecretContent]
    docker_secret_mounts: dict[str, SecretContent]
    dockerfile_path: str | None
    docker_work_dir: str | None
    dockerfile_target: str | None


@dataclass(frozen=True)
class GivenBuild:
    """build-id: wait on this build instead of starting one."""

    build_id: str


@dataclass(frozen=True)
class Reuse:
    """reuse: a build of ``sha`` that exists, if any, instead of a new one."""

    sha: str
    running_too: bool  # reuse: any (else succeeded only)

    @property
    def mode(self) -> str:
        return "any" if self.running_too else "succeeded"


@dataclass(frozen=True)
class Waiting:
    """Whether and how long to wait, and what a cancel or timeout does."""

    wait: bool
    timeout_seconds: int
    poll_interval_seconds: float
    abort_on_cancel: bool
    show_logs: bool


@dataclass(frozen=True)
class Deploy:
    """deploy-services: these services point at the build of ``build_service``."""

    services: tuple[str, ...]
    build_service: str


@dataclass(frozen=True)
class RunJob:
    """run-job: one run of ``job_id`` with ``environment``, after the build and deploys."""

    job_id: str
    environment: dict[str, str]


@dataclass(frozen=True)
class TemplatePlan:
    """release-flow or workflow: one run of it, after the builds, deploys and job run (or
    alone), with the name the step gives it (unique to this run, attempt and step) and its
    description, both checked against the API's schema (api/bodies.py)."""

    target: TemplateTarget
    request: TemplateRunRequest


@dataclass(frozen=True)
class PreviewPlan:
    """preview-blueprint: one preview environment of it, named ``name``, deployed (a run of
    ``request``) or deleted; ``service`` is the one whose URL is preview-url."""

    blueprint: TemplateTarget
    name: str
    delete: bool
    request: TemplateRunRequest
    service: str | None = None
    sweep: bool = False  # preview-action: sweep: every pr-<n> preview whose pull request closed


@dataclass(frozen=True)
class PullRequestSurfaces:
    """github-deployment and pr-comment: what the step shows on the pull request (the
    action's edge does it: github/surfaces.py)."""

    token: Secret
    deployment: str | None = None  # the GitHub environment's name
    comment: bool = False
    header: str = ""


@dataclass(frozen=True)
class ActionConfig:
    """Everything the core needs, validated. Frozen: read once, never changed."""

    connection: Connection
    job_ids: tuple[str, ...]
    service_ids: tuple[str, ...]
    branch: str | None
    pull_request_id: int | None
    service_spec: BuildServiceSpec | None
    if_exists: Literal["use", "fail", "update"]
    sha: str | None
    overrides: Overrides
    existing: GivenBuild | Reuse | None
    waiting: Waiting
    dry_run: bool
    deploy: Deploy | None = None
    run_job: RunJob | None = None
    template: TemplatePlan | None = None
    preview: PreviewPlan | None = None
    surfaces: PullRequestSurfaces | None = None

    @property
    def targets(self) -> tuple[BuildTarget, ...]:
        """What to build, in the order given; empty when the step only creates a build
        service."""
        return targets_of(
            self.job_ids, self.service_ids, self.service_spec, self.branch, self.pull_request_id
        )

    @property
    def target(self) -> BuildTarget | None:
        """The one target of a single-target step (service-spec, build-id); else the first."""
        return self.targets[0] if self.targets else None

    def start_request(self) -> StartBuildRequest:
        """The start-build body: the sha and only the overrides the user gave."""
        o = self.overrides
        docker = DockerOverrides(
            docker_file_path=o.dockerfile_path,
            docker_work_dir=o.docker_work_dir,
            dockerfile_target=o.dockerfile_target,
        )
        overrides = BuildOverrides(
            build_arguments=o.build_arguments or None,
            build_files=o.build_files or None,
            docker_secret_mounts=o.docker_secret_mounts or None,
            docker=docker if docker.to_json() else None,
        )
        return StartBuildRequest(
            sha=self.sha,
            branch=self.branch,
            pull_request_id=self.pull_request_id,
            overrides=overrides if overrides.to_json() else None,
        )


def targets_of(
    job_ids: tuple[str, ...],
    service_ids: tuple[str, ...],
    spec: BuildServiceSpec | None,
    branch: str | None,
    pull_request: int | None,
) -> tuple[BuildTarget, ...]:
    """The builds a step makes, in the order given; a service-spec is built only with a
    branch or pull request."""
    if job_ids:
        return tuple(BuildTarget("job", job) for job in job_ids)
    if service_ids:
        return tuple(BuildTarget("service", service) for service in service_ids)
    if spec is not None and (branch or pull_request is not None):
        return (BuildTarget("service", spec.service_id),)
    return ()


def parse_inputs(
    get: Callable[[str], str | None],
    env: Mapping[str, str],
    workspace: Path,
    on_secret: Callable[[str], None],
    *,
    default_sha: str = "",
    run_identity: tuple[str, str] = ("", ""),
    event: EventFacts = NO_EVENT,
) -> ActionConfig:
    """Validate every input; raise ``InvalidInputs`` listing all problems at once.
    ``default_sha`` is the sha a workflow gets when it gives none (github/event.py): with
    build-id, a sha other than it was written by the workflow and clashes.
    ``run_identity``: the name a template run gets and the start of its description (the
    edge's: github/event.py, the CLI). ``event``: what the workflow's event says."""
    r = Reading(get, env, workspace, on_secret)
    connection = _connection(r, event)  # first: the token is masked before anything can print
    for declared in i.INPUTS:  # each once, in action.yml's order: its problems in that order
        r(declared)
    spec, targets = _targets(r)
    existing = _existing(r, default_sha, len(r(i.JOB_ID)) + len(r(i.SERVICE_ID)))
    waiting = _waiting(r)
    deploy, run_job = _delivery(r, targets, waiting.wait)
    template = _template(r, bool(targets), waiting.wait, run_identity)
    preview = _preview(r, event, run_identity[1])
    deploys_preview = preview is not None and not (preview.delete or preview.sweep)
    rules.after_builds_rule(r, "preview-blueprint", bool(targets) and deploys_preview, waiting.wait)
    overrides = _overrides(r)
    surfaces = _surfaces(r)
    if r.problems or connection is None:
        raise InvalidInputs(r.problems)
    return ActionConfig(
        connection=connection,
        job_ids=r(i.JOB_ID),
        service_ids=r(i.SERVICE_ID),
        branch=r(i.BRANCH),
        pull_request_id=r(i.PULL_REQUEST_ID),
        service_spec=spec,
        if_exists=r(i.IF_EXISTS),
        sha=r(i.SHA),
        overrides=overrides,
        existing=existing,
        waiting=waiting,
        dry_run=r(i.DRY_RUN),
        deploy=deploy,
        run_job=run_job,
        template=template,
        preview=preview,
        surfaces=surfaces,
    )


def _waiting(r: Reading) -> Waiting:
    timeout, poll = int(r(i.TIMEOUT_SECONDS)), float(r(i.POLL_INTERVAL_SECONDS))
    return Waiting(r(i.WAIT), timeout, poll, r(i.ABORT_ON_CANCEL), r(i.SHOW_LOGS))


def _overrides(r: Reading) -> Overrides:
    files, mounts = r(i.BUILD_FILES), r(i.DOCKER_SECRET_MOUNTS)
    docker = (r(i.DOCKERFILE_PATH), r(i.DOCKER_WORK_DIR), r(i.DOCKERFILE_TARGET))
    return Overrides(r(i.BUILD_ARGUMENTS), files, mounts, *docker)


def _targets(r: Reading) -> tuple[BuildServiceSpec | None, tuple[BuildTarget, ...]]:
    """The build service of service-spec, and what the step builds."""
    spec = _service_spec(r)
    rules.which_targets(r)
    rules.spec_target(r, r(i.SERVICE_ID), spec)
    rules.service_source(r, r(i.BRANCH), r(i.PULL_REQUEST_ID))
    return spec, targets_of(r(i.JOB_ID), r(i.SERVICE_ID), spec, r(i.BRANCH), r(i.PULL_REQUEST_ID))


def _connection(r: Reading, event: EventFacts) -> Connection | None:
    token = r(i.API_TOKEN)
    dry_run = r(i.DRY_RUN)
    if not token and not dry_run and event.from_fork and r.given("preview-blueprint"):
        r.problems.append(rules.fork_without_secrets())
    elif not token and not dry_run:  # a dry run sends nothing: no secrets (forks' PRs)
        r.problems.append(
            InputProblem(
                "api-token",
                "is required and was not given.",
                secret="NORTHFLANK_API_TOKEN",  # noqa: S106 - the variable's name
            )
        )
    api_url, project_id, team_id = r(i.API_URL), r(i.PROJECT_ID), r(i.TEAM_ID)
    return Connection(Secret(token), api_url, project_id, team_id) if project_id else None


def _service_spec(r: Reading) -> BuildServiceSpec | None:
    text = r(i.SERVICE_SPEC)
    if not text.strip():
        return None
    from northflank_build.inputs.service_spec import parse_service_spec  # noqa: PLC0415 - only when used

    keys = (build_file_key_problem, mount_key_problem)
    return parse_service_spec(text, r.env, r.workspace, r.problems, r.on_secret, keys)


def _existing(r: Reading, default_sha: str, targets: int) -> GivenBuild | Reuse | None:
    reuse = r(i.REUSE)
    rules.reuse_rules(r, reuse)
    build_id = rules.given_build(r, reuse, default_sha, targets)
    if build_id is not None:
        return GivenBuild(build_id)
    sha = r(i.SHA)
    return Reuse(sha, reuse == "any") if reuse != "never" and sha else None


def _delivery(
    r: Reading, targets: tuple[BuildTarget, ...], wait: bool
) -> tuple[Deploy | None, RunJob | None]:
    services, job_id = r(i.DEPLOY_SERVICES), r(i.RUN_JOB)
    environment = r(i.RUN_JOB_ENVIRONMENT)
    rules.delivery_rules(r, services, job_id, wait)
    deploy = None
    if services:
        build_service = rules.deploy_target(r, targets)
        deploy = Deploy(services, build_service) if build_service else None
    if job_id:
        rules.run_target(r, job_id, targets)
    return deploy, RunJob(job_id, environment) if job_id else None


def _template(
    r: Reading, after_builds: bool, wait: bool, identity: tuple[str, str]
) -> TemplatePlan | None:
    flow, workflow = r(i.RELEASE_FLOW), r(i.WORKFLOW)
    rules.template_rules(r, after_builds, wait)
    if flow is None and workflow is None:
        return None
    target = (
        TemplateTarget("release-flow", flow[0], flow[1])
        if flow is not None
        else TemplateTarget("workflow", workflow or "")
    )
    name, about = identity
    sha = r(i.SHA)
    description = run_description(f"{about} at {sha[:12]}" if sha else about)
    try:
        request = TemplateRunRequest(
            name or "run",
            description,
            r(i.TEMPLATE_ARGUMENTS) or None,
            r(i.TEMPLATE_OVERRIDES),
        )
    except ValueError as exc:  # a bug of the edge's naming: never sent
        r.problems.append(InputProblem("release-flow" if flow else "workflow", str(exc)))
        return None
    return TemplatePlan(target, request)


def _preview(r: Reading, event: EventFacts, about: str) -> PreviewPlan | None:
    blueprint = r(i.PREVIEW_BLUEPRINT)
    action = r(i.PREVIEW_ACTION)
    name = r(i.PREVIEW_NAME) if action != "sweep" else "sweep"
    rules.preview_rules(r, event)
    if blueprint is None or name is None:
        return None
    if action == "sweep":
        target = TemplateTarget("preview-blueprint", blueprint)
        return PreviewPlan(target, "", False, TemplateRunRequest("sweep", "sweep"), None, True)
    delete = action == "delete" or (action == "auto" and event.closes_pull_request)
    sha = r(i.SHA)
    trigger = r(i.PREVIEW_GIT_TRIGGER)
    fields: dict[str, Any] = {
        "branch": event.head_branch or None,
        "sha": sha,
        "pullRequestId": event.pull_request,
    }
    triggers = {trigger: {k: v for k, v in fields.items() if v}} if trigger else None
    description = run_description(f"{about} at {sha[:12]}" if sha else about or "preview")
    request = TemplateRunRequest(name, description, r(i.PREVIEW_ARGUMENTS) or None, None, triggers)
    return PreviewPlan(
        TemplateTarget("preview-blueprint", blueprint), name, delete, request, r(i.PREVIEW_SERVICE)
    )


def _surfaces(r: Reading) -> PullRequestSurfaces | None:
    deployment, comment = r(i.GITHUB_DEPLOYMENT), r(i.PR_COMMENT)
    sweep = r(i.PREVIEW_ACTION) == "sweep"  # asks GitHub whether each pull request is open
    if deployment is None and not comment and not sweep:
        return None
    rules.surfaces_rules(r, deployment, r(i.WAIT))
    return PullRequestSurfaces(Secret(r(i.GITHUB_TOKEN)), deployment, comment, r(i.COMMENT_HEADER))
