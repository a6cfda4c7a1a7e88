"""Multiline ``NAME=VALUE`` / ``NAME=SOURCE`` inputs, and reading secret sources.

``SOURCE`` is ``env:VAR`` (a variable of the step's environment) or a file path relative to
the workspace. Secrets come from these sources rather than from YAML, which keeps them out
of quoting trouble and lets the action mask the exact bytes it sends.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from northflank_build.api.bodies import SecretContent
from northflank_build.inputs.problems import InputProblem

ENV_VAR_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
BUILD_ARG_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# Run-time variables of a job run: "letters, numbers, hyphens, forward slashes and dots"
# (start-job-run's runtimeEnvironment), and _ as in the API's own example (VARIABLE_1).
RUNTIME_ENV_PATTERN = re.compile(r"^[A-Za-z0-9_./-]{1,256}$")
BUILD_ARG_RULE = (
    "a build argument name starts with a letter or _ and holds letters, digits, _, . and -"
)
RUNTIME_ENV_RULE = "a variable name holds letters, digits, _, -, / and ."
# Northflank documents no cap; this stops a wrong path (a binary, a log file) from being
# base64-encoded into the request as a "secret".
MAX_SECRET_BYTES = 512 * 1024


@dataclass(frozen=True)
class Line:
    number: int
    key: str
    value: str


def split_pairs(name: str, text: str, problems: list[InputProblem], what: str) -> list[Line]:
    """Split ``KEY=VALUE`` lines; blank lines and ``#`` comments are skipped.

    Values are kept verbatim after the first ``=``. Problems name the line, never its value.
    """
    lines: list[Line] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(InputProblem(name, f"line {number} is not {what}."))
            continue
        if key in seen:
            problems.append(
                InputProblem(name, f"line {number} repeats {key!r} (first on line {seen[key]}).")
            )
            continue
        seen[key] = number
        lines.append(Line(number, key, value))
    return lines


def parse_build_arguments(
    text: str,
    problems: list[InputProblem],
    name: str = "build-arguments",
    key_pattern: re.Pattern[str] = BUILD_ARG_PATTERN,
    key_rule: str = BUILD_ARG_RULE,
) -> dict[str, str]:
    """Multiline ``KEY=VALUE`` or a JSON object of strings (build-arguments, and
    run-job-environment with its own key rule)."""
    stripped = text.strip()
    if not stripped:
        return {}
    if stripped.startswith("{"):
        try:
            loaded = json.loads(stripped)
        except RecursionError:
            problems.append(
                InputProblem(
                    name, "as JSON it is nested far too deeply; give an object of strings."
                )
            )
            return {}
        except json.JSONDecodeError as exc:
            problems.append(
                InputProblem(
                    name,
                    f"looks like JSON but does not parse ({exc.msg}, at its line {exc.lineno}).",
                )
            )
            return {}
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            problems.append(
                InputProblem(
                    name,
                    'as JSON it must be an object of strings, e.g. {"NODE_ENV": "production"}.',
                )
            )
            return {}
        pairs = [Line(0, str(k), v) for k, v in loaded.items()]
    else:
        pairs = split_pairs(name, stripped, problems, "KEY=VALUE")
    result: dict[str, str] = {}
    for pair in pairs:
        where = f"line {pair.number}" if pair.number else "a key"
        if not key_pattern.fullmatch(pair.key):
            problems.append(
                InputProblem(name, f"{where} has the name {pair.key[:40]!r}; {key_rule}.")
            )
            continue
        result[pair.key] = pair.value
    return result


def read_source(
    name: str,
    key: str,
    source: str,
    env: Mapping[str, str],
    workspace: Path,
    problems: list[InputProblem],
) -> bytes | None:
    """Read ``env:VAR`` or a workspace-relative file; report what is wrong, not the content."""
    source = source.strip()
    read = _from_env(source[4:].strip(), env) if source.startswith("env:") else None
    if read is None:
        read = _from_file(source, workspace)
    if isinstance(read, bytes):
        return read
    message, secret = read
    problems.append(InputProblem(name, f"{key}: {message}", secret=secret))
    return None


# What is wrong with a source: the message, and the secret's variable when it is missing.
Unread = tuple[str, str]


def _from_env(var: str, env: Mapping[str, str]) -> bytes | Unread:
    if not ENV_VAR_PATTERN.fullmatch(var):
        return f"env:{var[:40]} is not a valid environment variable name.", ""
    if var not in env:
        return f"environment variable {var} is not set.", var
    if env[var] == "":
        return (
            f"environment variable {var} is empty (secrets are empty on pull requests from "
            "forks and when the secret does not exist).",
            "",
        )
    return env[var].encode("utf-8")


def _from_file(source: str, workspace: Path) -> bytes | Unread:
    if not source:
        return "the source after '=' is empty; use env:NAME or a file path.", ""
    if "\x00" in source:
        return "the source contains a NUL character.", ""
    path = Path(source)
    if path.is_absolute():
        return f"the source {source!r} must be relative to the workspace, or env:NAME.", ""
    root = workspace.resolve()
    resolved = (root / path).resolve()
    if not resolved.is_relative_to(root):
        return f"the source {source!r} points outside the workspace.", ""
    if not resolved.is_file():
        return f"no file {source!r} in the workspace ({root}).", ""
    if resolved.stat().st_size > MAX_SECRET_BYTES:
        return f"the file {source!r} is larger than {MAX_SECRET_BYTES // 1024} KiB.", ""
    return resolved.read_bytes()


def encode_secret(content: bytes, on_secret: Callable[[str], None]) -> SecretContent:
    """Mask the content and the exact base64 that is sent, then encode it.

    For a binary file the decoded text is not what is sent (nor printable): only the
    base64 is masked then.
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if text and all(ch.isprintable() or ch in "\t\r\n" for ch in text):
        on_secret(text)
    data = base64.b64encode(content).decode("ascii")
    on_secret(data)
    return SecretContent(data=data)


def parse_secret_map(
    name: str,
    text: str,
    key_ok: Callable[[str], str | None],
    env: Mapping[str, str],
    workspace: Path,
    problems: list[InputProblem],
    on_secret: Callable[[str], None],
) -> dict[str, SecretContent]:
    """Parse ``KEY=SOURCE`` lines into the API's ``{key: {data, encoding}}`` map.

    ``key_ok`` returns a problem description for a bad key, or None. Every content read is
    handed to ``on_secret`` at once, so it is masked before anything can print it.
    """
    result: dict[str, SecretContent] = {}
    for line in split_pairs(name, text, problems, "KEY=SOURCE"):
        fault = key_ok(line.key)
        if fault:
            problems.append(InputProblem(name, f"line {line.number}: {fault}"))
            continue
        content = read_source(name, line.key, line.value, env, workspace, problems)
        if content is None:
            continue
        result[line.key] = encode_secret(content, on_secret)
    return result
