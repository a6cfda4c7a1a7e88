"""The action's entry point: ``python -m northflank_build`` (PID 1 in the container)."""

from __future__ import annotations

import os
import sys

from . import github
from .cancel import CancelScope
from .client import NorthflankClient
from .clock import SystemClock
from .config import parse_inputs
from .errors import ActionFailure, InvalidInputs
from .run import BuildReport, Outcome, dry_run, run_build


def main() -> int:
    cancel = CancelScope()
    cancel.install()  # before anything else: a cancel may come at any moment
    try:  # parse_inputs masks the token first, before anything else can be printed
        config = parse_inputs(github.get_input, os.environ, github.workspace(), github.mask)
    except InvalidInputs as exc:
        github.finish_invalid(exc)
        return Outcome.INVALID.exit_code
    if config.dry_run:
        github.finish(dry_run(config, github.ActionEvents()))
        return Outcome.DRY_RUN.exit_code
    report = BuildReport(Outcome.ERROR)
    clock = SystemClock(cancel.event)
    try:
        with NorthflankClient.for_config(config, clock, on_debug=github.debug) as client:
            report = run_build(config, client, clock, cancel, github.ActionEvents())
    except Exception as exc:  # a bug of ours: say so plainly, keep the outputs
        report.failure = ActionFailure(
            f"Internal error: {type(exc).__name__}: {exc}",
            fix="Please report this with the step log (re-run with debug logging for details).",
            title="Internal error in the action",
        )
        if github.debug_enabled():
            import traceback  # noqa: PLC0415 - only for a crash, in debug mode

            for line in traceback.format_exc().splitlines():
                github.debug(line)
        report.outcome = Outcome.ERROR
    github.finish(report)
    return report.outcome.exit_code


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
