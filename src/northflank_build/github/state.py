"""What the main step leaves the post step, in GITHUB_STATE: one list of records
(engine/kind.py: Record), one per operation it started or may have started, written before
each start request goes out and again the moment the operation's id is known, and at the
end of the step only what is left for the post step (engine/report.py: leftovers).

One codec for both sides: github/events.py writes it, post.py reads it. The post step
treats it as untrusted: what does not parse is skipped, and each kind checks the ids and
owners it is given before anything goes into a URL."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from northflank_build.engine.kind import Record

STATE_OPERATIONS = "operations"
STATE_GITHUB = "github"  # what the pull request is still to be told (github/ending.py)
MAX_RECORDS = 32  # a step starts at most 5 builds, a job run and a few more
_MAX_CHARS = 64 * 1024


def encode(records: Iterable[Record]) -> str:
    return json.dumps(
        [
            {
                "kind": r.kind,
                "owner": r.owner,
                "id": r.id,
                "sent_at": r.sent_at,
                "sha": r.sha,
                "name": r.name,
            }
            for r in records
        ],
        separators=(",", ":"),
    )


def decode(text: str) -> list[Record]:
    """The records in ``text``; whatever is not one is skipped."""
    if not text or len(text) > _MAX_CHARS:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [r for r in map(_record, items[:MAX_RECORDS]) if r is not None]


def _record(item: Any) -> Record | None:
    if not isinstance(item, dict):
        return None
    kind, owner, op_id, sha, name = (
        item.get(k, "") for k in ("kind", "owner", "id", "sha", "name")
    )
    if not all(isinstance(v, str) for v in (kind, owner, op_id, sha, name)):
        return None
    sent_at = item.get("sent_at")
    if sent_at is not None:
        ok = isinstance(sent_at, int | float) and not isinstance(sent_at, bool)
        if not ok or not math.isfinite(sent_at) or sent_at <= 0:
            return None
    if not op_id and sent_at is None:
        return None  # nothing to look for
    when = float(sent_at) if sent_at is not None else None
    return Record(kind, owner, op_id, when, sha, name)


class Book:
    """The main step's records, by the start's key ("build", "build_2", "job-run")."""

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}

    def put(self, key: str, record: Record) -> str:
        """Record one; the state's new value."""
        self._records[key] = record
        return encode(self._records.values())
