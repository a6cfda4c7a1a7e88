"""The post step: abort a build that the main step started but could not abort.

The runner kills the main step 10 s after a cancel (SIGINT, SIGTERM, SIGKILL); a build id
saved to GITHUB_STATE arrives here as STATE_build_id. Idempotent: a build that concluded,
or that the main step already handled, is left alone. Never fails the job.
"""

from __future__ import annotations

import os
import sys

import github_action_utils as gha

from . import github
from .client import NorthflankClient
from .clock import SystemClock
from .config import parse_inputs
from .errors import ActionFailure, InvalidInputs
from .retry import RetryPolicy
from .target import BuildTarget


def main() -> int:
    build_id = gha.get_state(github.STATE_BUILD_ID) or ""
    if not build_id or gha.get_state(github.STATE_FINISHED) == "true":
        return 0
    try:
        config = parse_inputs(github.get_input, os.environ, github.workspace(), github.mask)
    except InvalidInputs:
        github.say(
            f"Build {build_id} may still be running; inputs are invalid, so it was not checked."
        )
        return 0
    if not config.abort_on_cancel:
        github.say(f"Build {build_id} may still be running (abort-on-cancel: false).")
        return 0
    # The main step saved what it built; the inputs alone cannot say for a service-spec.
    kind, _, target_id = (gha.get_state(github.STATE_TARGET) or "").partition(":")
    target = config.target
    if kind == "service" and target_id:
        target = BuildTarget("service", target_id)
    elif kind == "job" and target_id:
        target = BuildTarget("job", target_id)
    if target is None:
        return 0
    retry = RetryPolicy(attempts=3, total_seconds=20.0)
    with NorthflankClient.for_config(
        config, SystemClock(), retry=retry, on_debug=github.debug
    ) as client:
        try:
            build = client.get_build(target, build_id)
            if build.finished:
                github.say(f"Build {build_id} has concluded ({build.status}); nothing to abort.")
                return 0
            github.say(
                f"The main step ended while build {build_id} was {build.status}; aborting it."
            )
            client.abort_build(target, build_id, timeout=10.0)
            github.say(f"Aborted build {build_id}.")
        except ActionFailure as exc:
            gha.warning(
                f"Could not abort build {build_id}: {exc.explain()}",
                title="Northflank build may still be running",
            )
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
