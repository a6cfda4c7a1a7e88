"""The run's events as step-log lines, and the end of the step: outputs, state, the
failure annotation and the job summary, on every path."""

from __future__ import annotations

import json
import os
from collections import deque
from typing import TYPE_CHECKING, Any

from northflank_build.api.bodies import (
    InternalDeployment,
    StartBuildRequest,
    StartJobRunRequest,
)
from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import LogLine
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.engine.report import Outcome, StepReport, elapsed_label, outputs, story
from northflank_build.github.commands import (
    LINE_BREAKS,
    STATE_BUILD_ID,
    STATE_FINISHED,
    STATE_JOB_RUN,
    STATE_RUN_SENT,
    STATE_START_SENT,
    STATE_TARGET,
    RunnerFiles,
    StopCommands,
    command,
    error,
    save_state,
    say,
    set_output,
    slot,
    write_line,
)
from northflank_build.github.summary import invalid_summary, summary
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import ACTION, describe

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build, JobRun


class ActionEvents:
    """Run events as step-log lines; the build id goes out the moment it exists."""

    def __init__(self, targets: int = 1) -> None:
        self._several = targets > 1

    def _prefix(self, target: BuildTarget) -> str:
        return f"[{target.id}] " if self._several else ""

    def service(self, service: EnsuredService) -> None:
        if service.created:
            say(f"Created the build service {service.service_id}.")
        else:
            how = "updated it from the spec" if service.updated else "using it as it is"
            say(f"The build service {service.service_id} already exists; {how}.")
        set_output("service-id", service.service_id)
        set_output("service-created", "true" if service.created else "false")

    def starting(self, index: int, target: BuildTarget, body: StartBuildRequest, at: float) -> None:
        # Before the request goes out: if the runner kills this step while it is out, the
        # post step can still find the build it made.
        save_state(
            slot(STATE_START_SENT, index), f"{target.kind}:{target.id}|{at:.3f}|{body.sha or ''}"
        )
        what = body.sha or (
            f"pull request {body.pull_request_id}" if body.pull_request_id else None
        )
        what = what or (
            f"the head of branch {body.branch}"
            if body.branch
            else "the latest commit of its branch"
        )
        say(f"{self._prefix(target)}Starting a Northflank build of {target.label} at {what}.")
        overrides = body.overrides
        if overrides is not None:
            parts = []
            if overrides.build_arguments:
                parts.append("build arguments " + ", ".join(sorted(overrides.build_arguments)))
            if overrides.build_files:
                parts.append("build files " + ", ".join(sorted(overrides.build_files)))
            if overrides.docker_secret_mounts:
                parts.append("secret mounts " + ", ".join(sorted(overrides.docker_secret_mounts)))
            if overrides.docker is not None:
                docker = overrides.docker.to_json()
                parts.append(", ".join(f"{k}={v}" for k, v in docker.items()))
            say(f"{self._prefix(target)}Overrides: " + "; ".join(parts) + ".")

    def started(self, index: int, target: BuildTarget, build: Build, adopted: bool) -> None:
        how = " (found after the start request's answer was lost)" if adopted else ""
        say(f"{self._prefix(target)}Build {build.id} started{how}.")
        if not self._several:
            set_output("build-id", build.id)
        save_state(slot(STATE_BUILD_ID, index), build.id)
        save_state(slot(STATE_TARGET, index), f"{target.kind}:{target.id}")

    def reused(self, index: int, target: BuildTarget, build: Build, given: bool) -> None:
        # Not saved to the state: the post step must never abort a build this step did not
        # start.
        how = "given as build-id" if given else f"a build of {build.sha or 'this commit'}"
        if build.finished:
            say(
                f"{self._prefix(target)}Using build {build.id} of {target.label} ({how}), "
                f"concluded {build.status}: no new build."
            )
        else:
            say(
                f"{self._prefix(target)}Waiting on build {build.id} of {target.label} ({how}, "
                f"{build.status or 'UNKNOWN'}): this step did not start it, so it is never aborted."
            )
        if not self._several:
            set_output("build-id", build.id)

    def note(self, message: str) -> None:
        say(message)

    def planned(self, method: str, url: str, body: dict[str, Any]) -> None:
        say(f"Dry run: would send {method} {url} with this body (secrets redacted):")
        for line in json.dumps(body, indent=2).splitlines():
            say("  " + line)

    def watch(self, index: int, target: BuildTarget, count: int) -> TargetLog:
        return TargetLog(target.id, target.label, several=count > 1)

    def deploying(self, service_id: str, internal: InternalDeployment, instances: int) -> None:
        say(
            f"[{service_id}] Deploying build {internal.build_id} of service "
            f"{internal.build_service_id!r} ({(internal.build_sha or '')[:12]}) to deployment "
            f"service {service_id!r}; its {instances} instance(s) unchanged."
        )

    def watch_rollout(self, service_id: str) -> TargetLog:
        return TargetLog(service_id, f"service {service_id!r}", several=True, noun="rollout")

    def run_starting(self, job_id: str, body: StartJobRunRequest, at: float) -> None:
        # Before the request goes out: a run a cut-off start made is found by the post step.
        save_state(STATE_RUN_SENT, f"{job_id}|{at:.3f}")
        pinned = (
            f" with build {body.internal.build_id} of service {body.internal.build_service_id!r}"
            if body.internal
            else ""
        )
        names = sorted(body.runtime_environment or {})
        env = f"; environment {', '.join(names)}" if names else ""
        say(f"Starting a run of job {job_id!r}{pinned}{env}.")

    def run_started(self, job_id: str, run: JobRun) -> None:
        say(f"Run {run.id} of job {job_id!r} started.")
        set_output("job-run-id", run.id)
        save_state(STATE_JOB_RUN, f"{job_id}|{run.id}")
        save_state(STATE_RUN_SENT, "")  # known now: the post step reads job_run

    def watch_run(self, job_id: str) -> TargetLog:
        return TargetLog(job_id, f"job {job_id!r}", several=False, noun="job run")


# With several targets, a build's log lines are held until it concludes (at most this many,
# the last ones): GitHub's log groups cannot interleave, and five builds' lines mixed line by
# line could not be read.
HELD_LINES = 5000


class TargetLog:
    """What the step log shows of one build while it is followed. Alone, its status lines
    and its log lines live, in one group. Among several, status lines are prefixed by the
    target's id, and its log lines come in their own group the moment it concludes."""

    def __init__(self, name: str, label: str, *, several: bool, noun: str = "build") -> None:
        self._label = label  # "job 'api'"
        self._noun = noun  # what is followed: a build, a rollout, a job run
        self._several = several
        self._prefix = f"[{name}] " if several else ""
        self._trouble_streak = 0
        self._group_open = False
        self._title = ""
        self._held: deque[LogLine] = deque(maxlen=HELD_LINES)
        self._dropped = 0

    def note(self, message: str) -> None:
        say(self._prefix + message)

    def status(self, snapshot: Any, elapsed: float) -> None:
        self._trouble_streak = 0
        message = getattr(snapshot, "message", None)  # a build's; runs and rollouts have none
        extra = f" ({message})" if message and snapshot.finished else ""
        say(f"{self._prefix}[{elapsed_label(elapsed)}] {snapshot.status or 'UNKNOWN'}{extra}")

    def trouble(self, problem: Exception, elapsed: float) -> None:
        self._trouble_streak += 1
        if self._trouble_streak == 1:
            text = problem.message if isinstance(problem, NorthflankError) else str(problem)
            say(
                f"{self._prefix}[{elapsed_label(elapsed)}] Cannot read the {self._noun} status right "
                f"now ({text}); still waiting."
            )

    def log_group(self, snapshot: Any, source: str) -> None:
        noun = self._noun
        if self._several:
            if source:
                self._title = (
                    f"Northflank {noun} {snapshot.id} of {self._label}: {noun} log ({source})"
                )
            return
        how = f"status and {noun} log ({source})" if source else "status"
        command("group", f"Northflank {noun} {snapshot.id}: {how}")
        self._group_open = True

    def log_lines(self, lines: list[LogLine]) -> None:
        if self._several:
            self._dropped += max(0, len(self._held) + len(lines) - HELD_LINES)
            self._held.extend(lines)
            return
        _show(lines)

    def log_group_end(self) -> None:
        if self._several and self._title:
            command("group", self._title)
            if self._dropped:
                say(f"({self._dropped} earlier lines not shown; Northflank has the whole log.)")
            _show(list(self._held))
            self._held.clear()
            self._title = ""
            self._group_open = True
        StopCommands.resume()
        if self._group_open:
            command("endgroup")
            self._group_open = False


def _show(lines: list[LogLine]) -> None:
    # Log text is untrusted: it is printed only while commands are paused. Masks apply.
    StopCommands.pause()
    for line in lines:
        for part in LINE_BREAKS.split(line.text):
            write_line(f"  | {part}")


def report_invalid(exc: InvalidInputs) -> None:
    for problem in exc.problems:
        error(f"{problem.name}: {ACTION.problem(problem)}", title=f"Invalid input '{problem.name}'")
    say(exc.message)


def finish(step: StepReport) -> int:
    """Outputs, state, summary and the failure annotations, on every path; the exit code."""
    StopCommands.resume()
    for name, value in outputs(step).items():
        set_output(name, value)
    # Reaching here, the main step has dealt with its builds (aborted them, or left them
    # running as asked); a failed abort, or a start whose build is unknown, is left to the
    # post step.
    if all(b.aborted is not False and b.start_unknown_since is None for b in step.builds):
        save_state(STATE_FINISHED, "true")
    run = step.job_run
    if run is not None and (run.concluded or run.aborted is True):
        save_state(STATE_JOB_RUN, "")  # nothing left for the post step to abort
    if run is not None and not run.start_unknown:
        save_state(STATE_RUN_SENT, "")  # its start made no run, or made a known one
    worded = [describe(failure, ACTION) for failure in step.failures]
    for each in worded:
        error(each.explain(), title=each.title)
    RunnerFiles.write(
        "GITHUB_STEP_SUMMARY",
        "",
        summary(
            step,
            server_url=os.environ.get("GITHUB_SERVER_URL", ""),
            repository=os.environ.get("GITHUB_REPOSITORY", ""),
        ),
    )
    code = step.outcome.exit_code
    if RunnerFiles.problem is not None and code == 0:
        code = Outcome.ERROR.exit_code  # the outputs a later step reads may be missing
    say(f"Result: {step.outcome.value} ({story(step)}); exit code {code}.")
    return code


def finish_invalid(exc: InvalidInputs) -> int:
    report_invalid(exc)
    for name, value in outputs(StepReport(Outcome.INVALID)).items():
        set_output(name, value)
    RunnerFiles.write("GITHUB_STEP_SUMMARY", "", invalid_summary(exc))
    return Outcome.INVALID.exit_code
