"""The action's typed configuration, and the validation of every input into it.

All problems are collected and reported together; a problem names the input, what is wrong
and what is allowed, and never repeats a secret. Core code takes an ``ActionConfig`` and
never reads the environment itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from northflank_build.api.bodies import (
    DOCKER_WORK_DIR_PATTERN,
    DOCKERFILE_PATH_PATTERN,
    DOCKERFILE_TARGET_PATTERN,
    BuildOverrides,
    DockerOverrides,
    Secret,
    SecretContent,
    StartBuildRequest,
)
from northflank_build.api.routes import BUILD_ID_PATTERN, BuildTarget
from northflank_build.inputs.fields import (
    build_file_key_problem,
    mount_key_problem,
    read_api_url,
    read_bool,
    read_branch,
    read_id,
    read_ids,
    read_number,
    read_pattern,
    read_pull_request,
    shown,
)
from northflank_build.inputs.problems import InputProblem, InvalidInputs
from northflank_build.inputs.sources import (
    RUNTIME_ENV_PATTERN,
    RUNTIME_ENV_RULE,
    parse_build_arguments,
    parse_secret_map,
)

if TYPE_CHECKING:  # loaded at run time only when a service-spec is given (with PyYAML)
    from northflank_build.inputs.spec_model import BuildServiceSpec

SHA_PATTERN = re.compile(r"^[0-9a-fA-F]{40}$")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
TIMEOUT_RANGE = (1, 432_000)  # 5 days: the longest a self-hosted runner job may run
POLL_RANGE = (1.0, 3600.0)
# 30 s, not 10: the forecast makes checks dense where the end is likely (engine/schedule.py;
# the figures in docs/benchmarks.md).
DEFAULT_POLL_INTERVAL_S = 30.0

INPUT_NAMES = (
    "api-token",
    "api-url",
    "project-id",
    "team-id",
    "job-id",
    "service-id",
    "branch",
    "pull-request-id",
    "service-spec",
    "if-exists",
    "sha",
    "build-arguments",
    "build-files",
    "docker-secret-mounts",
    "dockerfile-path",
    "docker-work-dir",
    "dockerfile-target",
    "wait",
    "timeout-seconds",
    "poll-interval-seconds",
    "abort-on-cancel",
    "show-logs",
    "dry-run",
    "build-id",
    "reuse",
    "deploy-services",
    "run-job",
    "run-job-environment",
)
Reuse = Literal["never", "succeeded", "any"]
# The inputs that change what a new build builds: Northflank does not report which of them a
# build had, so a build found by sha cannot be known to match (reuse, build-id).
OVERRIDE_INPUTS = (
    "build-arguments",
    "build-files",
    "docker-secret-mounts",
    "dockerfile-path",
    "docker-work-dir",
    "dockerfile-target",
)


@dataclass(frozen=True)
class ActionConfig:
    """Everything the core needs, validated. Frozen: read once, never changed.

    A plain dataclass: it is built only from values parse_inputs has already validated.
    """

    api_token: Secret
    api_url: str
    project_id: str
    team_id: str | None
    job_ids: tuple[str, ...]
    service_ids: tuple[str, ...]
    branch: str | None
    pull_request_id: int | None
    service_spec: BuildServiceSpec | None
    if_exists: Literal["use", "fail", "update"]
    sha: str | None
    build_arguments: dict[str, str]
    build_files: dict[str, SecretContent]
    docker_secret_mounts: dict[str, SecretContent]
    dockerfile_path: str | None
    docker_work_dir: str | None
    dockerfile_target: str | None
    wait: bool
    timeout_seconds: int
    poll_interval_seconds: float
    abort_on_cancel: bool
    show_logs: bool
    dry_run: bool
    build_id: str | None = None  # wait on this existing build instead of starting one
    reuse: Reuse = "never"
    deploy_services: tuple[str, ...] = ()  # deployment services to point at the build
    run_job: str | None = None  # a job to run once the build (and deployments) succeeded
    run_job_environment: dict[str, str] = field(default_factory=dict)

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
        docker = DockerOverrides(
            docker_file_path=self.dockerfile_path,
            docker_work_dir=self.docker_work_dir,
            dockerfile_target=self.dockerfile_target,
        )
        overrides = BuildOverrides(
            build_arguments=self.build_arguments or None,
            build_files=self.build_files or None,
            docker_secret_mounts=self.docker_secret_mounts or None,
            docker=docker if docker.to_json() else None,
        )
        has_overrides = bool(overrides.to_json())
        return StartBuildRequest(
            sha=self.sha,
            branch=self.branch,
            pull_request_id=self.pull_request_id,
            overrides=overrides if has_overrides else None,
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


def _targets(
    run_job_given: bool,
    job_ids: tuple[str, ...],
    service_ids: tuple[str, ...],
    spec_given: bool,
    spec: BuildServiceSpec | None,
    branch: str | None,
    pull_request: int | None,
    raw: dict[str, str],
    problems: list[InputProblem],
) -> None:
    """Which resources the step works on: the rules that tie the target inputs together."""
    if raw["job-id"] and raw["service-id"]:
        problems.append(InputProblem("service-id", "give either job-id or service-id, not both."))
    elif spec_given and raw["job-id"]:
        problems.append(
            InputProblem(
                "job-id", "cannot be combined with service-spec, which creates a build service."
            )
        )
    elif not spec_given and not raw["job-id"] and not raw["service-id"] and not run_job_given:
        problems.append(
            InputProblem(
                "job-id",
                "one of job-id or service-id is required (or service-spec to create a build "
                "service, or run-job to run a job).",
            )
        )
    if spec_given and len(service_ids) > 1:
        problems.append(
            InputProblem("service-spec", "works with one target only; service-id names several.")
        )
    if spec is not None and service_ids and service_ids[0] != spec.service_id:
        problems.append(
            InputProblem(
                "service-id",
                f"{shown(service_ids[0])} differs from {spec.service_id!r}, the id Northflank derives from the spec's name.",
            )
        )
    for name, given in (("branch", branch), ("pull-request-id", pull_request)):
        if given is not None and raw["job-id"]:
            problems.append(
                InputProblem(
                    name,
                    "applies to service builds only (a job builds what its build source on Northflank names); pass sha for a commit.",
                )
            )
    if branch is not None and pull_request is not None:
        problems.append(
            InputProblem(
                "pull-request-id",
                "give either branch or pull-request-id, not both (a build service builds one of them).",
            )
        )


def _shipping(
    deploy: tuple[str, ...],
    run_job: str | None,
    run_env_given: bool,
    wait: bool,
    targets: tuple[BuildTarget, ...],
    problems: list[InputProblem],
) -> None:
    """deploy-services and run-job: what they need of the build before them."""
    if run_env_given and not run_job:
        problems.append(
            InputProblem("run-job-environment", "applies to run-job, which is not given.")
        )
    if not (deploy or run_job):
        return
    if not wait:
        name = "deploy-services" if deploy else "run-job"
        problems.append(
            InputProblem(
                name,
                "cannot be combined with wait: false: there is nothing to deploy or run "
                "until the build has concluded.",
            )
        )
    if deploy:
        if not targets:
            problems.append(
                InputProblem(
                    "deploy-services",
                    "needs a service build in the step: service-id (or service-spec with "
                    "branch or pull-request-id), or service-id with build-id.",
                )
            )
        elif any(t.kind == "job" for t in targets):
            problems.append(
                InputProblem(
                    "deploy-services",
                    "needs a service build: a job's build cannot be deployed to a deployment service.",
                )
            )
        elif len(targets) > 1:
            problems.append(
                InputProblem(
                    "deploy-services", "works with one build target; service-id names several."
                )
            )
    if run_job and len(targets) > 1:
        problems.append(InputProblem("run-job", "works with one build target at most."))
    elif run_job and targets and targets[0].kind == "job" and targets[0].id != run_job:
        problems.append(
            InputProblem(
                "run-job",
                f"{run_job!r} cannot run the build of job {targets[0].id!r}: a job runs its own "
                "builds (give the same job, or build a service).",
            )
        )


def default_sha(env: Mapping[str, str]) -> str:
    """The value action.yml gives ``sha`` when a workflow does not: the pull request's head
    commit, else GITHUB_SHA. A different value was written by the workflow."""
    path = env.get("GITHUB_EVENT_PATH", "")
    if path:
        try:
            event = json.loads(Path(path).read_text(encoding="utf-8"))
            head = event["pull_request"]["head"]["sha"]
        except (OSError, ValueError, KeyError, TypeError):
            head = None
        if isinstance(head, str) and head:
            return head.lower()
    return env.get("GITHUB_SHA", "").lower()


def _existing_build(
    build_id_raw: str,
    reuse: Reuse,
    sha_raw: str,
    sha_default: str,
    targets: int,
    given: dict[str, bool],
    problems: list[InputProblem],
) -> str | None:
    """build-id and reuse: wait on a build that exists instead of starting one."""
    if reuse != "never":
        if not sha_raw:
            problems.append(
                InputProblem("reuse", f"{reuse!r} needs a sha: builds are matched by commit.")
            )
        for name in OVERRIDE_INPUTS:
            if given[name]:
                problems.append(
                    InputProblem(
                        name,
                        f"cannot be combined with reuse: {reuse} (Northflank does not report "
                        "which overrides a build had, so a build found by sha may not match); "
                        "use reuse: never.",
                    )
                )
    if not build_id_raw:
        return None
    build_id = None
    if not re.fullmatch(BUILD_ID_PATTERN, build_id_raw):
        problems.append(
            InputProblem(
                "build-id",
                f"{shown(build_id_raw)} is not a Northflank build id (e.g. joyous-view-6290: "
                "letters, digits, '.', '_' and '-').",
            )
        )
    else:
        build_id = build_id_raw
    if targets > 1:
        problems.append(
            InputProblem("build-id", "works with one target only; give one job-id or service-id.")
        )
    clashes = [name for name in ("service-spec", "branch", "pull-request-id") if given[name]]
    clashes += [name for name in OVERRIDE_INPUTS if given[name]]
    if sha_raw and sha_raw.lower() != sha_default:
        clashes.insert(0, "sha")
    if reuse != "never":
        clashes.append("reuse")
    for name in clashes:
        problems.append(
            InputProblem(
                name,
                "cannot be combined with build-id, which waits on a build that already exists "
                "(its commit and settings are the build's own).",
            )
        )
    return build_id


def parse_inputs(
    get: Callable[[str], str | None],
    env: Mapping[str, str],
    workspace: Path,
    on_secret: Callable[[str], None],
) -> ActionConfig:
    """Validate every input; raise ``InvalidInputs`` listing all problems at once."""
    problems: list[InputProblem] = []

    def read(name: str) -> str | None:
        value = get(name)
        # Bytes that are not UTF-8 reach os.environ as lone surrogates: not text to send.
        if value is not None and _SURROGATE.search(value):
            if not any(p.name == name for p in problems):
                problems.append(InputProblem(name, "contains bytes that are not UTF-8 text."))
            return None
        return value

    def val(name: str) -> str:
        return (read(name) or "").strip()

    token = val("api-token")
    if token:
        on_secret(token)
    dry_run = read_bool("dry-run", val("dry-run"), False, problems)
    if not token and dry_run:
        pass  # a dry run sends nothing, so it works without secrets (pull requests from forks)
    elif not token:
        problems.append(
            InputProblem(
                "api-token",
                "is required and was not given.",
                secret="NORTHFLANK_API_TOKEN",  # noqa: S106 - the variable's name
            )
        )
    elif any(ch.isspace() or not ch.isprintable() for ch in token):
        problems.append(
            InputProblem(
                "api-token",
                "contains whitespace, line breaks or control characters; paste the token alone.",
            )
        )

    api_url = read_api_url(val("api-url"), problems)
    project_id = read_id("project-id", val("project-id"), problems, required=True)
    team_id = read_id("team-id", val("team-id"), problems, required=False)
    raw = {name: val(name) for name in ("job-id", "service-id")}
    job_ids = read_ids("job-id", raw["job-id"], problems)
    service_ids = read_ids("service-id", raw["service-id"], problems)
    branch = read_branch(val("branch"), problems)
    pull_request = read_pull_request(val("pull-request-id"), problems)
    if_exists: Literal["use", "fail", "update"] = "use"
    match val("if-exists"):
        case "" | "use":
            pass
        case "fail":
            if_exists = "fail"
        case "update":
            if_exists = "update"
        case other:
            problems.append(
                InputProblem("if-exists", f"{shown(other)} is not one of use, fail, update.")
            )

    sha_raw = val("sha")
    sha: str | None = None
    if sha_raw:
        if SHA_PATTERN.fullmatch(sha_raw):
            sha = sha_raw.lower()
        else:
            problems.append(
                InputProblem(
                    "sha",
                    f"{shown(sha_raw)} is not a full commit id: use its 40 hexadecimal "
                    "characters, or leave it empty to build the latest commit Northflank is set "
                    "to build.",
                )
            )

    build_arguments = parse_build_arguments(read("build-arguments") or "", problems)
    build_files = parse_secret_map(
        "build-files",
        read("build-files") or "",
        build_file_key_problem,
        env,
        workspace,
        problems,
        on_secret,
    )
    mounts = parse_secret_map(
        "docker-secret-mounts",
        read("docker-secret-mounts") or "",
        mount_key_problem,
        env,
        workspace,
        problems,
        on_secret,
    )
    dockerfile_path = read_pattern(
        "dockerfile-path", val("dockerfile-path"), DOCKERFILE_PATH_PATTERN, "/Dockerfile", problems
    )
    docker_work_dir = read_pattern(
        "docker-work-dir", val("docker-work-dir"), DOCKER_WORK_DIR_PATTERN, "/", problems
    )
    dockerfile_target = read_pattern(
        "dockerfile-target",
        val("dockerfile-target"),
        DOCKERFILE_TARGET_PATTERN,
        "production",
        problems,
    )
    spec_text = read("service-spec") or ""
    spec = None
    if spec_text.strip():
        from northflank_build.inputs.service_spec import parse_service_spec  # noqa: PLC0415 - only when used

        spec = parse_service_spec(
            spec_text,
            env,
            workspace,
            problems,
            on_secret,
            (build_file_key_problem, mount_key_problem),
        )
    run_job = read_id("run-job", val("run-job"), problems, required=False)
    _targets(
        bool(val("run-job")),
        job_ids,
        service_ids,
        bool(spec_text.strip()),
        spec,
        branch,
        pull_request,
        raw,
        problems,
    )
    reuse: Reuse = "never"
    match val("reuse"):
        case "" | "never":
            pass
        case "succeeded":
            reuse = "succeeded"
        case "any":
            reuse = "any"
        case other:
            problems.append(
                InputProblem("reuse", f"{shown(other)} is not one of never, succeeded, any.")
            )
    given = {name: bool(val(name)) for name in (*OVERRIDE_INPUTS, "branch", "pull-request-id")}
    given["service-spec"] = bool(spec_text.strip())
    build_id = _existing_build(
        val("build-id"),
        reuse,
        sha_raw,
        default_sha(env),
        len(job_ids) + len(service_ids),
        given,
        problems,
    )
    wait = read_bool("wait", val("wait"), True, problems)
    abort_on_cancel = read_bool("abort-on-cancel", val("abort-on-cancel"), True, problems)
    show_logs = read_bool("show-logs", val("show-logs"), True, problems)
    timeout = read_number(
        "timeout-seconds", val("timeout-seconds"), 3600, TIMEOUT_RANGE, problems, integer=True
    )
    poll = read_number(
        "poll-interval-seconds",
        val("poll-interval-seconds"),
        DEFAULT_POLL_INTERVAL_S,
        POLL_RANGE,
        problems,
        integer=False,
    )

    deploy = read_ids("deploy-services", val("deploy-services"), problems)
    run_env = parse_build_arguments(
        read("run-job-environment") or "",
        problems,
        "run-job-environment",
        RUNTIME_ENV_PATTERN,
        RUNTIME_ENV_RULE,
    )
    for value in run_env.values():
        on_secret(value)  # a run's variables are often secrets (a database URL)
    targets = targets_of(job_ids, service_ids, spec, branch, pull_request)
    _shipping(deploy, run_job, bool(run_env), wait, targets, problems)

    if problems or project_id is None:
        raise InvalidInputs(problems)
    return ActionConfig(
        api_token=Secret(token),
        api_url=api_url,
        project_id=project_id,
        team_id=team_id,
        job_ids=job_ids,
        service_ids=service_ids,
        branch=branch,
        pull_request_id=pull_request,
        service_spec=spec,
        if_exists=if_exists,
        sha=sha,
        build_arguments=build_arguments,
        build_files=build_files,
        docker_secret_mounts=mounts,
        dockerfile_path=dockerfile_path,
        docker_work_dir=docker_work_dir,
        dockerfile_target=dockerfile_target,
        wait=wait,
        timeout_seconds=int(timeout),
        poll_interval_seconds=float(poll),
        abort_on_cancel=abort_on_cancel,
        show_logs=show_logs,
        dry_run=dry_run,
        build_id=build_id,
        reuse=reuse,
        deploy_services=deploy,
        run_job=run_job,
        run_job_environment=run_env,
    )
