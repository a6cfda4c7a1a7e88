"""The run's events as step-log lines, and the end of the step: outputs, state, the
failure annotation and the job summary, on every path."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from northflank_build.api.bodies import StartBuildRequest
from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import LogLine
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.engine.report import BuildReport, Outcome, elapsed_label, outputs
from northflank_build.github.commands import (
    LINE_BREAKS,
    STATE_BUILD_ID,
    STATE_FINISHED,
    STATE_START_SENT,
    STATE_TARGET,
    RunnerFiles,
    StopCommands,
    command,
    error,
    save_state,
    say,
    set_output,
    write_line,
)
from northflank_build.github.summary import invalid_summary, summary
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import ACTION, describe

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build


class ActionEvents:
    """Run events as step-log lines; the build id goes out the moment it exists."""

    def __init__(self) -> None:
        self._trouble_streak = 0
        self._target: BuildTarget | None = None
        self._group_open = False

    def service(self, service: EnsuredService) -> None:
        if service.created:
            say(f"Created the build service {service.service_id}.")
        else:
            how = "updated it from the spec" if service.updated else "using it as it is"
            say(f"The build service {service.service_id} already exists; {how}.")
        set_output("service-id", service.service_id)
        set_output("service-created", "true" if service.created else "false")

    def starting(self, target: BuildTarget, body: StartBuildRequest, at: float) -> None:
        self._target = target
        # Before the request goes out: if the runner kills this step while it is out, the
        # post step can still find the build it made.
        save_state(STATE_START_SENT, f"{target.kind}:{target.id}|{at:.3f}|{body.sha or ''}")
        what = body.sha or (
            f"pull request {body.pull_request_id}" if body.pull_request_id else None
        )
        what = what or (
            f"the head of branch {body.branch}"
            if body.branch
            else "the latest commit of its branch"
        )
        say(f"Starting a Northflank build of {target.label} at {what}.")
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
            say("Overrides: " + "; ".join(parts) + ".")

    def started(self, build: Build, adopted: bool) -> None:
        how = " (found after the start request's answer was lost)" if adopted else ""
        say(f"Build {build.id} started{how}.")
        set_output("build-id", build.id)
        save_state(STATE_BUILD_ID, build.id)
        if self._target is not None:
            save_state(STATE_TARGET, f"{self._target.kind}:{self._target.id}")

    def status(self, build: Build, elapsed: float) -> None:
        self._trouble_streak = 0
        extra = f" ({build.message})" if build.message and build.finished else ""
        say(f"[{elapsed_label(elapsed)}] {build.status or 'UNKNOWN'}{extra}")

    def trouble(self, problem: Exception, elapsed: float) -> None:
        self._trouble_streak += 1
        if self._trouble_streak == 1:
            text = problem.message if isinstance(problem, NorthflankError) else str(problem)
            say(
                f"[{elapsed_label(elapsed)}] Cannot read the build status right now ({text}); still waiting."
            )

    def note(self, message: str) -> None:
        say(message)

    def planned(self, method: str, url: str, body: dict[str, Any]) -> None:
        say(f"Dry run: would send {method} {url} with this body (secrets redacted):")
        for line in json.dumps(body, indent=2).splitlines():
            say("  " + line)

    def log_group(self, snapshot: Build, source: str) -> None:
        how = f"status and build log ({source})" if source else "status"
        command("group", f"Northflank build {snapshot.id}: {how}")
        self._group_open = True

    def log_lines(self, lines: list[LogLine]) -> None:
        # Log text is untrusted: it is printed only while commands are paused. Masks apply.
        StopCommands.pause()
        for line in lines:
            for part in LINE_BREAKS.split(line.text):
                write_line(f"  | {part}")

    def log_group_end(self) -> None:
        StopCommands.resume()
        if self._group_open:
            command("endgroup")
            self._group_open = False


def report_invalid(exc: InvalidInputs) -> None:
    for problem in exc.problems:
        error(f"{problem.name}: {problem.message}", title=f"Invalid input '{problem.name}'")
    say(exc.message)


def finish(report: BuildReport) -> int:
    """Outputs, state, summary and the failure annotation, on every path; the exit code."""
    StopCommands.resume()
    for name, value in outputs(report).items():
        set_output(name, value)
    # Reaching here, the main step has dealt with the build (aborted it, or left it running
    # as asked); a failed abort, or a start whose build is unknown, is left to the post step.
    if report.aborted is not False and report.start_unknown_since is None:
        save_state(STATE_FINISHED, "true")
    worded = describe(report.failure, ACTION) if report.failure is not None else None
    if worded is not None and report.outcome is not Outcome.INVALID:
        error(worded.explain(), title=worded.title)
    RunnerFiles.write(
        "GITHUB_STEP_SUMMARY",
        "",
        summary(
            report,
            worded,
            server_url=os.environ.get("GITHUB_SERVER_URL", ""),
            repository=os.environ.get("GITHUB_REPOSITORY", ""),
        ),
    )
    result = report.build.status if report.build else report.outcome.value
    code = report.outcome.exit_code
    if RunnerFiles.problem is not None and code == 0:
        code = Outcome.ERROR.exit_code  # the outputs a later step reads may be missing
    say(f"Result: {report.outcome.value} ({result}); exit code {code}.")
    return code


def finish_invalid(exc: InvalidInputs) -> int:
    report_invalid(exc)
    for name, value in outputs(BuildReport(Outcome.INVALID)).items():
        set_output(name, value)
    RunnerFiles.write("GITHUB_STEP_SUMMARY", "", invalid_summary(exc))
    return Outcome.INVALID.exit_code
