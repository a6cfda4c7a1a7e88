"""The post step: abort the builds (and the job run) that the main step started but could
not abort.

The runner kills the main step 10 s after a cancel (SIGINT, SIGTERM, SIGKILL); a build id
saved to GITHUB_STATE arrives here as STATE_build_id (STATE_build_id_2, ... for further
targets), a start request whose answer never came as STATE_start_sent, a job run as
STATE_job_run and a run start whose answer never came as STATE_run_sent. What a cut-off
start made is looked for among the recent builds or runs and aborted only when it is
provably the main step's (api/adopt.py: claim). A build the main step did not start
(build-id, reuse) is never saved, so never aborted here.

Idempotent: a build or run that concluded, or that the main step already handled, is left
alone; when its status cannot be read, the abort is sent anyway (aborting a concluded one is
harmless, and this step exists for degraded moments). It never fails the job: whatever goes
wrong is a warning, and the next item is still tried.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import github_action_utils as gha
import httpx

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock, SystemClock
from northflank_build.api.errors import NorthflankError
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.routes import BUILD_ID_PATTERN, BuildTarget
from northflank_build.api.wire import printable
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
_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
POST_DEADLINE_S = 25.0
STILL_RUNNING = "Northflank build or job run may still be running"


@dataclass(frozen=True)
class Saved:
    """What the main step saved of one target's build."""

    build_id: str
    start_sent: str  # "<kind>:<id>|<epoch seconds>|<sha>" of a start whose answer never came
    target: str  # "<kind>:<id>"


@dataclass(frozen=True)
class SavedRun:
    """The main step's job run: its id, or when its start went out unanswered."""

    job_id: str
    run_id: str = ""
    sent_at: float | None = None


def saved() -> list[Saved]:
    """Each target's slot in the state (github/commands.py: slot), in order."""
    found = []
    for index in range(MAX_TARGETS):
        build_id = _state(runner.slot(runner.STATE_BUILD_ID, index))
        start_sent = _state(runner.slot(runner.STATE_START_SENT, index))
        target = _state(runner.slot(runner.STATE_TARGET, index))
        if build_id or start_sent:
            found.append(Saved(build_id, start_sent, target))
    return found


def saved_run() -> SavedRun | None:
    job_id, _, run_id = _state(runner.STATE_JOB_RUN).partition("|")
    if ID_PATTERN.fullmatch(job_id) and _BUILD_ID.fullmatch(run_id):
        return SavedRun(job_id, run_id)
    job_id, _, at = _state(runner.STATE_RUN_SENT).partition("|")
    sent_at = _epoch(at)
    if ID_PATTERN.fullmatch(job_id) and sent_at is not None:
        return SavedRun(job_id, sent_at=sent_at)
    return None


def _state(name: str) -> str:
    return (gha.get_state(name) or "").strip()


def _epoch(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def main(*, transport: httpx.BaseTransport | None = None, clock: Clock | None = None) -> int:
    try:
        _main(transport, clock)
    except BaseException as exc:  # a bug of ours, or a signal: still never fail the job
        runner.warning(
            f"The post step could not finish ({type(exc).__name__}: {printable(str(exc))[:200]}); "
            "what the main step started may still be running: look on Northflank.",
            title=STILL_RUNNING,
        )
    return 0


def _main(transport: httpx.BaseTransport | None, clock: Clock | None) -> None:
    slots = [] if gha.get_state(runner.STATE_FINISHED) == "true" else saved()
    run = saved_run()
    if not slots and run is None:
        return
    try:
        config = parse_inputs(runner.get_input, os.environ, runner.workspace(), runner.mask)
    except InvalidInputs:
        runner.say(
            "Builds the main step started may still be running; inputs are invalid, so they were not checked."
        )
        return
    if not config.abort_on_cancel:
        runner.say("Builds the main step started may still be running (abort-on-cancel: false).")
        return
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
            what = f"build {one.build_id or '(unknown)'}"
            _each(what, partial(_abort_saved, client, config.target, one))
        if run is not None:
            _each(
                f"run {run.run_id or '(unknown)'} of job {run.job_id!r}",
                partial(_abort_run, client, run),
            )


def _each(what: str, act: Callable[[], None]) -> None:
    """One item, whatever happens to it: a failure is a warning, and the next is tried."""
    try:
        act()
    except NorthflankError as exc:
        runner.warning(
            f"Could not abort {what}: {describe(exc, ACTION).explain()}", title=STILL_RUNNING
        )
    except Exception as exc:
        runner.warning(
            f"Could not abort {what} ({type(exc).__name__}: {printable(str(exc))[:200]}).",
            title=STILL_RUNNING,
        )


def _abort_run(client: NorthflankClient, run: SavedRun) -> None:
    runs, run_id = client.runs, run.run_id
    if not run_id:
        assert run.sent_at is not None
        found = runs.claim_started(run.job_id, run.sent_at, runs.list_recent(run.job_id))
        if found.ours is None:
            ids = ", ".join(r.id for r in found.candidates)
            runner.say(
                f"Runs {ids} of job {run.job_id!r} started around the main step's start; none is "
                "provably the main step's, so none was aborted."
                if ids
                else f"No run of job {run.job_id!r} started by the main step was found."
            )
            return
        run_id = found.ours.id
        runner.say(f"Found run {run_id}, started by the main step before it was cut off.")
    _abort_if_running(
        f"run {run_id}",
        lambda: runs.get(run.job_id, run_id),
        lambda: runs.abort(run.job_id, run_id, timeout=10.0),
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
    if not build_id:
        build_id = _find_unanswered_start(client, target, rest)
        if not build_id:
            return
    _abort_if_running(
        f"build {build_id}",
        lambda: client.get_build(target, build_id),
        lambda: client.abort_build(target, build_id, timeout=10.0),
    )


def _find_unanswered_start(client: NorthflankClient, target: BuildTarget, saved: str) -> str:
    """The build of a start request whose answer never came, when provably the main
    step's; else "" (and what was seen is said)."""
    at_text, _, sha = saved.partition("|")
    sent_at = _epoch(at_text)
    if sent_at is None or not (sha == "" or _SHA.fullmatch(sha)):
        return ""
    page = client.list_builds(target, 100)
    found = client.claim_build(page.builds, sha or None, sent_at)
    if found.ours is not None:
        runner.say(f"Found build {found.ours.id}, started by the main step before it was cut off.")
        return found.ours.id
    if found.candidates:
        ids = ", ".join(b.id for b in found.candidates)
        runner.say(
            f"Builds {ids} of {target.label} started around the main step's start; none is "
            "provably the main step's, so none was aborted."
        )
    else:
        runner.say(f"No build of {target.label} started by the main step was found.")
    return ""


def _abort_if_running(what: str, read: Callable[[], Snapshot], abort: Callable[[], None]) -> None:
    """Abort ``what`` (a build, a job run) unless it has concluded; when its status cannot
    be read, whatever the reason, abort it anyway (aborting a concluded one is harmless)."""
    try:
        seen = read()
    except Exception as exc:
        why = exc.message if isinstance(exc, NorthflankError) else type(exc).__name__
        runner.say(f"Cannot read {what} ({why}); aborting it anyway.")
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
