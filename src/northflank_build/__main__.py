"""The action's entry point: ``python -m northflank_build`` (PID 1 in the container)."""

from __future__ import annotations

# The cancel handlers go in before anything else is imported: a SIGINT that arrives while
# the interpreter loads the action must not end in a KeyboardInterrupt traceback. Before
# this line only CPython's own start-up runs (about 15 ms here; its default handler cannot
# be replaced from Python code any earlier).
from . import _early

_early.install()

import os  # noqa: E402
import sys  # noqa: E402

import httpx  # noqa: E402

from . import github  # noqa: E402
from .cancel import CancelScope  # noqa: E402
from .client import NorthflankClient  # noqa: E402
from .clock import Clock, SystemClock  # noqa: E402
from .config import parse_inputs  # noqa: E402
from .errors import InvalidInputs  # noqa: E402
from .run import BuildReport, Outcome, dry_run, internal_error, run_build  # noqa: E402


def main(
    *,
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    cancel: CancelScope | None = None,
) -> int:
    """``transport``, ``clock`` and ``cancel`` are for tests (in-process, virtual time)."""
    if cancel is None:
        cancel = CancelScope()
        cancel.install()  # takes over from _early, with any signal already seen
    try:  # parse_inputs masks the token first, before anything else can be printed
        config = parse_inputs(github.get_input, os.environ, github.workspace(), github.mask)
    except InvalidInputs as exc:
        return github.finish_invalid(exc)
    if config.dry_run:
        return github.finish(dry_run(config, github.ActionEvents()))
    report = BuildReport(Outcome.ERROR)
    clock = clock or SystemClock(cancel.event)
    deadline = clock.monotonic() + config.timeout_seconds
    try:
        with NorthflankClient.for_config(
            config, clock, on_debug=github.debug, transport=transport, deadline=deadline
        ) as client:
            report = run_build(config, client, clock, cancel, github.ActionEvents())
    except Exception as exc:  # a bug of ours outside the run (it keeps its own report)
        report.failure = internal_error(exc)
        report.outcome = Outcome.ERROR
        if github.debug_enabled():
            import traceback  # noqa: PLC0415 - only for a crash, in debug mode

            for line in traceback.format_exc().splitlines():
                github.debug(line)
    return github.finish(report)


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
