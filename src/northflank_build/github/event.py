"""What the workflow's event says (GITHUB_EVENT_PATH), read at the edge: the inputs and the
engine never open the event file."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from pathlib import Path

MAX_EVENT_BYTES = 25 * 1024 * 1024  # GitHub's webhook payloads are capped at 25 MB


def default_sha(env: Mapping[str, str]) -> str:
    """The value action.yml gives ``sha`` when a workflow does not: the pull request's head
    commit, else GITHUB_SHA. A different value was written by the workflow."""
    path = env.get("GITHUB_EVENT_PATH", "")
    if path:
        try:
            file = Path(path)
            if file.stat().st_size <= MAX_EVENT_BYTES:
                head = json.loads(file.read_text(encoding="utf-8"))["pull_request"]["head"]["sha"]
            else:
                head = None
        except (OSError, ValueError, KeyError, TypeError):
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
