"""Every input, declared once: its name, its default (as action.yml writes it), how the CLI
gives it, and how its text is read and checked. parse_inputs (inputs/config.py) reads them
all, the CLI's flags (cli.py) and the wording's names for them (wording.py) come from here,
and tests/test_config.py compares each default with action.yml.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from northflank_build.api.bodies import (
    DOCKER_WORK_DIR_PATTERN,
    DOCKERFILE_PATH_PATTERN,
    DOCKERFILE_TARGET_PATTERN,
    SecretContent,
)
from northflank_build.inputs.fields import (
    DEFAULT_API_URL,
    ID_PATTERN,
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
from northflank_build.inputs.problems import InputProblem
from northflank_build.inputs.sources import (
    RUNTIME_ENV_PATTERN,
    RUNTIME_ENV_RULE,
    parse_build_arguments,
    parse_secret_map,
)

T = TypeVar("T")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
SHA_PATTERN = re.compile(r"^[0-9a-fA-F]{40}$")
TIMEOUT_RANGE = (1, 432_000)  # 5 days: the longest a self-hosted runner job may run
POLL_RANGE = (1.0, 3600.0)
# How the CLI gives an input: a flag with a value; a repeatable flag (one line each); a
# switch that sets it false (--no-wait) or true (--dry-run); an environment variable.
How = Literal["value", "repeat", "off", "on", "env"]


@dataclass
class Reading:
    """The inputs being read: where their text comes from, the problems found so far, and
    what was read (each input once)."""

    get: Callable[[str], str | None]
    env: Mapping[str, str]
    workspace: Path
    on_secret: Callable[[str], None]
    problems: list[InputProblem] = field(default_factory=list)
    _read: dict[str, Any] = field(default_factory=dict)

    def text(self, name: str) -> str:
        """The input's text as given, or "" (bytes that are not UTF-8 are a problem)."""
        value = self.get(name)
        # Bytes that are not UTF-8 reach os.environ as lone surrogates: not text to send.
        if value is not None and _SURROGATE.search(value):
            if not any(p.name == name for p in self.problems):
                self.problems.append(InputProblem(name, "contains bytes that are not UTF-8 text."))
            return ""
        return value or ""

    def given(self, name: str) -> bool:
        return bool(self.text(name).strip())

    def __call__(self, declared: Input[T]) -> T:
        if declared.name not in self._read:
            text = self.text(declared.name)
            raw = text if declared.whole else text.strip()
            self._read[declared.name] = declared.read(declared, raw, self)
        value: T = self._read[declared.name]
        return value


Reader = Callable[["Input[T]", str, Reading], T]


@dataclass(frozen=True)
class Input(Generic[T]):
    name: str
    read: Reader[T]
    default: str = ""  # action.yml's, as written there
    cli: str = ""  # how the CLI gives it ("--project-id"); "" when it has no form there
    how: How = "value"
    whole: bool = False  # several lines, read as given (not stripped)


# -- readers --------------------------------------------------------------------------------


def _boolean(i: Input[bool], raw: str, r: Reading) -> bool:
    return read_bool(i.name, raw, i.default == "true", r.problems)


def _optional_id(i: Input[str | None], raw: str, r: Reading) -> str | None:
    return read_id(i.name, raw, r.problems, required=False)


def _required_id(i: Input[str | None], raw: str, r: Reading) -> str | None:
    return read_id(i.name, raw, r.problems, required=True)


def _ids(i: Input[tuple[str, ...]], raw: str, r: Reading) -> tuple[str, ...]:
    return read_ids(i.name, raw, r.problems)


def _seconds(bounds: tuple[float, float], *, integer: bool) -> Reader[float]:
    def read(i: Input[float], raw: str, r: Reading) -> float:
        return read_number(i.name, raw, float(i.default), bounds, r.problems, integer=integer)

    return read


def _pattern(pattern: str, example: str) -> Reader[str | None]:
    def read(i: Input[str | None], raw: str, r: Reading) -> str | None:
        return read_pattern(i.name, raw, pattern, example, r.problems)

    return read


def _choice(*allowed: str) -> Reader[str]:
    def read(i: Input[str], raw: str, r: Reading) -> str:
        if raw in ("", *allowed):
            return raw or i.default
        r.problems.append(InputProblem(i.name, f"{shown(raw)} is not one of {', '.join(allowed)}."))
        return i.default

    return read


IfExists = Literal["use", "fail", "update"]


def _if_exists(i: Input[IfExists], raw: str, r: Reading) -> IfExists:
    match _choice("use", "fail", "update")(i, raw, r):  # type: ignore[arg-type]
        case "fail":
            return "fail"
        case "update":
            return "update"
        case _:
            return "use"


def _token(i: Input[str], raw: str, r: Reading) -> str:
    """The token, masked at once; whether it may be missing is the dry run's to say."""
    if raw:
        r.on_secret(raw)
    if any(ch.isspace() or not ch.isprintable() for ch in raw):
        r.problems.append(
            InputProblem(
                i.name,
                "contains whitespace, line breaks or control characters; paste the token alone.",
            )
        )
    return raw


def _sha(i: Input[str | None], raw: str, r: Reading) -> str | None:
    if not raw:
        return None
    if SHA_PATTERN.fullmatch(raw):
        return raw.lower()
    r.problems.append(
        InputProblem(
            i.name,
            f"{shown(raw)} is not a full commit id: use its 40 hexadecimal characters, or leave "
            "it empty to build the latest commit Northflank is set to build.",
        )
    )
    return None


def _build_arguments(i: Input[dict[str, str]], raw: str, r: Reading) -> dict[str, str]:
    return parse_build_arguments(raw, r.problems)


def _run_environment(i: Input[dict[str, str]], raw: str, r: Reading) -> dict[str, str]:
    found = parse_build_arguments(raw, r.problems, i.name, RUNTIME_ENV_PATTERN, RUNTIME_ENV_RULE)
    for value in found.values():
        r.on_secret(value)  # a run's variables are often secrets (a database URL)
    return found


def _secrets(key_problem: Callable[[str], str | None]) -> Reader[dict[str, SecretContent]]:
    def read(i: Input[dict[str, SecretContent]], raw: str, r: Reading) -> dict[str, SecretContent]:
        return parse_secret_map(
            i.name, raw, key_problem, r.env, r.workspace, r.problems, r.on_secret
        )

    return read


def _text(i: Input[str], raw: str, r: Reading) -> str:
    return raw


# What ${args.KEY} can name: letters, digits and _ (a template reference's syntax).
TEMPLATE_ARG_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
TEMPLATE_ARG_RULE = "an argument's name holds letters, digits and _, not starting with a digit"
STAGE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def _template_arguments(i: Input[dict[str, str]], raw: str, r: Reading) -> dict[str, str]:
    return parse_build_arguments(raw, r.problems, i.name, TEMPLATE_ARG_PATTERN, TEMPLATE_ARG_RULE)


def _template_overrides(
    i: Input[dict[str, Any] | None], raw: str, r: Reading
) -> dict[str, Any] | None:
    """A JSON object of objects: each key a node's ref, each value the fields to set."""
    if not raw:
        return None
    try:
        loaded = json.loads(raw)
    except (ValueError, RecursionError):
        loaded = None
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in loaded.items()
    ):
        r.problems.append(
            InputProblem(
                i.name,
                "must be a JSON object whose values are objects, e.g. "
                '{"build": {"branch": "main"}} (each key a ref of the template).',
            )
        )
        return None
    return loaded


def _release_flow(i: Input[tuple[str, str] | None], raw: str, r: Reading) -> tuple[str, str] | None:
    """<pipeline-id>/<stage>."""
    if not raw:
        return None
    pipeline, _, stage = raw.partition("/")
    if ID_PATTERN.fullmatch(pipeline) and STAGE_PATTERN.fullmatch(stage):
        return pipeline, stage
    r.problems.append(
        InputProblem(
            i.name,
            f"{shown(raw)} is not <pipeline-id>/<stage>: a pipeline's id (lowercase letters, "
            "digits and hyphens), a slash, and the stage's name (e.g. web-pipeline/staging).",
        )
    )
    return None


# -- the inputs, in action.yml's order ------------------------------------------------------

API_TOKEN = Input("api-token", _token, cli="$NORTHFLANK_API_TOKEN", how="env")
API_URL = Input[str](
    "api-url", lambda i, raw, r: read_api_url(raw, r.problems), DEFAULT_API_URL, "--api-url"
)
PROJECT_ID = Input("project-id", _required_id, cli="--project-id")
TEAM_ID = Input("team-id", _optional_id, cli="--team-id")
JOB_ID = Input("job-id", _ids, cli="--job-id", how="repeat")
SERVICE_ID = Input("service-id", _ids, cli="--service-id", how="repeat")
BRANCH = Input[str | None]("branch", lambda i, raw, r: read_branch(raw, r.problems), cli="--branch")
PULL_REQUEST_ID = Input[int | None](
    "pull-request-id", lambda i, raw, r: read_pull_request(raw, r.problems), cli="--pull-request-id"
)
SERVICE_SPEC = Input("service-spec", _text, cli="--spec", whole=True)
IF_EXISTS = Input("if-exists", _if_exists, "use", "--if-exists")
SHA = Input("sha", _sha, "${{ github.event.pull_request.head.sha || github.sha }}", "--sha")
BUILD_ARGUMENTS = Input(
    "build-arguments", _build_arguments, cli="--build-arg", how="repeat", whole=True
)
BUILD_FILES = Input(
    "build-files", _secrets(build_file_key_problem), cli="--build-file", how="repeat", whole=True
)
DOCKER_SECRET_MOUNTS = Input(
    "docker-secret-mounts",
    _secrets(mount_key_problem),
    cli="--secret-mount",
    how="repeat",
    whole=True,
)
DOCKERFILE_PATH = Input(
    "dockerfile-path", _pattern(DOCKERFILE_PATH_PATTERN, "/Dockerfile"), cli="--dockerfile-path"
)
DOCKER_WORK_DIR = Input(
    "docker-work-dir", _pattern(DOCKER_WORK_DIR_PATTERN, "/"), cli="--docker-work-dir"
)
DOCKERFILE_TARGET = Input(
    "dockerfile-target",
    _pattern(DOCKERFILE_TARGET_PATTERN, "production"),
    cli="--dockerfile-target",
)
WAIT = Input("wait", _boolean, "true", "--no-wait", how="off")
TIMEOUT_SECONDS = Input(
    "timeout-seconds", _seconds(TIMEOUT_RANGE, integer=True), "3600", "--timeout-seconds"
)
# 30 s, not 10: the forecast makes checks dense where the end is likely (engine/schedule.py;
# the figures in docs/benchmarks.md).
POLL_INTERVAL_SECONDS = Input(
    "poll-interval-seconds", _seconds(POLL_RANGE, integer=False), "30", "--poll-interval-seconds"
)
ABORT_ON_CANCEL = Input("abort-on-cancel", _boolean, "true", "--no-abort-on-cancel", how="off")
SHOW_LOGS = Input("show-logs", _boolean, "true", "--no-logs", how="off")
DRY_RUN = Input("dry-run", _boolean, "false", "--dry-run", how="on")
BUILD_ID = Input("build-id", _text, cli="--build-id")  # checked with reuse: inputs/config.py
REUSE = Input("reuse", _choice("never", "succeeded", "any"), "never", "--reuse")
DEPLOY_SERVICES = Input("deploy-services", _ids, cli="--deploy-service", how="repeat")
RUN_JOB = Input("run-job", _optional_id, cli="--run-job")
RUN_JOB_ENVIRONMENT = Input(
    "run-job-environment", _run_environment, cli="--run-env", how="repeat", whole=True
)
RELEASE_FLOW = Input("release-flow", _release_flow, cli="--release-flow")
WORKFLOW = Input("workflow", _optional_id, cli="--workflow")
TEMPLATE_ARGUMENTS = Input(
    "template-arguments", _template_arguments, cli="--template-arg", how="repeat", whole=True
)
TEMPLATE_OVERRIDES = Input(
    "template-overrides", _template_overrides, cli="--template-overrides", whole=True
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
