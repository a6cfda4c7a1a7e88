"""The action's typed configuration, and the validation of every input into it.

All problems are collected and reported together; a problem names the input, what is wrong
and what is allowed, and never repeats a secret. Core code takes an ``ActionConfig`` and
never reads the environment itself.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

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
from northflank_build.api.routes import BuildTarget
from northflank_build.inputs.problems import InputProblem, InvalidInputs
from northflank_build.inputs.sources import parse_build_arguments, parse_secret_map

if TYPE_CHECKING:  # loaded at run time only when a service-spec is given (with PyYAML)
    from northflank_build.inputs.service_spec import BuildServiceSpec

DEFAULT_API_URL = "https://api.northflank.com"
# Northflank ids are slugs of names ("My App" -> "my-app"), so this rejects nothing real
# while keeping path separators, queries and spaces out of the URL.
ID_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$")
SHA_PATTERN = re.compile(r"^[0-9a-fA-F]{40}$")
SECRET_MOUNT_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE")
TIMEOUT_RANGE = (1, 432_000)  # 5 days: the longest a self-hosted runner job may run
POLL_RANGE = (1.0, 3600.0)
# 30 s, not 10: the forecast makes checks dense where the end is likely (issue #6).
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
    job_id: str | None
    service_id: str | None
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

    @property
    def target(self) -> BuildTarget | None:
        """What to build; None when the step only creates a build service."""
        if self.job_id:
            return BuildTarget("job", self.job_id)
        if self.service_id:
            return BuildTarget("service", self.service_id)
        if self.service_spec is not None and (self.branch or self.pull_request_id is not None):
            return BuildTarget("service", self.service_spec.service_id)
        return None

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


def shown(value: str, limit: int = 60) -> str:
    """A non-secret value quoted for a message: one line, bounded."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 4] + '..."'


def _id(name: str, value: str, problems: list[InputProblem], *, required: bool) -> str | None:
    if not value:
        if required:
            problems.append(InputProblem(name, "is required and was not given."))
        return None
    if not ID_PATTERN.fullmatch(value):
        problems.append(
            InputProblem(
                name,
                f"{shown(value)} is not a Northflank id; ids are 1-100 lowercase letters, digits "
                "and hyphens, not starting or ending with a hyphen (the slug of the name, "
                "e.g. my-project).",
            )
        )
        return None
    return value


def _bool(name: str, value: str, default: bool, problems: list[InputProblem]) -> bool:
    if value == "":
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    problems.append(
        InputProblem(
            name,
            f"{shown(value)} is not a boolean; use one of true, True, TRUE, false, False, FALSE "
            "(YAML 1.2).",
        )
    )
    return default


def _number(
    name: str,
    value: str,
    default: float,
    bounds: tuple[float, float],
    problems: list[InputProblem],
    *,
    integer: bool,
) -> float:
    if value == "":
        return default
    low, high = bounds
    kind = "a whole number of seconds" if integer else "a number of seconds"
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        problems.append(
            InputProblem(name, f"{shown(value)} is not {kind}; allowed: {low:g} to {high:g}.")
        )
        return default
    if not (low <= number <= high):  # also rejects nan
        problems.append(
            InputProblem(name, f"{shown(value)} is out of range; allowed: {low:g} to {high:g}.")
        )
        return default
    return number


def _api_url(value: str, problems: list[InputProblem]) -> str:
    name = "api-url"
    url = value or DEFAULT_API_URL
    # urlsplit silently drops tabs and line breaks inside a URL: refuse them, and any other
    # control character or space, before it does.
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        problems.append(
            InputProblem(
                name, f"contains spaces, line breaks or control characters; e.g. {DEFAULT_API_URL}."
            )
        )
        return DEFAULT_API_URL
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        problems.append(InputProblem(name, f"{shown(url)} is not a URL; e.g. {DEFAULT_API_URL}."))
        return DEFAULT_API_URL
    if parts.scheme not in ("https", "http") or not host:
        problems.append(
            InputProblem(
                name, f"{shown(url)} must be an https:// URL with a host, e.g. {DEFAULT_API_URL}."
            )
        )
        return DEFAULT_API_URL
    if parts.username or parts.password or parts.query or parts.fragment:
        problems.append(
            InputProblem(
                name,
                "must not carry credentials, a query or a fragment; pass the token as api-token.",
            )
        )
        return DEFAULT_API_URL
    if parts.scheme == "http" and not is_loopback(host):
        problems.append(
            InputProblem(
                name,
                f"{shown(url)} uses plain http, which would send the token unencrypted; http is "
                "allowed only for loopback hosts (127.0.0.1, localhost, ::1). Use https.",
            )
        )
        return DEFAULT_API_URL
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pattern(
    name: str, value: str, pattern: str, example: str, problems: list[InputProblem]
) -> str | None:
    if not value:
        return None
    if not re.fullmatch(pattern, value):
        problems.append(
            InputProblem(name, f"{shown(value)} does not match {pattern} (e.g. {example}).")
        )
        return None
    if any(seg in (".", "..") for seg in value.split("/")):
        problems.append(
            InputProblem(name, f"{shown(value)} must not contain . or .. path segments.")
        )
        return None
    return value


def _build_file_key(key: str) -> str | None:
    if re.fullmatch(DOCKERFILE_PATH_PATTERN, key) and not any(
        s in (".", "..") for s in key.split("/")
    ):
        return None
    return (
        f"{shown(key)} is not an absolute file path; build files go to absolute paths made "
        "of letters, digits, '.', '_' and '-', e.g. /app/.npmrc."
    )


def _mount_key(key: str) -> str | None:
    if SECRET_MOUNT_ID_PATTERN.fullmatch(key):
        return None
    return (
        f"{shown(key)} is not a Docker secret mount id; use letters, digits, '_', '.' and '-', "
        "e.g. npm_token (as in RUN --mount=type=secret,id=npm_token)."
    )


# git check-ref-format, simplified: what a branch name on a Git host can be.
BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def _branch(value: str, problems: list[InputProblem]) -> str | None:
    if not value:
        return None
    bad_ends = value.startswith(("-", "/", ".")) or value.endswith(("/", ".", ".lock"))
    if len(value) > 255 or BRANCH_FORBIDDEN.search(value) or bad_ends:
        problems.append(
            InputProblem(
                "branch",
                f"{shown(value)} is not a valid Git branch name (no spaces, ~ ^ : ? * [ \\, '..', "
                "'//' or '@{'; not starting with - / . or ending with / . .lock; at most 255 characters).",
            )
        )
        return None
    return value


def _pull_request(value: str, problems: list[InputProblem]) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not (1 <= int(value) <= 2**31 - 1):
        problems.append(
            InputProblem(
                "pull-request-id", f"{shown(value)} is not a pull request number (e.g. 42)."
            )
        )
        return None
    return int(value)


def _targets(
    service_id: str | None,
    spec_given: bool,
    spec: BuildServiceSpec | None,
    branch: str | None,
    pull_request: int | None,
    raw: dict[str, str],
    problems: list[InputProblem],
) -> None:
    """Which resource the step works on: the rules that tie the target inputs together."""
    if raw["job-id"] and raw["service-id"]:
        problems.append(InputProblem("service-id", "give either job-id or service-id, not both."))
    elif spec_given and raw["job-id"]:
        problems.append(
            InputProblem(
                "job-id", "cannot be combined with service-spec, which creates a build service."
            )
        )
    elif not spec_given and not raw["job-id"] and not raw["service-id"]:
        problems.append(
            InputProblem(
                "job-id",
                "one of job-id or service-id is required (or service-spec to create a build service).",
            )
        )
    if spec is not None and service_id and service_id != spec.service_id:
        problems.append(
            InputProblem(
                "service-id",
                f"{shown(service_id)} differs from {spec.service_id!r}, the id Northflank derives from the spec's name.",
            )
        )
    for name, given in (("branch", branch), ("pull-request-id", pull_request)):
        if given is not None and raw["job-id"]:
            problems.append(
                InputProblem(
                    name,
                    "applies to service builds only; a job builds its configured branch (pass sha for a commit).",
                )
            )
    if branch is not None and pull_request is not None:
        problems.append(
            InputProblem(
                "pull-request-id",
                "give either branch or pull-request-id, not both (a build service builds one of them).",
            )
        )


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
    dry_run = _bool("dry-run", val("dry-run"), False, problems)
    if not token and dry_run:
        pass  # a dry run sends nothing, so it works without secrets (pull requests from forks)
    elif not token:
        problems.append(
            InputProblem(
                "api-token",
                "is required and was not given (e.g. api-token: ${{ secrets.NORTHFLANK_API_TOKEN }}).",
            )
        )
    elif any(ch.isspace() or not ch.isprintable() for ch in token):
        problems.append(
            InputProblem(
                "api-token",
                "contains whitespace, line breaks or control characters; paste the token alone.",
            )
        )

    api_url = _api_url(val("api-url"), problems)
    project_id = _id("project-id", val("project-id"), problems, required=True)
    team_id = _id("team-id", val("team-id"), problems, required=False)
    raw = {name: val(name) for name in ("job-id", "service-id")}
    job_id = _id("job-id", raw["job-id"], problems, required=False)
    service_id = _id("service-id", raw["service-id"], problems, required=False)
    branch = _branch(val("branch"), problems)
    pull_request = _pull_request(val("pull-request-id"), problems)
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
                    f"{shown(sha_raw)} is not a full commit sha; use 40 hexadecimal characters, "
                    "or an empty value to build the latest commit of the job's branch.",
                )
            )

    build_arguments = parse_build_arguments(read("build-arguments") or "", problems)
    build_files = parse_secret_map(
        "build-files",
        read("build-files") or "",
        _build_file_key,
        env,
        workspace,
        problems,
        on_secret,
    )
    mounts = parse_secret_map(
        "docker-secret-mounts",
        read("docker-secret-mounts") or "",
        _mount_key,
        env,
        workspace,
        problems,
        on_secret,
    )
    dockerfile_path = _pattern(
        "dockerfile-path", val("dockerfile-path"), DOCKERFILE_PATH_PATTERN, "/Dockerfile", problems
    )
    docker_work_dir = _pattern(
        "docker-work-dir", val("docker-work-dir"), DOCKER_WORK_DIR_PATTERN, "/", problems
    )
    dockerfile_target = _pattern(
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
            spec_text, env, workspace, problems, on_secret, (_build_file_key, _mount_key)
        )
    _targets(service_id, bool(spec_text.strip()), spec, branch, pull_request, raw, problems)
    wait = _bool("wait", val("wait"), True, problems)
    abort_on_cancel = _bool("abort-on-cancel", val("abort-on-cancel"), True, problems)
    show_logs = _bool("show-logs", val("show-logs"), True, problems)
    timeout = _number(
        "timeout-seconds", val("timeout-seconds"), 3600, TIMEOUT_RANGE, problems, integer=True
    )
    poll = _number(
        "poll-interval-seconds",
        val("poll-interval-seconds"),
        DEFAULT_POLL_INTERVAL_S,
        POLL_RANGE,
        problems,
        integer=False,
    )

    if problems or project_id is None:
        raise InvalidInputs(problems)
    return ActionConfig(
        api_token=Secret(token),
        api_url=api_url,
        project_id=project_id,
        team_id=team_id,
        job_id=job_id,
        service_id=service_id,
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
    )
