"""The run's events as step-log lines, and the end of the step: outputs, state, the
failure annotation and the job summary, on every path."""

from __future__ import annotations

import json
import os
from collections import deque
from typing import TYPE_CHECKING, Any

from northflank_build.api.bodies import InternalDeployment
from northflank_build.api.errors import NorthflankError
from northflank_build.api.logs import LogLine
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.engine.kind import Kind, Record
from northflank_build.engine.operation import Start
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.outputs import outputs, story
from northflank_build.engine.report import StepReport, elapsed_label
from northflank_build.engine.waiting import Snapshot
from northflank_build.github.commands import (
    LINE_BREAKS,
    RunnerFiles,
    StopCommands,
    command,
    error,
    save_state,
    say,
    set_output,
    write_line,
)
from northflank_build.github.state import STATE_GITHUB, STATE_OPERATIONS, Book, encode
from northflank_build.github.summary import invalid_summary, summary
from northflank_build.inputs.problems import InvalidInputs
from northflank_build.wording import ACTION, describe

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build
    from northflank_build.github.surfaces import Surfaces


class ActionEvents:
    """Run events as step-log lines; an operation's id goes out (and into the state) the
    moment it exists."""

    def __init__(self, targets: int = 1, surfaces: Surfaces | None = None) -> None:
        self._several = targets > 1
        self._book = Book()
        self._surfaces = surfaces  # the pull request's (github/surfaces.py), if asked for

    def pull_request_open(self, number: int) -> bool | None:
        return self._surfaces.pull_open(number) if self._surfaces is not None else None

    def under_way(self, builds: tuple[tuple[BuildTarget, str], ...]) -> None:
        if self._surfaces is not None:
            self._surfaces.begin(tuple((target.kind, target.id, build) for target, build in builds))

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

    def starting(self, start: Start[Any], at: float) -> None:
        # Before the request goes out: if the runner kills this step while it is out, the
        # post step can still find what it made.
        record = Record(
            start.kind.name, start.owner, sent_at=at, sha=start.sha, name=start.run_name
        )
        save_state(STATE_OPERATIONS, self._book.put(start.key, record))
        for line in start.announce():
            say(line)

    def started(self, start: Start[Any], first: Snapshot, adopted: bool) -> None:
        say(start.said_started(first, adopted))
        if start.output:
            set_output(start.output, first.id)
        record = Record(start.kind.name, start.owner, first.id, sha=start.sha, name=start.run_name)
        save_state(STATE_OPERATIONS, self._book.put(start.key, record))

    def reused(self, index: int, target: BuildTarget, build: Build, given: bool) -> None:
        # Not recorded: the post step must never abort a build this step did not start.
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

    def watch(self, kind: Kind, name: str, label: str, *, several: bool) -> OperationLog:
        return OperationLog(name, label, several=several, noun=kind.noun)

    def deploying(self, service_id: str, internal: InternalDeployment, instances: int) -> None:
        say(
            f"[{service_id}] Deploying build {internal.build_id} of service "
            f"{internal.build_service_id!r} ({(internal.build_sha or '')[:12]}) to deployment "
            f"service {service_id!r}; its {instances} instance(s) unchanged."
        )


# With several targets, a build's log lines are held until it concludes (at most this many,
# the last ones): GitHub's log groups cannot interleave, and five builds' lines mixed line by
# line could not be read.
HELD_LINES = 5000


class OperationLog:
    """What the step log shows of one operation while it is followed (a build, a rollout,
    a job run). Alone, its status lines
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

    def status(self, snapshot: Snapshot, elapsed: float) -> None:
        self._trouble_streak = 0
        message = snapshot.message
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

    def log_group(self, snapshot: Snapshot, source: str) -> None:
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


def finish(step: StepReport, surfaces: Surfaces | None = None) -> int:
    """Outputs, state, summary and the failure annotations, on every path; the pull
    request's surfaces (never in the way: github/surfaces.py); the exit code."""
    StopCommands.resume()
    for name, value in outputs(step).items():
        set_output(name, value)
    # Reaching here, the main step has dealt with what it started (aborted it, or left it
    # running as asked); what is left (a failed abort, a start whose result is unknown) is
    # all the post step is told about.
    save_state(STATE_OPERATIONS, encode(step.leftovers))
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
    _end_surfaces(step, surfaces)  # last: GitHub may be slow, everything else is written
    code = step.outcome.exit_code
    if RunnerFiles.problem is not None and code == 0:
        code = Outcome.ERROR.exit_code  # the outputs a later step reads may be missing
    say(f"Result: {step.outcome.value} ({story(step)}); exit code {code}.")
    return code


def _end_surfaces(step: StepReport, surfaces: Surfaces | None) -> None:
    """The pull request's surfaces, their outputs, and what is left for the post step."""
    left = None
    if surfaces is not None:
        try:
            left = surfaces.end(step)
        finally:
            surfaces.api.close()
    if left is not None:
        save_state(STATE_GITHUB, left.encode())
        say("The post step will update the pull request's deployment and comment.")
    elif surfaces is not None and surfaces.deployment_id is not None:
        save_state(STATE_GITHUB, "")  # told: nothing is left for the post step
    deployment = surfaces.deployment_id if surfaces is not None else None
    set_output("github-deployment-id", str(deployment) if deployment is not None else "")
    set_output("comment-url", surfaces.comment_url if surfaces is not None else "")


def finish_invalid(exc: InvalidInputs) -> int:
    report_invalid(exc)
    for name, value in outputs(StepReport(Outcome.INVALID)).items():
        set_output(name, value)
    for name in ("github-deployment-id", "comment-url"):
        set_output(name, "")
    RunnerFiles.write("GITHUB_STEP_SUMMARY", "", invalid_summary(exc))
    return Outcome.INVALID.exit_code
