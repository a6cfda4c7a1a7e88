"""The build-service description (``service-spec``): parsed, defaulted and validated whole.

Fields and rules are those of the create-build-service body (seed 003 and the official
schema ``create-service-build``). Every problem names its field path, e.g.
``buildSettings.dockerfile.dockerFilePath``, and what is allowed.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from northflank_build.api.bodies import DOCKER_WORK_DIR_PATTERN, DOCKERFILE_PATH_PATTERN
from northflank_build.inputs.problems import InputProblem
from northflank_build.inputs.sources import encode_secret, read_source

INPUT = "service-spec"
# The seed says at most 20 characters; the API today (official schema) allows 54.
NAME_PATTERN = r"^[a-zA-Z]((-|\s)?[a-zA-Z0-9]+((-|\s)[a-zA-Z0-9]+)*)?$"
DESCRIPTION_PATTERN = r"^[a-zA-Z0-9.,?\s\\/'\"()[\];`%^&*\-_:!]+$"
PLAN_PATTERN = r"^[A-Za-z0-9-]+$"
TAG_PATTERN = r"^[a-zA-Z0-9]+(-[a-zA-Z0-9]+)*$"
PROJECT_URL_PATTERN = (
    r"^(https:\/\/)?((www(\.[a-zA-Z0-9\-]{2,})+\.)?[a-zA-Z0-9\-]{2,})(\.([a-zA-Z0-9\-]{2,}))+"
    r"(\/([a-zA-Z0-9\-._]{2,}))+?$"
)
RESTRICTION_PATTERN = r"^[^?:@$~ [\]{}]*$"
SELF_HOSTED_VCS_PATTERN = r"^[A-Za-z0-9-]+\/[A-Za-z0-9-]+$"
StorageSize = Literal[16384, 32768, 65536, 131072, 262144, 524288]
Builder = Literal[
    "HEROKU_24", "HEROKU_22", "HEROKU_22_CLASSIC", "HEROKU_20", "HEROKU_18", "GOOGLE_V1",
    "GOOGLE_22", "CNB_ALPINE", "CNB_BIONIC", "PAKETO_TINY", "PAKETO_BASE", "PAKETO_FULL",
    "PAKETO_JAMMY_TINY", "PAKETO_JAMMY_BASE", "PAKETO_JAMMY_FULL",
]  # fmt: skip


class _Spec(BaseModel):
    # python-re: the schema's patterns are JavaScript-style ("[" inside classes).
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        regex_engine="python-re",
    )


class SecretContent(_Spec):
    """A secret file or Docker secret mount: base64 data, as the API wants it."""

    data: str
    encoding: str = "utf-8"


class GpuConfiguration(_Spec):
    gpu_type: str
    timesliced: bool | None = None
    gpu_count: float | None = None


class Gpu(_Spec):
    enabled: bool | None = None
    configuration: GpuConfiguration | None = None


class Billing(_Spec):
    build_plan: str | None = Field(default=None, pattern=PLAN_PATTERN)
    deployment_plan: str | None = Field(default=None, pattern=PLAN_PATTERN)
    gpu: Gpu | None = None


class VcsData(_Spec):
    project_url: str = Field(pattern=PROJECT_URL_PATTERN)
    project_type: Literal["bitbucket", "gitlab", "github", "self-hosted", "azure"]
    self_hosted_vcs_id: str | None = Field(default=None, pattern=SELF_HOSTED_VCS_PATTERN)
    account_login: str | None = None
    vcs_link_id: str | None = Field(default=None, min_length=24, max_length=24)


class EphemeralStorage(_Spec):
    storage_size: StorageSize | None = None


class Storage(_Spec):
    ephemeral_storage: EphemeralStorage | None = None


class Buildkit(_Spec):
    use_internal_cache: bool | None = None
    internal_cache_storage: float | None = None
    use_cache: bool | None = None
    cache_storage_size: float | None = None


class DockerfileSettings(_Spec):
    build_engine: Literal["kaniko", "buildkit"] | None = None
    docker_file_path: str = Field(pattern=DOCKERFILE_PATH_PATTERN)
    docker_work_dir: str = Field(pattern=DOCKER_WORK_DIR_PATTERN)
    use_cache: bool | None = None
    buildkit: Buildkit | None = None


class BuildpackSettings(_Spec):
    builder: Builder | None = None
    buildpack_locators: list[str] | None = None
    build_context: str | None = Field(default=None, pattern=DOCKER_WORK_DIR_PATTERN)
    use_cache: bool | None = None


class BuildSettings(_Spec):
    dockerfile: DockerfileSettings | None = None
    buildpack: BuildpackSettings | None = None
    storage: Storage | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> BuildSettings:
        if (self.dockerfile is None) == (self.buildpack is None):
            raise ValueError("needs exactly one of dockerfile or buildpack")
        return self


class CrossProjectAccess(_Spec):
    enabled: bool
    projects: list[str]
    is_allow_list: bool


class BuildConfiguration(_Spec):
    pr_restrictions: list[str] | None = None
    branch_restrictions: list[str] | None = None
    path_ignore_rules: list[str] | None = Field(default=None, max_length=200)
    is_allow_list: bool | None = None
    ci_ignore_flags_enabled: bool | None = None
    ci_ignore_flags: list[str] | None = Field(default=None, max_length=200)
    dockerfile_target: str | None = None
    docker_credentials: list[str] | None = None
    include_git_folder: bool | None = None
    full_git_clone: bool | None = None
    storage: Storage | None = None
    cross_project_access: CrossProjectAccess | None = None
    enable_git_lfs: bool | None = None

    @model_validator(mode="after")
    def item_rules(self) -> BuildConfiguration:
        for field, pattern in (
            ("pr_restrictions", RESTRICTION_PATTERN),
            ("branch_restrictions", RESTRICTION_PATTERN),
        ):
            for rule in getattr(self, field) or []:
                if not re.fullmatch(pattern, rule):
                    raise ValueError(
                        f"{to_camel(field)} rule {rule!r} must not contain ? : @ $ ~ space [ ] {{ }}"
                    )
        for rule in self.path_ignore_rules or []:
            if len(rule) > 260:
                raise ValueError("each pathIgnoreRules entry is at most 260 characters")
        for flag in self.ci_ignore_flags or []:
            if len(flag) > 72:
                raise ValueError("each ciIgnoreFlags entry is at most 72 characters")
        for credential in self.docker_credentials or []:
            if not re.fullmatch(PLAN_PATTERN, credential):
                raise ValueError(
                    f"dockerCredentials entry {credential!r} must match {PLAN_PATTERN}"
                )
        return self


class Infrastructure(_Spec):
    architecture: Literal["x86", "arm"] | None = None


class BuildServiceSpec(_Spec):
    """Body of ``POST``/``PUT .../services/build``."""

    name: str = Field(min_length=3, max_length=54, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=200, pattern=DESCRIPTION_PATTERN)
    tags: list[str] | None = None
    stage_id: str | None = None
    billing: Billing
    infrastructure: Infrastructure | None = None
    disabled_ci: bool | None = Field(default=None, alias="disabledCI")
    build_source: Literal["git", "bundle"] | None = None
    vcs_data: VcsData
    build_settings: BuildSettings
    build_configuration: BuildConfiguration | None = None
    build_arguments: dict[str, str] | None = None
    build_files: dict[str, SecretContent] | None = None
    docker_secret_mounts: dict[str, SecretContent] | None = None

    @model_validator(mode="after")
    def tag_rules(self) -> BuildServiceSpec:
        for tag in self.tags or []:
            if not (1 <= len(tag) <= 100 and re.fullmatch(TAG_PATTERN, tag)):
                raise ValueError(
                    f"tag {tag!r} must be 1-100 letters and digits in hyphen-separated groups"
                )
        return self

    @property
    def service_id(self) -> str:
        """Northflank derives the id from the name: ``My App`` -> ``my-app``."""
        return re.sub(r"[\s-]+", "-", self.name.strip().lower())

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def _message(error: Mapping[str, Any]) -> str:
    path = ".".join(str(part) for part in error["loc"] if part not in ("function-after",))
    kind = error["type"]
    if kind == "missing":
        text = "is required"
    elif kind == "extra_forbidden":
        text = "is not a field of a build service (check the spelling against the create-build-service API)"
    else:
        text = str(error["msg"]).removeprefix("Value error, ")
    return f"{path}: {text}" if path else text


def load_spec_text(value: str, workspace: Path, problems: list[InputProblem]) -> Any:
    """Inline YAML/JSON, or the path of a YAML/JSON file in the workspace."""
    text = value
    line = value.strip()
    # One line with no "key: value" and no {...} is a file path; anything else is the spec.
    if "\n" not in line and ": " not in line and not line.startswith("{"):
        if "\x00" in line:
            problems.append(
                InputProblem(
                    INPUT, "contains a NUL character; give a file path or the spec inline."
                )
            )
            return None
        path = (workspace / line).resolve()
        if not path.is_relative_to(workspace.resolve()):
            problems.append(InputProblem(INPUT, f"{value.strip()!r} points outside the workspace."))
            return None
        try:
            is_file = path.is_file()
        except OSError:  # a name too long for a path, for one
            is_file = False
        if not is_file:
            problems.append(
                InputProblem(
                    INPUT,
                    f"no file {value.strip()[:60]!r} in the workspace; give a YAML/JSON file path "
                    "or the spec inline.",
                )
            )
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
    try:
        loaded = yaml.safe_load(text)
    except RecursionError:
        loaded = _TOO_DEEP
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid syntax"
        problems.append(InputProblem(INPUT, f"is not valid YAML or JSON ({problem}{where})."))
        return None
    if loaded is _TOO_DEEP or _deeper_than(loaded, MAX_DEPTH):
        problems.append(
            InputProblem(
                INPUT, f"is nested more than {MAX_DEPTH} levels deep; a build service spec is not."
            )
        )
        return None
    return loaded


# A create-build-service body nests about 6 levels; far deeper is a mistake or an attack.
MAX_DEPTH = 32
_TOO_DEEP = object()


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iteratively: no recursion to exhaust)."""
    stack = [(value, 0)]
    seen: set[int] = set()
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict | list) and id(item) not in seen:
            seen.add(id(item))  # YAML aliases can repeat a node (or make a cycle)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _secret_map(
    raw: Any,
    field: str,
    key_ok: Callable[[str], str | None],
    env: Mapping[str, str],
    workspace: Path,
    problems: list[InputProblem],
    on_secret: Callable[[str], None],
) -> dict[str, Any] | None:
    """``{key: "env:NAME" | "file/path" | {data, encoding}}`` -> ``{key: {data, encoding}}``."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(
            InputProblem(
                INPUT,
                f"{field}: must be a mapping of {field} entries to sources (env:NAME or a workspace file).",
            )
        )
        return None
    result: dict[str, Any] = {}
    for key, source in raw.items():
        fault = key_ok(str(key))
        if fault:
            problems.append(InputProblem(INPUT, f"{field}.{key}: {fault}"))
            continue
        if isinstance(source, str):
            content = read_source(INPUT, f"{field}.{key}", source, env, workspace, problems)
            if content is not None:
                result[str(key)] = encode_secret(content, on_secret).to_json()
        else:  # an explicit {data, encoding}: the model checks it; mask what it carries
            if isinstance(source, dict) and isinstance(source.get("data"), str):
                on_secret(source["data"])
                with contextlib.suppress(ValueError):  # not base64: the encoded form is masked
                    decoded = base64.b64decode(source["data"], validate=True)
                    on_secret(decoded.decode("utf-8", errors="replace"))
            result[str(key)] = source
    return result


def parse_service_spec(
    value: str,
    env: Mapping[str, str],
    workspace: Path,
    problems: list[InputProblem],
    on_secret: Callable[[str], None],
    key_checks: tuple[Callable[[str], str | None], Callable[[str], str | None]],
) -> BuildServiceSpec | None:
    raw = load_spec_text(value, workspace, problems)
    if raw is None and not problems:
        problems.append(InputProblem(INPUT, "is empty."))
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(
            InputProblem(
                INPUT,
                "must be a mapping with the build service's fields (name, billing, buildSettings, ...).",
            )
        )
        return None
    spec = dict(raw)
    # Sensible defaults inside a GitHub workflow: this repository, on GitHub.
    server, repository = env.get("GITHUB_SERVER_URL", ""), env.get("GITHUB_REPOSITORY", "")
    vcs = spec.get("vcsData")
    if vcs is None or isinstance(vcs, dict):
        vcs = dict(vcs or {})
        if "projectUrl" not in vcs and server and repository:
            vcs["projectUrl"] = f"{server.rstrip('/')}/{repository}"
        vcs.setdefault("projectType", "github")
        spec["vcsData"] = vcs
    before = len(problems)
    file_key, mount_key = key_checks
    for field, check in (("buildFiles", file_key), ("dockerSecretMounts", mount_key)):
        if field in spec:
            spec[field] = _secret_map(
                spec[field], field, check, env, workspace, problems, on_secret
            )
    try:
        model = BuildServiceSpec.model_validate(spec)
    except ValidationError as exc:
        problems.extend(InputProblem(INPUT, _message(error)) for error in exc.errors())
        return None
    return model if len(problems) == before else None
