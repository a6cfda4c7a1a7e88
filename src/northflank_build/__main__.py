"""The action's entry point: ``python -m northflank_build`` (PID 1 in the container)."""

from __future__ import annotations

# The cancel handlers go in before anything else is imported: a SIGINT that arrives while
# the interpreter loads the action must not end in a KeyboardInterrupt traceback. Before
# this line only CPython's own start-up runs (about 15 ms here; its default handler cannot
# be replaced from Python code any earlier).
from northflank_build import _early

_early.install()

import os  # noqa: E402
import sys  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import TYPE_CHECKING  # noqa: E402

import httpx  # noqa: E402

from northflank_build.api.clock import Clock, SystemClock  # noqa: E402
from northflank_build.api.logs import TailOpener  # noqa: E402
from northflank_build.engine.cancel import CancelScope  # noqa: E402
from northflank_build.engine.outcome import Outcome  # noqa: E402
from northflank_build.engine.report import StepReport  # noqa: E402
from northflank_build.engine.run import connect, internal_error, run_step  # noqa: E402
from northflank_build.github import commands as runner  # noqa: E402
from northflank_build.github import event, events  # noqa: E402
from northflank_build.inputs.config import ActionConfig  # noqa: E402
from northflank_build.inputs.problems import InvalidInputs  # noqa: E402

if TYPE_CHECKING:
    from northflank_build.github.surfaces import Surfaces


def main(
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    cancel: CancelScope | None = None,
    open_tail: TailOpener | None = None,
    github_transport: httpx.BaseTransport | None = None,
) -> int:
    """``transport``, ``clock``, ``cancel``, ``open_tail`` and ``github_transport`` are for
    tests (in process, virtual time)."""
    if cancel is None:
        cancel = CancelScope()
        cancel.install(_early.PENDING)  # takes over, with any signal already seen
    try:  # parse_inputs masks the token first, before anything else can be printed
        config = event.step_config()
    except InvalidInputs as exc:
        return events.finish_invalid(exc)
    report = StepReport(Outcome.ERROR)
    clock = clock or SystemClock(cancel.event)
    deadline = clock.monotonic() + config.waiting.timeout_seconds
    surfaces = _github(config, clock, deadline, github_transport, cancel)
    if config.dry_run and surfaces is not None:
        surfaces.planned(events.ActionEvents().planned)  # sends nothing to GitHub
        surfaces = None
    heard = events.ActionEvents(len(config.targets), surfaces)
    try:
        if config.dry_run:
            return events.finish(_dry_run(config, heard, clock, deadline, transport))
        with connect(
            config, clock, on_debug=runner.debug, transport=transport, deadline=deadline
        ) as client:
            report = run_step(config, client, clock, cancel, heard, open_tail)
    except Exception as exc:  # a bug of ours outside the run (it keeps its own report)
        report = replace(report, outcome=Outcome.ERROR, failure=internal_error(exc))
        _debug_traceback()
    try:
        return events.finish(report, surfaces)
    except Exception as exc:  # a bug while reporting: the outputs written so far stay
        failure = internal_error(exc)
        runner.error(f"Internal error while reporting: {failure.kind}: {failure.text}")
        return Outcome.ERROR.exit_code


def _dry_run(
    config: ActionConfig,
    heard: events.ActionEvents,
    clock: Clock,
    deadline: float,
    transport: httpx.BaseTransport | None,
) -> StepReport:
    """What would be sent; with a token, reads (GET only) whether each target would reuse
    a build. Loaded only for a dry run: start-up is user-facing."""
    from northflank_build.engine.dry_run import dry_run, reads  # noqa: PLC0415

    if not (config.connection.api_token.get_secret_value() and reads(config)):
        return dry_run(config, heard)
    with connect(
        config, clock, on_debug=runner.debug, transport=transport, deadline=deadline
    ) as client:
        return dry_run(config, heard, client)


def _github(
    config: ActionConfig,
    clock: Clock,
    deadline: float,
    transport: httpx.BaseTransport | None,
    cancel: CancelScope,
) -> Surfaces | None:
    """The pull request's surfaces the inputs ask for (github/surfaces.py), or None."""
    if config.surfaces is None:
        return None
    from northflank_build.github.surfaces import open_surfaces  # noqa: PLC0415 - when asked

    facts = event.facts(os.environ)
    return open_surfaces(
        config, os.environ, facts, clock, deadline, runner.warning, transport, cancel
    )


def _debug_traceback() -> None:
    if runner.debug_enabled():
        import traceback  # noqa: PLC0415 - only for a crash, in debug mode

        for line in traceback.format_exc().splitlines():
            runner.debug(line)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
