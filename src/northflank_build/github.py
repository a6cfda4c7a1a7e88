"""The GitHub-facing edge: inputs, masks, log lines, outputs, state, annotations, summary.

Workflow commands are written here, in the form GitHub's own toolkit writes them
(``::add-mask::value``, ``::error title=T::message``; @actions/core's command.ts):
github-action-utils 2.0.0 writes ``::add-mask ::value``, with a space that GitHub's runner
accepts but act, Gitea and Forgejo runners do not, so they print the secret instead.
File commands go through github-action-utils, which writes them with a random heredoc
delimiter (no value can inject another output). Plain log lines pass through ``say``, so
text from Northflank cannot act as a command. Nothing written here may raise: a runner file
that cannot be written is reported as a runner problem, once.
"""

from __future__ import annotations

import json
import os
import re
import sys
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
# A start request whose build is not known: "<kind>:<id>|<epoch seconds>|<sha>".
STATE_START_SENT = "start_sent"
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _write(line: str) -> None:
    """One line to the step log as UTF-8, whatever stdout's encoding; never raises."""
    data = (line + "\n").encode("utf-8", errors="replace")
    try:
        sys.stdout.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is not None:
            buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    except (OSError, ValueError):
        pass  # a closed stdout: nothing else can be told


def command(name: str, message: str = "", **properties: str | None) -> None:
    """A workflow command in the standard form: ``::name k=v,k=v::message``."""
    props = ",".join(
        f"{key}={_escape_property(value)}" for key, value in properties.items() if value
    )
    _write(
        f"::{name} {props}::{_escape_data(message)}"
        if props
        else f"::{name}::{_escape_data(message)}"
    )


def error(message: str, title: str | None = None) -> None:
    command("error", message, title=title)


def warning(message: str, title: str | None = None) -> None:
    command("warning", message, title=title)


class RunnerFiles:
    """The runner's file commands; the first one that cannot be written is remembered."""

    problem: str | None = None

    @classmethod
    def write(cls, variable: str, name: str, value: str) -> None:
        if not os.environ.get(variable):
            return
        value = value.encode("utf-8", errors="replace").decode("utf-8")
        try:
            if variable == "GITHUB_OUTPUT":
                gha.set_output(name, value)
            elif variable == "GITHUB_STATE":
                gha.save_state(name, value)
            else:
                gha.append_job_summary(value)
        except OSError as exc:
            if cls.problem is None:
                cls.problem = (
                    f"The runner's {variable} file ({os.environ.get(variable)}) cannot be "
                    f"written: {exc.strerror or exc}. This is a problem of the runner or the "
                    "job's container, not of Northflank or the inputs."
                )
                error(cls.problem, title="Runner problem")


def set_output(name: str, value: str) -> None:
    RunnerFiles.write("GITHUB_OUTPUT", name, value)


def save_state(name: str, value: str) -> None:
    RunnerFiles.write("GITHUB_STATE", name, value)


def inert(text: str) -> str:
    """One log line that the runner will not read as a workflow command.

    The runner splits on CR and LF and runs a line that starts with ``::`` (after
    whitespace) or contains ``##[`` anywhere.
    """
    line = _LINE_BREAKS.sub(" ", text).replace("##[", "## [")
    return "> " + line if line.lstrip().startswith("::") else line


def say(text: str) -> None:
    _write(inert(text))


def get_input(name: str) -> str | None:
    return gha.get_user_input(name)


def mask(value: str) -> None:
    if value.strip():
        command("add-mask", value)


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
            cls.token = f"nf-log-{uuid.uuid4().hex}"
            command("stop-commands", cls.token)

    @classmethod
    def resume(cls) -> None:
        if cls.token is not None:
            _write(f"::{cls.token}::")
            cls.token = None


def debug(message: str) -> None:
    if debug_enabled():
        _StopCommands.resume()
        command("debug", inert(message))


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
        command("group", f"Northflank build {build.id}: {how}")
        self._group_open = True

    def log_lines(self, lines: list[LogLine]) -> None:
        # Log text is untrusted: it is printed only while commands are paused. Masks apply.
        _StopCommands.pause()
        for line in lines:
            for part in _LINE_BREAKS.split(line.text):
                _write(f"  | {part}")

    def followed(self) -> None:
        _StopCommands.resume()
        if self._group_open:
            command("endgroup")
            self._group_open = False


def report_invalid(exc: InvalidInputs) -> None:
    for problem in exc.problems:
        error(f"{problem.name}: {problem.message}", title=f"Invalid input '{problem.name}'")
    say(exc.message)


def finish(report: BuildReport) -> int:
    """Outputs, state, summary and the failure annotation, on every path; the exit code."""
    _StopCommands.resume()
    for name, value in outputs(report).items():
        set_output(name, value)
    # Reaching here, the main step has dealt with the build (aborted it, or left it running
    # as asked); a failed abort, or a start whose build is unknown, is left to the post step.
    if report.aborted is not False and report.start_unknown_since is None:
        save_state(STATE_FINISHED, "true")
    if report.failure is not None and report.outcome is not Outcome.INVALID:
        error(report.failure.explain(), title=report.failure.title)
    RunnerFiles.write(
        "GITHUB_STEP_SUMMARY",
        "",
        summary(
            report,
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


def invalid_summary(exc: InvalidInputs) -> str:
    rows = "\n".join(f"| `{p.name}` | {md(p.message)} |" for p in exc.problems)
    return f"### :x: Invalid inputs: nothing was sent\n\n| input | problem |\n|---|---|\n{rows}\n"


def finish_invalid(exc: InvalidInputs) -> int:
    report_invalid(exc)
    for name, value in outputs(BuildReport(Outcome.INVALID)).items():
        set_output(name, value)
    RunnerFiles.write("GITHUB_STEP_SUMMARY", "", invalid_summary(exc))
    return Outcome.INVALID.exit_code
