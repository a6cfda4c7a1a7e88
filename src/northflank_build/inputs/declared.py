"""Every input, declared once: its name, its default (as action.yml writes it), how the CLI
gives it, and how its text is read and checked (the readers: inputs/reading.py).
parse_inputs (inputs/config.py) reads them all, the CLI's flags (cli.py) and the wording's
names for them (wording.py) come from here, and tests/test_config.py compares each default
with action.yml.
"""

from __future__ import annotations

from typing import Any

from northflank_build.api.bodies import (
    DOCKER_WORK_DIR_PATTERN,
    DOCKERFILE_PATH_PATTERN,
    DOCKERFILE_TARGET_PATTERN,
)
from northflank_build.inputs.fields import (
    DEFAULT_API_URL,
    build_file_key_problem,
    mount_key_problem,
    read_api_url,
    read_branch,
    read_pull_request,
)
from northflank_build.inputs.reading import (
    POLL_RANGE,
    TIMEOUT_RANGE,
    Input,
    Reading,
    read_boolean,
    read_build_arguments,
    read_choice,
    read_environment,
    read_header,
    read_id_list,
    read_if_exists,
    read_matching,
    read_optional_id,
    read_release_flow,
    read_required_id,
    read_run_environment,
    read_run_name,
    read_seconds,
    read_secret_text,
    read_secrets,
    read_sha,
    read_template_arguments,
    read_template_overrides,
    read_text,
    read_token,
    read_trigger_ref,
)

__all__ = ["Input", "Reading"]

# -- the inputs, in action.yml's order ------------------------------------------------------

API_TOKEN = Input("api-token", read_token, cli="$NORTHFLANK_API_TOKEN", how="env")
API_URL = Input[str](
    "api-url", lambda i, raw, r: read_api_url(raw, r.problems), DEFAULT_API_URL, "--api-url"
)
PROJECT_ID = Input("project-id", read_required_id, cli="--project-id")
TEAM_ID = Input("team-id", read_optional_id, cli="--team-id")
JOB_ID = Input("job-id", read_id_list, cli="--job-id", how="repeat")
SERVICE_ID = Input("service-id", read_id_list, cli="--service-id", how="repeat")
BRANCH = Input[str | None]("branch", lambda i, raw, r: read_branch(raw, r.problems), cli="--branch")
PULL_REQUEST_ID = Input[int | None](
    "pull-request-id", lambda i, raw, r: read_pull_request(raw, r.problems), cli="--pull-request-id"
)
SERVICE_SPEC = Input("service-spec", read_text, cli="--spec", whole=True)
IF_EXISTS = Input("if-exists", read_if_exists, "use", "--if-exists")
SHA = Input("sha", read_sha, "${{ github.event.pull_request.head.sha || github.sha }}", "--sha")
BUILD_ARGUMENTS = Input(
    "build-arguments", read_build_arguments, cli="--build-arg", how="repeat", whole=True
)
BUILD_FILES = Input(
    "build-files",
    read_secrets(build_file_key_problem),
    cli="--build-file",
    how="repeat",
    whole=True,
)
DOCKER_SECRET_MOUNTS = Input(
    "docker-secret-mounts",
    read_secrets(mount_key_problem),
    cli="--secret-mount",
    how="repeat",
    whole=True,
)
DOCKERFILE_PATH = Input(
    "dockerfile-path",
    read_matching(DOCKERFILE_PATH_PATTERN, "/Dockerfile"),
    cli="--dockerfile-path",
)
DOCKER_WORK_DIR = Input(
    "docker-work-dir", read_matching(DOCKER_WORK_DIR_PATTERN, "/"), cli="--docker-work-dir"
)
DOCKERFILE_TARGET = Input(
    "dockerfile-target",
    read_matching(DOCKERFILE_TARGET_PATTERN, "production"),
    cli="--dockerfile-target",
)
WAIT = Input("wait", read_boolean, "true", "--no-wait", how="off")
TIMEOUT_SECONDS = Input(
    "timeout-seconds", read_seconds(TIMEOUT_RANGE, integer=True), "3600", "--timeout-seconds"
)
# 30 s, not 10: the forecast makes checks dense where the end is likely (engine/schedule.py;
# the figures in docs/benchmarks.md).
POLL_INTERVAL_SECONDS = Input(
    "poll-interval-seconds",
    read_seconds(POLL_RANGE, integer=False),
    "30",
    "--poll-interval-seconds",
)
ABORT_ON_CANCEL = Input("abort-on-cancel", read_boolean, "true", "--no-abort-on-cancel", how="off")
SHOW_LOGS = Input("show-logs", read_boolean, "true", "--no-logs", how="off")
DRY_RUN = Input("dry-run", read_boolean, "false", "--dry-run", how="on")
BUILD_ID = Input("build-id", read_text, cli="--build-id")  # checked with reuse: inputs/config.py
REUSE = Input("reuse", read_choice("never", "succeeded", "any"), "never", "--reuse")
DEPLOY_SERVICES = Input("deploy-services", read_id_list, cli="--deploy-service", how="repeat")
RUN_JOB = Input("run-job", read_optional_id, cli="--run-job")
RUN_JOB_ENVIRONMENT = Input(
    "run-job-environment", read_run_environment, cli="--run-env", how="repeat", whole=True
)
RELEASE_FLOW = Input("release-flow", read_release_flow, cli="--release-flow")
WORKFLOW = Input("workflow", read_optional_id, cli="--workflow")
TEMPLATE_ARGUMENTS = Input(
    "template-arguments", read_template_arguments, cli="--template-arg", how="repeat", whole=True
)
TEMPLATE_OVERRIDES = Input(
    "template-overrides", read_template_overrides, cli="--template-overrides", whole=True
)
PREVIEW_BLUEPRINT = Input("preview-blueprint", read_optional_id, cli="--preview-blueprint")
PREVIEW_NAME = Input(
    "preview-name",
    read_run_name,
    "${{ github.event.pull_request.number && format('pr-{0}', github.event.pull_request.number) || '' }}",
    "--preview-name",
)
PREVIEW_ACTION = Input(
    "preview-action", read_choice("auto", "deploy", "delete", "sweep"), "auto", "--preview-action"
)
PREVIEW_GIT_TRIGGER = Input("preview-git-trigger", read_trigger_ref, cli="--preview-git-trigger")
PREVIEW_ARGUMENTS = Input(
    "preview-arguments", read_template_arguments, cli="--preview-arg", how="repeat", whole=True
)
PREVIEW_SERVICE = Input("preview-service", read_optional_id, cli="--preview-service")
# The pull request's surfaces: the action's only (the CLI has no pull request).
GITHUB_TOKEN = Input("github-token", read_secret_text, "${{ github.token }}", how="action")
GITHUB_DEPLOYMENT = Input("github-deployment", read_environment, how="action")
PR_COMMENT = Input("pr-comment", read_boolean, "false", how="action")
COMMENT_HEADER = Input(
    "comment-header", read_header, "${{ github.workflow }} / ${{ github.job }}", how="action"
)

INPUTS: tuple[Input[Any], ...] = (
    API_TOKEN,
    API_URL,
    PROJECT_ID,
    TEAM_ID,
    JOB_ID,
    SERVICE_ID,
    BRANCH,
    PULL_REQUEST_ID,
    SERVICE_SPEC,
    IF_EXISTS,
    SHA,
    BUILD_ARGUMENTS,
    BUILD_FILES,
    DOCKER_SECRET_MOUNTS,
    DOCKERFILE_PATH,
    DOCKER_WORK_DIR,
    DOCKERFILE_TARGET,
    WAIT,
    TIMEOUT_SECONDS,
    POLL_INTERVAL_SECONDS,
    ABORT_ON_CANCEL,
    SHOW_LOGS,
    DRY_RUN,
    BUILD_ID,
    REUSE,
    DEPLOY_SERVICES,
    RUN_JOB,
    RUN_JOB_ENVIRONMENT,
    RELEASE_FLOW,
    WORKFLOW,
    TEMPLATE_ARGUMENTS,
    TEMPLATE_OVERRIDES,
    PREVIEW_BLUEPRINT,
    PREVIEW_NAME,
    PREVIEW_ACTION,
    PREVIEW_GIT_TRIGGER,
    PREVIEW_ARGUMENTS,
    PREVIEW_SERVICE,
    GITHUB_TOKEN,
    GITHUB_DEPLOYMENT,
    PR_COMMENT,
    COMMENT_HEADER,
)
INPUT_NAMES = tuple(i.name for i in INPUTS)
BY_NAME: dict[str, Input[Any]] = {i.name: i for i in INPUTS}
# The inputs that change what a new build builds: Northflank does not report which of them a
# build had, so a build found by sha cannot be known to match (reuse, build-id).
OVERRIDE_INPUTS = tuple(
    i.name
    for i in (
        BUILD_ARGUMENTS,
        BUILD_FILES,
        DOCKER_SECRET_MOUNTS,
        DOCKERFILE_PATH,
        DOCKER_WORK_DIR,
        DOCKERFILE_TARGET,
    )
)
