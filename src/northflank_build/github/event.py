"""What the workflow's event says (GITHUB_EVENT_PATH), read at the edge: the inputs and the
engine never open the event file."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from northflank_build.github import commands as runner
from northflank_build.inputs.config import ActionConfig, parse_inputs
from northflank_build.inputs.event import EventFacts

MAX_EVENT_BYTES = 25 * 1024 * 1024  # GitHub's webhook payloads are capped at 25 MB


def default_sha(env: Mapping[str, str]) -> str:
    """The value action.yml gives ``sha`` when a workflow does not: the pull request's head
    commit, else GITHUB_SHA. A different value was written by the workflow."""
    try:
        head = _event(env)["pull_request"]["head"]["sha"]
    except (KeyError, TypeError):
        head = None
    if isinstance(head, str) and head:
        return head.lower()
    return env.get("GITHUB_SHA", "").lower()


def run_identity(env: Mapping[str, str]) -> tuple[str, str]:
    """The name a template run gets (unique to this workflow run, its attempt and this
    step: a random part tells matrix legs and repeated steps apart) and the start of its
    description: the repository and the run. Both within the API's patterns."""
    run_id = "".join(ch for ch in env.get("GITHUB_RUN_ID", "") if ch.isdigit())[-20:]
    attempt = "".join(ch for ch in env.get("GITHUB_RUN_ATTEMPT", "") if ch.isdigit())[:4] or "1"
    step = f"{env.get('GITHUB_JOB', '')}/{env.get('GITHUB_ACTION', '')}/{secrets.token_hex(8)}"
    tag = hashlib.sha256(step.encode()).hexdigest()[:6]
    name = f"gha-{run_id}-{attempt}-{tag}" if run_id else f"gha-{tag}"
    repository = env.get("GITHUB_REPOSITORY", "")
    about = f"{repository} run {run_id or '?'} attempt {attempt}".strip()
    return name, about


def facts(env: Mapping[str, str]) -> EventFacts:
    """What the event says that the inputs need: its name and action, and for a pull
    request its number, head branch and whether it comes from a fork."""
    name = env.get("GITHUB_EVENT_NAME", "")
    event = _event(env)
    pull = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else None
    if pull is None:
        action = event.get("action")
        return EventFacts(name, action if isinstance(action, str) else "")
    number = pull.get("number")
    head, base = _object(pull.get("head")), _object(pull.get("base"))
    head_repo, base_repo = _object(head.get("repo")), _object(base.get("repo"))
    fork = head_repo.get("fork") is True or (
        bool(head_repo.get("full_name"))
        and head_repo.get("full_name") != base_repo.get("full_name")
    )
    action = event.get("action")
    branch = head.get("ref")
    return EventFacts(
        name,
        action if isinstance(action, str) else "",
        number if isinstance(number, int) and not isinstance(number, bool) else None,
        branch if isinstance(branch, str) else "",
        fork,
    )


def _event(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        file = Path(path)
        if file.stat().st_size > MAX_EVENT_BYTES:
            return {}
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def step_config() -> ActionConfig:
    """The step's inputs, read as the runner gives them, with what the event says (the
    action's main step and its post step). Masks the token first; raises InvalidInputs."""
    return parse_inputs(
        runner.get_input,
        os.environ,
        runner.workspace(),
        runner.mask,
        default_sha=default_sha(os.environ),
        run_identity=run_identity(os.environ),
        event=facts(os.environ),
    )
