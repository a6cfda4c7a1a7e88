"""The GitHub-facing edge: inputs, masks, log lines, outputs, state, annotations, summary.

Everything goes through github-action-utils, which writes file commands with a random
heredoc delimiter (no value can inject another output) and escapes annotation data.
Plain log lines pass through ``say``, so text from Northflank cannot act as a command.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import github_action_utils as gha

from .bodies import StartBuildRequest
from .client import EnsuredService
from .errors import InvalidInputs, TransportFailure
from .logs import LogLine
from .report import elapsed_label, md, outputs, summary
from .run import BuildReport, Outcome
from .target import BuildTarget

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from .models import Build

STATE_BUILD_ID = "build_id"
STATE_FINISHED = "finished"
STATE_TARGET = "target"  # "job:<id>" or "service:<id>", for the post step
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def inert(text: str) -> str:
    """One log line that the runner will not read as a workflow command.

    The runner splits on CR and LF and runs a line that starts with ``::`` (after
    whitespace) or contains ``##[`` anywhere.
    """
    line = _LINE_BREAKS.sub(" ", text).replace("##[", "## [")
    return "> " + line if line.lstrip().startswith("::") else line


def say(text: str) -> None:
    gha.echo(inert(text))


def get_input(name: str) -> str | None:
    return gha.get_user_input(name)


def mask(value: str) -> None:
    if value.strip():
        gha.add_mask(value)


def workspace() -> Path:
    return Path(os.environ.get("GITHUB_WORKSPACE") or os.getcwd())


def debug_enabled() -> bool:
    return os.environ.get("RUNNER_DEBUG") == "1"


class _StopCommands:
    """While build-log text is being shown, the runner runs no workflow commands at all.

    The token is random, so no log line can end the pause; our own commands resume first.
    """

    token: str | None = None

    @classmethod
    def pause(cls) -> None:
        if cls.token is None:
            cls.token = gha.begin_stop_commands(f"nf-log-{uuid.uuid4().hex}")

    @classmethod
    def resume(cls) -> None:
        if cls.token is not None:
            gha.end_stop_commands(cls.token)
            cls.token = None


def debug(message: str) -> None:
    if debug_enabled():
        _StopCommands.resume()
        gha.debug(inert(message))


def _can_write(variable: str) -> bool:
    return bool(os.environ.get(variable))


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
        if _can_write("GITHUB_OUTPUT"):
            gha.set_output("service-id", service.service_id)
            gha.set_output("service-created", "true" if service.created else "false")

    def starting(self, target: BuildTarget, body: StartBuildRequest) -> None:
        self._target = target
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
        if _can_write("GITHUB_OUTPUT"):
            gha.set_output("build-id", build.id)
        if _can_write("GITHUB_STATE"):
            gha.save_state(STATE_BUILD_ID, build.id)
            if self._target is not None:
                gha.save_state(STATE_TARGET, f"{self._target.kind}:{self._target.id}")

    def status(self, build: Build, elapsed: float) -> None:
        self._trouble_streak = 0
        extra = f" ({build.message})" if build.message and build.finished else ""
        say(f"[{elapsed_label(elapsed)}] {build.status or 'UNKNOWN'}{extra}")

    def trouble(self, problem: Exception, elapsed: float) -> None:
        self._trouble_streak += 1
        if self._trouble_streak == 1:
            text = problem.message if isinstance(problem, TransportFailure) else str(problem)
            say(
                f"[{elapsed_label(elapsed)}] Cannot read the build status right now ({text}); still waiting."
            )

    def note(self, message: str) -> None:
        say(message)

    def planned(self, method: str, url: str, body: dict[str, Any]) -> None:
        say(f"Dry run: would send {method} {url} with this body (secrets redacted):")
        for line in json.dumps(body, indent=2).splitlines():
            say("  " + line)

    def following(self, build: Build, source: str) -> None:
        how = f"status and build log ({source})" if source else "status"
        gha.start_group(f"Northflank build {build.id}: {how}")
        self._group_open = True

    def log_lines(self, lines: list[LogLine]) -> None:
        # Log text is untrusted: it is printed only while commands are paused. Masks apply.
        _StopCommands.pause()
        for line in lines:
            for part in _LINE_BREAKS.split(line.text):
                gha.echo(f"  | {part}")

    def followed(self) -> None:
        _StopCommands.resume()
        if self._group_open:
            gha.end_group()
            self._group_open = False


def report_invalid(exc: InvalidInputs) -> None:
    for problem in exc.problems:
        gha.error(f"{problem.name}: {problem.message}", title=f"Invalid input '{problem.name}'")
    say(exc.message)


def finish(report: BuildReport) -> None:
    """Outputs, state, summary and the failure annotation, on every path."""
    _StopCommands.resume()
    if _can_write("GITHUB_OUTPUT"):
        for name, value in outputs(report).items():
            gha.set_output(name, value)
    # Reaching here, the main step has dealt with the build (aborted it, or left it running
    # as asked); only a failed abort is left for the post step to retry.
    if _can_write("GITHUB_STATE") and report.build is not None and report.aborted is not False:
        gha.save_state(STATE_FINISHED, "true")
    if report.failure is not None and report.outcome is not Outcome.INVALID:
        gha.error(report.failure.explain(), title=report.failure.title)
    if _can_write("GITHUB_STEP_SUMMARY"):
        gha.append_job_summary(
            summary(
                report,
                server_url=os.environ.get("GITHUB_SERVER_URL", ""),
                repository=os.environ.get("GITHUB_REPOSITORY", ""),
            )
        )
    result = report.build.status if report.build else report.outcome.value
    say(f"Result: {report.outcome.value} ({result}); exit code {report.outcome.exit_code}.")


def invalid_summary(exc: InvalidInputs) -> str:
    rows = "\n".join(f"| `{p.name}` | {md(p.message)} |" for p in exc.problems)
    return f"### :x: Invalid inputs: nothing was sent\n\n| input | problem |\n|---|---|\n{rows}\n"


def finish_invalid(exc: InvalidInputs) -> None:
    report_invalid(exc)
    if _can_write("GITHUB_OUTPUT"):
        for name, value in outputs(BuildReport(Outcome.INVALID)).items():
            gha.set_output(name, value)
    if _can_write("GITHUB_STEP_SUMMARY"):
        gha.append_job_summary(invalid_summary(exc))
