"""What the CLI prints: progress on stderr with every secret cut out and terminal controls
neutralised, and the end of a run (each failure worded, the outputs as typed JSON or a last
line)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from northflank_build.api.bodies import InternalDeployment
from northflank_build.api.logs import LogLine
from northflank_build.api.routes import BuildTarget
from northflank_build.api.services import EnsuredService
from northflank_build.engine.kind import Kind
from northflank_build.engine.operation import Start
from northflank_build.engine.outcome import Outcome
from northflank_build.engine.outputs import build_values, outputs, story, typed_outputs
from northflank_build.engine.report import StepReport, elapsed_label
from northflank_build.engine.waiting import Snapshot
from northflank_build.wording import CLI, describe

if TYPE_CHECKING:  # models (pydantic) load after the first response, not at start-up
    from northflank_build.api.models import Build

# Text from Northflank must not drive the terminal (escape sequences, carriage returns).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Redactor:
    """Every secret this run knows (the token, secret file contents and the base64 sent)
    is cut out of everything the CLI prints, server messages included."""

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def add(self, secret: str) -> None:
        for part in (secret, *secret.splitlines()):
            value = part.strip()
            if len(value) >= 4 and value not in self._secrets:
                self._secrets.append(value)
        self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _CONTROL.sub("?", text)


redact = Redactor()


def emit(text: str, *, err: bool = True) -> None:
    """One line for the terminal: secrets cut out, controls neutralised, encodable."""
    stream = sys.stderr if err else sys.stdout
    data = redact(text).encode(stream.encoding or "utf-8", errors="replace")
    print(data.decode(stream.encoding or "utf-8", errors="replace"), file=stream, flush=True)


class CliEvents:
    def __init__(self, quiet: bool, several: bool = False) -> None:
        self.quiet = quiet
        self.several = several  # several targets: each line names its target

    def _say(self, text: str) -> None:
        if not self.quiet:
            emit(text)

    def _prefix(self, target: BuildTarget) -> str:
        return f"[{target.id}] " if self.several else ""

    def service(self, service: EnsuredService) -> None:
        self._say(
            f"Build service {service.service_id}: {'created' if service.created else 'exists'}."
        )

    def starting(self, start: Start[Any], at: float) -> None:
        for line in start.announce():
            self._say(line)

    def started(self, start: Start[Any], first: Snapshot, adopted: bool) -> None:
        self._say(start.said_started(first, adopted))

    def reused(self, index: int, target: BuildTarget, build: Build, given: bool) -> None:
        how = "using it" if build.finished else "waiting on it (never aborted: not started here)"
        self._say(f"{self._prefix(target)}Build {build.id} exists ({build.status}): {how}.")

    def note(self, message: str) -> None:
        self._say(message)

    def planned(self, method: str, url: str, body: dict[str, Any]) -> None:
        self._say(f"Dry run: would send {method} {url}\n{json.dumps(body, indent=2)}")

    def watch(self, kind: Kind, name: str, label: str, *, several: bool) -> CliTargetLog:
        return CliTargetLog(self, f"[{name}] " if several else "")

    def deploying(self, service_id: str, internal: InternalDeployment, instances: int) -> None:
        self._say(f"[{service_id}] Deploying build {internal.build_id} to service {service_id}.")

    def pull_request_open(self, number: int) -> bool | None:
        return None  # the CLI does not ask GitHub

    def under_way(self, builds: tuple[tuple[BuildTarget, str], ...]) -> None:
        pass  # the CLI has no pull request to tell


class CliTargetLog:
    """One build's progress on stderr; among several, each line names its target."""

    def __init__(self, events: CliEvents, prefix: str) -> None:
        self._events, self._prefix = events, prefix

    def note(self, message: str) -> None:
        self._events._say(self._prefix + message)

    def status(self, snapshot: Snapshot, elapsed: float) -> None:
        self._events._say(
            f"{self._prefix}[{elapsed_label(elapsed)}] {snapshot.status or 'UNKNOWN'}"
        )

    def trouble(self, problem: Exception, elapsed: float) -> None:
        self._events._say(
            f"{self._prefix}[{elapsed_label(elapsed)}] cannot read the status right now "
            f"({problem}); still waiting"
        )

    def log_group(self, snapshot: Snapshot, source: str) -> None:
        pass

    def log_lines(self, lines: list[LogLine]) -> None:
        for line in lines:
            self._events._say(f"{self._prefix}  | {line.text}")

    def log_group_end(self) -> None:
        pass


def finish(step: StepReport, args: argparse.Namespace, errors: list[str] | None = None) -> int:
    """The end of a run: each failure worded, then the outputs as typed JSON on stdout
    (``--json``, also for invalid input: ``errors`` then says why), or one last line."""
    for failure in step.failures:
        worded = describe(failure, CLI)
        emit(f"error: {worded.title}: {worded.explain()}")
    if args.json:
        extra = {"errors": errors} if errors is not None else {}
        typed = {"outcome": step.outcome.value, **typed_outputs(step), **extra}
        emit(json.dumps(typed, indent=2), err=False)
    elif not args.quiet:
        for build in step.builds if len(step.builds) > 1 else ():
            entry = build_values(build, build.outcome is Outcome.SUCCEEDED)
            label = build.target.label if build.target else ""
            emit(
                f"  {build.outcome.value}: {label} build {entry['build-id'] or '-'} "
                f"{entry['status']} {entry['registry-uri']}".rstrip()
            )
        image = outputs(step)["registry-uri"]
        emit(f"{step.outcome.value}: {story(step)}{f' ({image})' if image else ''}")
    return step.outcome.exit_code
