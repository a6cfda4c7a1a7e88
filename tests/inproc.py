"""The action's entry points run in-process, in virtual time, as the runner would see them.

``run_step`` sets the step's environment (``INPUT_*`` with hyphens kept, the file-command
files), calls ``northflank_build.__main__.main`` (or the post step's) with an
httpx.MockTransport and a virtual clock, captures stdout as bytes, and reads it back through
the runner emulator's command processor and file-command parser: outputs, state, summary,
annotations and the masked log, without starting a process or waiting in real time.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from virtual_clock import EPOCH, VirtualClock

_HANDLERS = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
from northflank_build import __main__ as entry  # noqa: E402 - installs early signal handlers
from northflank_build import post as post_step  # noqa: E402
from northflank_build.github import commands as runner  # noqa: E402

for _signum, _previous in _HANDLERS.items():  # pytest's own, back
    signal.signal(_signum, _previous)
from nfsim import Simulator  # noqa: E402
from nfsim.inprocess import SimTail, SimTransport  # noqa: E402
from northflank_build.api.logs import TailOpener  # noqa: E402
from northflank_build.engine.cancel import CancelScope  # noqa: E402
from runneremu import CommandProcessor, StepResult  # noqa: E402
from runneremu.commands import Annotation  # noqa: E402
from runneremu.runner import Prepared, collect, prepare  # noqa: E402
from testdata import SHA, TOKEN  # noqa: E402

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Step:
    exit_code: int
    outputs: dict[str, str]
    state: dict[str, str]
    summary: str
    raw: bytes
    processor: CommandProcessor
    requests: list[httpx.Request] = field(default_factory=list)

    @property
    def log(self) -> list[str]:
        return self.processor.log

    @property
    def text(self) -> str:
        return "\n".join(self.processor.log)

    @property
    def annotations(self) -> list[Annotation]:
        return self.processor.annotations

    def errors(self) -> list[Annotation]:
        return [a for a in self.annotations if a.kind == "error"]

    def calls(self, method: str, contains: str = "") -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and contains in r.url.path]


def default_inputs(**overrides: str | None) -> dict[str, str]:
    inputs = {
        "api-token": TOKEN,
        "api-url": "https://api.northflank.test",
        "project-id": "demo-project",
        "job-id": "demo-job",
        "sha": SHA,
        "poll-interval-seconds": "1",
        "timeout-seconds": "3600",
    }
    for key, value in overrides.items():
        name = key.replace("_", "-")
        if value is None:
            inputs.pop(name, None)
        else:
            inputs[name] = value
    return inputs


ROOT = Path(__file__).resolve().parent.parent


def call_entry_point(
    prepared: Prepared,
    clock: VirtualClock,
    transport: httpx.BaseTransport,
    *,
    post: bool = False,
    open_tail: TailOpener | None = None,
) -> tuple[int, list[str]]:
    """Call the action's entry point (or the post step's) in this process, in the
    environment the runner emulator composed: the exit code and the lines it printed.
    The cancel handlers are the action's while it runs, pytest's again after."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    clock.cancel.install()
    out = io.BytesIO()
    stdout = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    runner.StopCommands.token = None
    runner.RunnerFiles.problem = None
    with mock.patch.dict(os.environ, prepared.env, clear=True):
        real_stdout = sys.stdout
        sys.stdout = stdout
        try:
            if post:
                code = post_step.main(transport=transport, clock=clock)
            else:
                code = entry.main(
                    transport=transport, clock=clock, cancel=clock.cancel, open_tail=open_tail
                )
        finally:
            sys.stdout = real_stdout
            for signum, previous in handlers.items():
                signal.signal(signum, previous)
    lines = out.getvalue().decode("utf-8", errors="replace").split("\n")
    lines = lines[:-1] if lines and lines[-1] == "" else lines
    for line in lines:
        prepared.processor.feed(line)
    return code, lines


def run_step(
    tmp: Path,
    handler: Handler,
    *,
    inputs: dict[str, str] | None = None,
    clock: VirtualClock | None = None,
    state: dict[str, str] | None = None,
    post: bool = False,
    env: Mapping[str, str] | None = None,
) -> Step:
    """Run the main step (or the post step) in process against ``handler`` (a scriptable
    Northflank) and read back what the runner would. ``env`` replaces any variable of the
    composed environment (e.g. a GITHUB_OUTPUT that cannot be written)."""
    clock = clock or VirtualClock(CancelScope())
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    prepared = prepare(ROOT, inputs or default_inputs(), state=state, workspace=tmp)
    prepared.env.update(env or {})
    code, lines = call_entry_point(prepared, clock, httpx.MockTransport(record), post=post)
    result = collect(prepared, exit_code=code, raw=lines, signals_sent=[], killed=False, duration=0)
    raw = "\n".join(lines).encode("utf-8") + b"\n"
    return Step(code, result.outputs, result.state, result.summary, raw, prepared.processor, seen)


# -- a small scriptable Northflank -------------------------------------------------------


def iso(wall: float) -> str:
    return (
        datetime.fromtimestamp(wall, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    """JSON as a JavaScript server writes it: non-ASCII escaped, lone surrogates allowed."""
    return httpx.Response(
        status,
        content=json.dumps(body).encode("ascii"),
        headers={"content-type": "application/json", **(headers or {})},
    )


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return json_response({"data": data}, status, headers)


class FakeNorthflank:
    """One job's builds, each lasting ``duration`` virtual seconds; hooks per route.

    ``on_start``, ``on_get``, ``on_list``, ``on_logs``, ``on_abort`` may return a response
    (or raise) to replace the normal answer for one request; returning None answers
    normally.
    """

    def __init__(
        self, clock: VirtualClock, duration: float = 30.0, outcome: str = "SUCCESS"
    ) -> None:
        self.clock = clock
        self.duration = duration
        self.outcome = outcome
        self.builds: list[dict[str, Any]] = []
        self.aborted: set[str] = set()
        self.hooks: dict[str, Callable[[httpx.Request], httpx.Response | None]] = {}
        self.log_lines: list[dict[str, Any]] = []

    def view(self, build: dict[str, Any]) -> dict[str, Any]:
        elapsed = self.clock.now - build["_t0"]
        data = {k: v for k, v in build.items() if not k.startswith("_")}
        if build["id"] in self.aborted:
            data.update(status="ABORTED", concluded=True, success=False)
        elif elapsed >= self.duration:
            data.update(
                status=self.outcome,
                concluded=True,
                success=self.outcome == "SUCCESS",
                buildConcludedAt=EPOCH + build["_t0"] + self.duration,
                registry={"uri": f"registry.example/{build['id']}"},
            )
        else:
            data.update(status="BUILDING", concluded=False)
        return data

    def add_build(self, build_id: str, sha: str = SHA, **extra: Any) -> dict[str, Any]:
        build = {
            "id": build_id,
            "sha": sha,
            "branch": "main",
            "createdAt": iso(self.clock.wall()),
            "_t0": self.clock.now,
            **extra,
        }
        self.builds.append(build)
        return build

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        route = self.route(request)
        hook = self.hooks.get(route)
        if hook is not None:
            answer = hook(request)
            if answer is not None:
                return answer
        date = {"date": formatdate(self.clock.wall(), usegmt=True)}
        if route == "start":
            body = json.loads(request.content or b"{}")
            build = self.add_build(f"build-{len(self.builds) + 1}", body.get("sha") or SHA)
            return respond(self.view(build), headers=date)
        if route == "list":
            views = [self.view(b) for b in reversed(self.builds)]
            return json_response({"data": {"builds": views}}, headers=date)
        if route == "logs":
            return json_response({"data": self.log_lines, "pagination": {}})
        build_id = path.rsplit("/", 1)[-1]
        found = [b for b in self.builds if b["id"] == build_id]
        if not found:
            return httpx.Response(404, json={"error": {"status": 404, "message": "not found"}})
        if route == "abort":
            if not self.view(found[0])["concluded"]:
                self.aborted.add(build_id)
            return respond({})
        return respond(self.view(found[0]), headers=date)

    @staticmethod
    def route(request: httpx.Request) -> str:
        path = request.url.path
        if path.endswith("/build-logs"):
            return "logs"
        if path.endswith("/build"):
            return "start" if request.method == "POST" else "list"
        if "/build/" in path:
            return "abort" if request.method == "DELETE" else "get"
        return "other"


# -- the whole action against the simulator, in process and in virtual time ---------------


def run_in_process(
    action_dir: Path,
    with_: Mapping[str, str],
    *,
    sim: Simulator,
    clock: VirtualClock,
    env: Mapping[str, str] | None = None,
    stage: str = "main",
    state: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    event: Mapping[str, Any] | None = None,
    github: Mapping[str, Any] | None = None,
    cancel_after: float | None = None,
    debug: bool = False,
) -> StepResult:
    """What ``runneremu.run_action`` does, with the entry point called in this process: the
    same environment (inputs with action.yml's defaults, the file-command files), the same
    reading back; the simulator reached through its in-process transport and tail, on the
    step's virtual clock. A cancel (``cancel_after``) is SIGINT at that virtual moment."""
    prepared = prepare(
        action_dir, with_, env=env, stage=stage, state=state, workspace=workspace,
        event=event, github=github, debug=debug,
    )  # fmt: skip
    clock.cancel_at = cancel_after
    began = clock.now

    def open_tail(url: str, token: str, timeout: float) -> SimTail:
        return SimTail(sim, url, token, timeout)

    code, raw = call_entry_point(
        prepared, clock, SimTransport(sim), post=stage == "post", open_tail=open_tail
    )
    cancelled = clock.cancel.cancelled
    return collect(
        prepared,
        exit_code=code,
        raw=raw,
        signals_sent=[("SIGINT", cancel_after)] if cancelled and cancel_after is not None else [],
        killed=False,
        duration=clock.now - began,
    )
