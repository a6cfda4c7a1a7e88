"""One input each: raw text into a value, or a problem naming the input, what is wrong and
what is allowed. Pure: nothing here reads the environment or sends anything."""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from northflank_build.api.bodies import DOCKERFILE_PATH_PATTERN
from northflank_build.inputs.problems import InputProblem

DEFAULT_API_URL = "https://api.northflank.com"
# Northflank ids are slugs of names ("My App" -> "my-app"), so this rejects nothing real
# while keeping path separators, queries and spaces out of the URL.
ID_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?$")
SECRET_MOUNT_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
TRUE_WORDS = ("true", "True", "TRUE")
FALSE_WORDS = ("false", "False", "FALSE")


def shown(value: str, limit: int = 60) -> str:
    """A non-secret value quoted for a message: one line, bounded."""
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 4] + '..."'


def read_id(name: str, value: str, problems: list[InputProblem], *, required: bool) -> str | None:
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


# The most targets one step takes: each shares the token's rate budget, and the post step
# reads a state slot for each (post.py).
MAX_TARGETS = 20


def read_ids(name: str, value: str, problems: list[InputProblem]) -> tuple[str, ...]:
    """One id or several: one per line, or separated by commas; each checked, none twice."""
    ids: list[str] = []
    before = len(problems)
    for item in (part.strip() for part in re.split(r"[,\n]", value)):
        if not item:
            continue
        if item in ids:
            problems.append(InputProblem(name, f"names {shown(item)} twice; give each once."))
        elif read_id(name, item, problems, required=False) is not None:
            ids.append(item)
    if len(ids) > MAX_TARGETS:
        problems.append(
            InputProblem(name, f"names {len(ids)} targets; one step takes at most {MAX_TARGETS}.")
        )
    return tuple(ids) if len(problems) == before else ()


def read_bool(name: str, value: str, default: bool, problems: list[InputProblem]) -> bool:
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


def read_number(
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


def read_api_url(value: str, problems: list[InputProblem]) -> str:
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
    # Every route starts with /v1 (api/routes.py); a base URL pasted with it
    # (https://api.northflank.com/v1, as the API reference writes its paths) is the same API.
    return re.sub(r"/v1$", "", url.rstrip("/"), flags=re.IGNORECASE)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_pattern(
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


def build_file_key_problem(key: str) -> str | None:
    if re.fullmatch(DOCKERFILE_PATH_PATTERN, key) and not any(
        s in (".", "..") for s in key.split("/")
    ):
        return None
    return (
        f"{shown(key)} is not an absolute file path; build files go to absolute paths made "
        "of letters, digits, '.', '_' and '-', e.g. /app/.npmrc."
    )


def mount_key_problem(key: str) -> str | None:
    if SECRET_MOUNT_ID_PATTERN.fullmatch(key):
        return None
    return (
        f"{shown(key)} is not a Docker secret mount id; use letters, digits, '_', '.' and '-', "
        "e.g. npm_token (as in RUN --mount=type=secret,id=npm_token)."
    )


# git check-ref-format, simplified: what a branch name on a Git host can be.
BRANCH_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def read_branch(value: str, problems: list[InputProblem]) -> str | None:
    if not value:
        return None
    bad_ends = value.startswith(("-", "/", ".")) or value.endswith(("/", ".", ".lock"))
    if len(value) > 255 or BRANCH_FORBIDDEN.search(value) or bad_ends:
        problems.append(
            InputProblem(
                "branch",
                f"{shown(value)} is not a valid Git ref name (no spaces, ~ ^ : ? * [ \\, '..', "
                "'//' or '@{'; not starting with - / . or ending with / . .lock; at most 255 characters).",
            )
        )
        return None
    return value


def read_pull_request(value: str, problems: list[InputProblem]) -> int | None:
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
