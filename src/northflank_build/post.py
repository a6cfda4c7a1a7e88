"""The post step: abort the builds (and the job run) that the main step started but could
not abort.

The runner kills the main step 10 s after a cancel (SIGINT, SIGTERM, SIGKILL); a build id
saved to GITHUB_STATE arrives here as STATE_build_id (STATE_build_id_2, ... for further
targets), and a start request whose answer never came as STATE_start_sent (then the build is
looked for among the target's recent builds). A build the main step did not start (build-id,
reuse) is never saved, so never aborted here.
Idempotent: a build that concluded, or that the main step already handled, is left alone;
when its status cannot be read, the abort is sent anyway (aborting a concluded build is
harmless, and this step exists for degraded moments). Never fails the job.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

import github_action_utils as gha
import httpx

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock, SystemClock
from northflank_build.api.errors import NorthflankError
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BUILD_ID_PATTERN, BuildTarget
from northflank_build.engine.run import connect
from northflank_build.engine.waiting import Snapshot
from northflank_build.github import commands as runner
from northflank_build.inputs.config import parse_inputs
from northflank_build.inputs.fields import ID_PATTERN, MAX_TARGETS
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import ACTION, describe

# What the main step can have saved; anything else in the state is not ours to act on.
_BUILD_ID = re.compile(BUILD_ID_PATTERN)
_TARGET = re.compile(r"^(job|service):(.+)$")  # the id: inputs.fields.ID_PATTERN
_SHA = re.compile(r"^[0-9a-f]{40}$")
POST_DEADLINE_S = 25.0


@dataclass(frozen=True)
class Saved:
    """What the main step saved of one target's build."""

    build_id: str
    start_sent: str  # "<kind>:<id>|<epoch seconds>|<sha>" of a start whose answer never came
    target: str  # "<kind>:<id>"


def saved() -> list[Saved]:
    """Each target's slot in the state (github/commands.py: slot), in order."""
    found = []
    for index in range(MAX_TARGETS):
        build_id = (gha.get_state(runner.slot(runner.STATE_BUILD_ID, index)) or "").strip()
        start_sent = (gha.get_state(runner.slot(runner.STATE_START_SENT, index)) or "").strip()
        target = (gha.get_state(runner.slot(runner.STATE_TARGET, index)) or "").strip()
        if build_id or start_sent:
            found.append(Saved(build_id, start_sent, target))
    return found


def main(*, transport: httpx.BaseTransport | None = None, clock: Clock | None = None) -> int:
    slots = [] if gha.get_state(runner.STATE_FINISHED) == "true" else saved()
    # A job run the main step started and did not see end (it clears this when it did).
    job_id, _, run_id = (gha.get_state(runner.STATE_JOB_RUN) or "").strip().partition("|")
    run = (job_id, run_id) if ID_PATTERN.fullmatch(job_id) and _BUILD_ID.fullmatch(run_id) else None
    if not slots and run is None:
        return 0
    try:
        config = parse_inputs(runner.get_input, os.environ, runner.workspace(), runner.mask)
    except InvalidInputs:
        runner.say(
            "Builds the main step started may still be running; inputs are invalid, so they were not checked."
        )
        return 0
    if not config.abort_on_cancel:
        runner.say("Builds the main step started may still be running (abort-on-cancel: false).")
        return 0
    clock = clock or SystemClock()
    retry = RetryPolicy(attempts=3, total_seconds=15.0)
    with connect(
        config,
        clock,
        retry=retry,
        on_debug=runner.debug,
        transport=transport,
        deadline=clock.monotonic() + POST_DEADLINE_S,
    ) as client:
        for one in slots:
            _abort_saved(client, config.target, one)
        if run is not None:
            _abort_run_if_running(client, *run)
    return 0


def _abort_run_if_running(client: NorthflankClient, job_id: str, run_id: str) -> None:
    try:
        _abort_if_running(
            f"run {run_id}",
            lambda: client.runs.get(job_id, run_id),
            lambda: client.runs.abort(job_id, run_id, timeout=10.0),
        )
    except NorthflankError as exc:
        runner.warning(
            f"Could not abort run {run_id}: {describe(exc, ACTION).explain()}",
            title="Northflank job run may still be running",
        )


def _abort_saved(client: NorthflankClient, fallback: BuildTarget | None, one: Saved) -> None:
    build_id = one.build_id
    if build_id and not _BUILD_ID.fullmatch(build_id):
        runner.say("The saved build id is not one Northflank gives; nothing was sent.")
        return
    # The main step saved what it built; the inputs alone cannot say for a service-spec.
    saved_target, _, rest = one.start_sent.partition("|")
    match = _TARGET.fullmatch(one.target or saved_target)
    if match and ID_PATTERN.fullmatch(match.group(2)):
        target: BuildTarget | None = BuildTarget(match.group(1), match.group(2))  # type: ignore[arg-type]
    else:
        target = fallback
    if target is None:
        return
    try:
        if not build_id:
            build_id = _find_unanswered_start(client, target, rest)
            if not build_id:
                return
        _abort_if_running(
            f"build {build_id}",
            lambda: client.get_build(target, build_id),
            lambda: client.abort_build(target, build_id, timeout=10.0),
        )
    except NorthflankError as exc:
        runner.warning(
            f"Could not abort build {build_id or '(unknown)'}: {describe(exc, ACTION).explain()}",
            title="Northflank build may still be running",
        )


def _find_unanswered_start(client: NorthflankClient, target: BuildTarget, saved: str) -> str:
    """The build of a start request whose answer never came, or "" if there is none."""
    at_text, _, sha = saved.partition("|")
    try:
        sent_at = float(at_text)
    except ValueError:
        return ""
    if not math.isfinite(sent_at) or not (sha == "" or _SHA.fullmatch(sha)):
        return ""
    page = client.list_builds(target, 100)
    from northflank_build.api.adopt import adoptable  # noqa: PLC0415

    found = adoptable(page.builds, sha or None, sent_at, page.skew)
    if found is None:
        runner.say(f"No build of {target.label} started by the main step was found.")
        return ""
    runner.say(f"Found build {found.id}, started by the main step before it was cut off.")
    return found.id


def _abort_if_running(what: str, read: Callable[[], Snapshot], abort: Callable[[], None]) -> None:
    """Abort ``what`` (a build, a job run) unless it has concluded; when its status cannot
    be read, abort it anyway (aborting a concluded one is harmless)."""
    try:
        seen = read()
    except NorthflankError as exc:
        runner.say(f"Cannot read {what} ({exc.message}); aborting it anyway.")
    else:
        if seen.finished:
            runner.say(
                f"{what[:1].upper()}{what[1:]} has concluded ({seen.status}); nothing to abort."
            )
            return
        runner.say(f"The main step ended while {what} was {seen.status}; aborting it.")
    abort()
    runner.say(f"Aborted {what}.")


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
