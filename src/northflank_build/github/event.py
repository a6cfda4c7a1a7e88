"""What the workflow's event says (GITHUB_EVENT_PATH), read at the edge: the inputs and the
engine never open the event file."""

from __future__ import annotations

import json
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
