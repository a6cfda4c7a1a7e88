"""What the main step leaves the post step (github/state.py), for tests: records to put in a
post step's state, and what a main step's state says is left."""

from __future__ import annotations

from collections.abc import Mapping

from northflank_build.engine.kind import Record
from northflank_build.github.state import STATE_OPERATIONS, decode, encode


def state(*records: Record) -> dict[str, str]:
    return {STATE_OPERATIONS: encode(records)}


def build(build_id: str, target: str = "job:demo-job") -> Record:
    return Record("build", target, build_id)


def build_sent(sent_at: float, sha: str = "", target: str = "job:demo-job") -> Record:
    return Record("build", target, sent_at=sent_at, sha=sha)


def run(job_id: str, run_id: str) -> Record:
    return Record("job-run", job_id, run_id)


def run_sent(job_id: str, sent_at: float) -> Record:
    return Record("job-run", job_id, sent_at=sent_at)


def records(saved: Mapping[str, str]) -> list[Record]:
    """The records in a step's state (after the main step: what the post step is told)."""
    return decode(saved.get(STATE_OPERATIONS, ""))


def unanswered(saved: Mapping[str, str]) -> list[Record]:
    """Records of starts whose answer never came: the post step looks for what they made."""
    return [r for r in records(saved) if not r.id and r.sent_at is not None]


def ids(saved: Mapping[str, str]) -> list[str]:
    return [r.id for r in records(saved) if r.id]
