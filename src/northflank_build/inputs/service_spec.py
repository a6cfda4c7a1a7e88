"""The build-service description (``service-spec``): parsed, defaulted and validated whole.

Inline YAML/JSON or a workspace file, into the model of inputs/spec_model.py. Every problem
names its field path, e.g. ``buildSettings.dockerfile.dockerFilePath``, and what is allowed.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from northflank_build.inputs.problems import InputProblem
from northflank_build.inputs.sources import encode_secret, read_source
from northflank_build.inputs.spec_model import BuildServiceSpec

INPUT = "service-spec"


# Where the CLI puts the repository it runs in (cli.py: from git's origin remote).
REPOSITORY_URL = "NORTHFLANK_BUILD_REPOSITORY_URL"
NO_REPOSITORY = (
    "vcsData.projectUrl (the repository to build, e.g. https://github.com/org/repo) is "
    "required: give it in the spec. In a GitHub workflow it defaults to the workflow's "
    "repository, and northflank-build takes it from the checkout's origin remote."
)


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


def _with_repository(spec: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any] | None:
    """Sensible defaults: this repository (in a GitHub workflow; the CLI passes the
    checkout's origin as REPOSITORY_URL), on GitHub. None when no repository is known."""
    server, repository = env.get("GITHUB_SERVER_URL", ""), env.get("GITHUB_REPOSITORY", "")
    here = f"{server.rstrip('/')}/{repository}" if server and repository else ""
    vcs = spec.get("vcsData")
    if vcs is None or isinstance(vcs, dict):
        vcs = dict(vcs or {})
        if "projectUrl" not in vcs:
            if not (here or env.get(REPOSITORY_URL)):
                return None
            vcs["projectUrl"] = here or env[REPOSITORY_URL]
        vcs.setdefault("projectType", "github")
        spec["vcsData"] = vcs
    return spec


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
    spec = _with_repository(dict(raw), env)
    if spec is None:
        problems.append(InputProblem(INPUT, NO_REPOSITORY))
        return None
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
