"""The post step: abort what the main step started but could not abort, and tell the pull
request how the step ended when the main step could not (github/ending.py).

The runner kills the main step 10 s after a cancel (SIGINT, SIGTERM, SIGKILL); what it
started, or sent a start request for, is in its state as records (github/state.py): one per
operation, written before the start request went out and again once the id was known, and,
when the main step reached its end, only what it left for this step. A record without an
id is a start whose answer never came: what it made is looked for and aborted only when it
is provably the main step's (api/adopt.py: claim). A build the main step did not start
(build-id, reuse) is never recorded, so never aborted here.

Idempotent: what has concluded is left alone; when its status cannot be read, the abort is
sent anyway (aborting a concluded one is harmless, and this step exists for degraded
moments). It never fails the job: whatever goes wrong is a warning, and the next record is
still tried. Each kind (engine/kinds.py) checks what a record names before any request.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from functools import partial

import github_action_utils as gha
import httpx

from northflank_build.api.client import NorthflankClient
from northflank_build.api.clock import Clock, SystemClock
from northflank_build.api.errors import NorthflankError
from northflank_build.api.retry import RetryPolicy
from northflank_build.api.wire import printable
from northflank_build.engine.kind import Kind, Reached, Record
from northflank_build.engine.kinds import BY_NAME
from northflank_build.engine.run import connect
from northflank_build.github import commands as runner
from northflank_build.github import event
from northflank_build.github.ending import Ending
from northflank_build.github.ending import decode as decode_ending
from northflank_build.github.state import STATE_GITHUB, STATE_OPERATIONS, decode
from northflank_build.github.surfaces import open_surfaces
from northflank_build.inputs.config import ActionConfig
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import ACTION, describe

POST_DEADLINE_S = 25.0
GITHUB_DEADLINE_S = 20.0  # after the aborts: the pull request's deployment and comment
STILL_RUNNING = "Northflank build or job run may still be running"


def saved() -> list[Record]:
    return decode((gha.get_state(STATE_OPERATIONS) or "").strip())


def main(
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    kinds: Mapping[str, Kind] = BY_NAME,
    github_transport: httpx.BaseTransport | None = None,
) -> int:
    """``transport``, ``clock``, ``kinds`` and ``github_transport`` are for tests (in
    process, virtual time, a kind declared in a test)."""
    try:
        _main(transport, clock, kinds, github_transport)
    except BaseException as exc:  # a bug of ours, or a signal: still never fail the job
        runner.warning(
            f"The post step could not finish ({type(exc).__name__}: {printable(str(exc))[:200]}); "
            "what the main step started may still be running: look on Northflank.",
            title=STILL_RUNNING,
        )
    return 0


def _main(
    transport: httpx.BaseTransport | None,
    clock: Clock | None,
    kinds: Mapping[str, Kind],
    github_transport: httpx.BaseTransport | None,
) -> None:
    records = saved()
    ending = decode_ending((gha.get_state(STATE_GITHUB) or "").strip())
    if not records and ending is None:
        return
    try:
        config = event.step_config()
    except InvalidInputs:
        runner.say(
            "What the main step started may still be running; inputs are invalid, so it was not checked."
        )
        return
    clock = clock or SystemClock()
    if records:
        _abort_left(config, records, transport, clock, kinds)
    if ending is not None:
        _end_surfaces(config, ending, clock, github_transport)


def _end_surfaces(
    config: ActionConfig,
    ending: Ending,
    clock: Clock,
    transport: httpx.BaseTransport | None,
) -> None:
    """What the main step could not tell the pull request (cancelled, or out of time)."""
    deadline = clock.monotonic() + GITHUB_DEADLINE_S
    facts = event.facts(os.environ)
    surfaces = open_surfaces(config, os.environ, facts, clock, deadline, runner.warning, transport)
    if surfaces is None:
        return
    try:
        surfaces.send(ending)
    finally:
        surfaces.api.close()
    runner.say("Updated the pull request's deployment and comment.")


def _abort_left(
    config: ActionConfig,
    records: list[Record],
    transport: httpx.BaseTransport | None,
    clock: Clock,
    kinds: Mapping[str, Kind],
) -> None:
    if not config.waiting.abort_on_cancel:
        runner.say("What the main step started may still be running (abort-on-cancel: false).")
        return
    retry = RetryPolicy(attempts=3, total_seconds=15.0)
    deadline = clock.monotonic() + POST_DEADLINE_S
    with connect(
        config, clock, retry=retry, on_debug=runner.debug, transport=transport, deadline=deadline
    ) as client:
        for record in records:
            kind = kinds.get(record.kind)
            if kind is None:
                runner.say(
                    f"The state names an unknown kind of operation ({record.kind[:40]!r}); skipped."
                )
                continue
            what = f"{kind.noun} {record.id or '(unknown)'}"
            _each(what, partial(_abort_recorded, client, kind, record))


def _each(what: str, act: Callable[[], None]) -> None:
    """One record, whatever happens to it: a failure is a warning, and the next is tried."""
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


def _abort_recorded(client: NorthflankClient, kind: Kind, record: Record) -> None:
    if not record.id:
        record = _find_unanswered_start(client, kind, record)
        if not record.id:
            return
    reached = kind.reach(client, record)
    if reached is None:
        runner.say(f"The saved {kind.noun} is not one Northflank gives; nothing was sent.")
        return
    _abort_if_running(f"{kind.noun} {record.id}", reached)


def _find_unanswered_start(client: NorthflankClient, kind: Kind, record: Record) -> Record:
    """The record with the id of what a start whose answer never came made, when provably
    the main step's; else as it was (and what was seen is said)."""
    found = kind.find(client, record)
    if found is None:
        return record
    noun = kind.noun
    if found.ours is not None:
        runner.say(f"Found {noun} {found.ours.id}, started by the main step before it was cut off.")
        return Record(record.kind, record.owner, found.ours.id, sha=record.sha)
    if found.candidates:
        ids = ", ".join(one.id for one in found.candidates)
        runner.say(
            f"{noun.capitalize()}s {ids} of {kind.owner_label(record.owner)} started around the main step's "
            f"start; none is provably the main step's, so none was aborted."
        )
    else:
        runner.say(
            f"No {noun} of {kind.owner_label(record.owner)} started by the main step was found."
        )
    return record


def _abort_if_running(what: str, reached: Reached) -> None:
    """Abort ``what`` unless it has concluded; when its status cannot be read, whatever the
    reason, abort it anyway (aborting a concluded one is harmless)."""
    try:
        seen = reached.read()
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
    reached.abort()
    runner.say(f"Aborted {what}.")


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
