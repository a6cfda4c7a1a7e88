"""Reading inputs: where their text comes from (``Reading``), what an input declares
(``Input``), and the readers the declarations in inputs/declared.py use: text into a value,
or a problem naming the input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from northflank_build.api.bodies import (
    RUN_NAME_LENGTH,
    RUN_NAME_PATTERN,
    SecretContent,
)
from northflank_build.inputs.fields import (
    ID_PATTERN,
    read_bool,
    read_id,
    read_ids,
    read_number,
    read_pattern,
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
How = Literal["value", "repeat", "off", "on", "env", "action"]  # "action": no CLI form


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


def read_boolean(i: Input[bool], raw: str, r: Reading) -> bool:
    return read_bool(i.name, raw, i.default == "true", r.problems)


def read_optional_id(i: Input[str | None], raw: str, r: Reading) -> str | None:
    return read_id(i.name, raw, r.problems, required=False)


def read_required_id(i: Input[str | None], raw: str, r: Reading) -> str | None:
    return read_id(i.name, raw, r.problems, required=True)


def read_id_list(i: Input[tuple[str, ...]], raw: str, r: Reading) -> tuple[str, ...]:
    return read_ids(i.name, raw, r.problems)


def read_seconds(bounds: tuple[float, float], *, integer: bool) -> Reader[float]:
    def read(i: Input[float], raw: str, r: Reading) -> float:
        return read_number(i.name, raw, float(i.default), bounds, r.problems, integer=integer)

    return read


def read_matching(pattern: str, example: str) -> Reader[str | None]:
    def read(i: Input[str | None], raw: str, r: Reading) -> str | None:
        return read_pattern(i.name, raw, pattern, example, r.problems)

    return read


def read_choice(*allowed: str) -> Reader[str]:
    def read(i: Input[str], raw: str, r: Reading) -> str:
        if raw in ("", *allowed):
            return raw or i.default
        r.problems.append(InputProblem(i.name, f"{shown(raw)} is not one of {', '.join(allowed)}."))
        return i.default

    return read


IfExists = Literal["use", "fail", "update"]


def read_if_exists(i: Input[IfExists], raw: str, r: Reading) -> IfExists:
    match read_choice("use", "fail", "update")(i, raw, r):  # type: ignore[arg-type]
        case "fail":
            return "fail"
        case "update":
            return "update"
        case _:
            return "use"


def read_token(i: Input[str], raw: str, r: Reading) -> str:
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


def read_sha(i: Input[str | None], raw: str, r: Reading) -> str | None:
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


def read_build_arguments(i: Input[dict[str, str]], raw: str, r: Reading) -> dict[str, str]:
    return parse_build_arguments(raw, r.problems)


def read_run_environment(i: Input[dict[str, str]], raw: str, r: Reading) -> dict[str, str]:
    found = parse_build_arguments(raw, r.problems, i.name, RUNTIME_ENV_PATTERN, RUNTIME_ENV_RULE)
    for value in found.values():
        r.on_secret(value)  # a run's variables are often secrets (a database URL)
    return found


def read_secrets(key_problem: Callable[[str], str | None]) -> Reader[dict[str, SecretContent]]:
    def read(i: Input[dict[str, SecretContent]], raw: str, r: Reading) -> dict[str, SecretContent]:
        return parse_secret_map(
            i.name, raw, key_problem, r.env, r.workspace, r.problems, r.on_secret
        )

    return read


def read_text(i: Input[str], raw: str, r: Reading) -> str:
    return raw


# What ${args.KEY} can name: letters, digits and _ (a template reference's syntax).
TEMPLATE_ARG_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
TEMPLATE_ARG_RULE = "an argument's name holds letters, digits and _, not starting with a digit"
STAGE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")


def read_template_arguments(i: Input[dict[str, str]], raw: str, r: Reading) -> dict[str, str]:
    return parse_build_arguments(raw, r.problems, i.name, TEMPLATE_ARG_PATTERN, TEMPLATE_ARG_RULE)


def read_template_overrides(
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


def read_run_name(i: Input[str | None], raw: str, r: Reading) -> str | None:
    """A run's (and a preview's) name: the API's run-name pattern, 3 to 39 characters."""
    if not raw:
        return None
    low, high = RUN_NAME_LENGTH
    if low <= len(raw) <= high and re.fullmatch(RUN_NAME_PATTERN, raw):
        return raw
    r.problems.append(
        InputProblem(
            i.name,
            f"{shown(raw)} is not a run name: {low} to {high} letters, digits and single "
            "hyphens or spaces between them, starting with a letter (e.g. pr-42).",
        )
    )
    return None


def read_trigger_ref(i: Input[str | None], raw: str, r: Reading) -> str | None:
    """A template ref: letters, digits, - and _."""
    if not raw:
        return None
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}", raw):
        return raw
    r.problems.append(InputProblem(i.name, f"{shown(raw)} is not a ref: letters, digits, - and _."))
    return None


def read_release_flow(
    i: Input[tuple[str, str] | None], raw: str, r: Reading
) -> tuple[str, str] | None:
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


def read_secret_text(i: Input[str], raw: str, r: Reading) -> str:
    """A token for another service (GitHub's): masked at once."""
    if raw:
        r.on_secret(raw)
    return raw


def read_environment(i: Input[str | None], raw: str, r: Reading) -> str | None:
    """A GitHub environment's name: up to 255 characters, no control characters."""
    if not raw:
        return None
    if len(raw) <= 255 and raw.isprintable() and "/" not in raw[:1]:
        return raw
    r.problems.append(
        InputProblem(
            i.name,
            f"{shown(raw)} is not a GitHub environment name (1 to 255 printable characters).",
        )
    )
    return None


def read_header(i: Input[str], raw: str, r: Reading) -> str:
    """A comment's heading: one line, printable, bounded."""
    line = " ".join(raw.split())[:200]
    return line if line.isprintable() else ""
